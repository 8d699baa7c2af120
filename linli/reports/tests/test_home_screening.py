"""The home's running campaigns count inside the viewer's own areas only."""

from linli.screening.models import CampaignTarget
from linli.screening.selectors import running as running_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.tests.builders import draft


def street_campaign(world):
    """A campaign over the whole street, launched by the street officer."""
    campaign = draft(
        world, area=world.street, by=world.street_officer, channels=["h5", "door_knock"]
    )
    return campaign_services.launch_campaign(campaign=campaign, by=world.street_officer)


def test_each_viewer_counts_only_their_own_targets(world):
    campaign = street_campaign(world)
    for user, community in ((world.grid_b, world.b), (world.lead_a, world.a)):
        [running] = running_selectors.running_campaigns(user, with_coverage=False)
        inside = CampaignTarget.objects.filter(
            campaign=campaign, area_path__startswith=community.community.path
        )
        assert running.targets == inside.count() > 0
        assert running.door_knock_area_id is not None


def test_street_officer_sees_coverage_per_community_and_walks_no_doors(world):
    campaign = street_campaign(world)
    [running] = running_selectors.running_campaigns(world.street_officer, with_coverage=True)
    assert running.campaign == campaign
    assert running.door_knock_area_id is None
    rows = {row.name: row.targets for row in running.coverage.rows}
    for community in (world.a.community, world.b.community):
        expected = CampaignTarget.objects.filter(
            campaign=campaign, area_path__startswith=community.path
        ).count()
        assert rows[community.name] == expected


def test_the_home_page_shows_it_only_to_those_inside(world, client_for):
    street_campaign(world)
    body = client_for(world.grid_a).get("/").content.decode()
    assert 'data-testid="running-door-knock"' in body
    body = client_for(world.volunteer_a).get("/").content.decode()
    assert 'data-testid="running-campaigns"' not in body
