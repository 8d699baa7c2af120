"""Live coverage by area and the door-knock lists, scoped to the user and in constant queries."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from linli.areas.models import AreaLevel
from linli.areas.services import create_area
from linli.core.roles import Role
from linli.demo import factories as f
from linli.screening import channels
from linli.screening.models import CampaignTarget
from linli.screening.selectors import coverage as coverage_selectors
from linli.screening.selectors import door_knocks as door_knock_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.tests.builders import add_person, arrivals_for, draft


@pytest.fixture
def campaign(world, town):
    """An arrivals campaign over community A (H5 and phone robot, door-knock) with answers:
    张三丰 (grid 1) high risk, 王小明 (grid 2) reached with no risk, 王小红 (grid 2) no answer;
    赵大爷 (grid 2, no phone) on the door-knock list since launch."""
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, arrivals_for(world), channels=["h5", "phone", "door_knock"]),
        by=world.lead_a,
    )
    h5 = channels.get_channel("h5")
    h5.collect(
        target=CampaignTarget.objects.get(campaign=campaign, person=world.resident_a),
        outcome="answered",
        answers={"arrived_recently": False, "temperature": "38.2"},
    )
    h5.collect(
        target=CampaignTarget.objects.get(campaign=campaign, person=town.floating_head),
        outcome="answered",
        answers={"arrived_recently": False, "symptoms": ["none"], "health_code": "green"},
    )
    channels.get_channel("phone").collect(
        target=CampaignTarget.objects.get(campaign=campaign, person=town.floating_child),
        outcome="no_answer",
    )
    return campaign


def figures(row) -> tuple:
    return (row.targets, row.reached, row.needs_door_knock, row.risk["high"], row.risk["none"])


def test_coverage_per_grid_for_the_community_lead(world, town, campaign):
    """Grid 1: 2 targets, 1 reached (high risk). Grid 2: 4 targets, 1 reached (no risk),
    赵大爷 on the door-knock list."""
    cover = coverage_selectors.coverage(world.lead_a, campaign)
    assert cover.area == world.a.community
    rows = {row.name: row for row in cover.rows}
    assert list(rows) == ["第一网格", "第二网格"]
    assert figures(rows["第一网格"]) == (2, 1, 0, 1, 0)
    assert figures(rows["第二网格"]) == (4, 1, 1, 0, 1)
    assert rows["第一网格"].reached_percent == 50.0
    assert rows["第二网格"].reached_percent == 25.0
    assert rows["第二网格"].unreached == 3
    assert figures(cover.total) == (6, 2, 1, 1, 1)
    assert rows["第二网格"].level == AreaLevel.GRID


def test_coverage_drills_down_to_buildings(world, town, campaign):
    compound = town.building2.parent
    cover = coverage_selectors.coverage(world.lead_a, campaign, compound)
    rows = {row.name: (row.targets, row.reached) for row in cover.rows}
    assert rows == {"2号楼": (3, 1), "3号楼": (1, 0)}


def test_coverage_takes_the_same_queries_however_many_children(
    world, town, campaign, django_assert_num_queries
):
    """Two queries (children, one grouped count) for two grids and for seven."""
    assert world.lead_a.jurisdiction_paths
    with django_assert_num_queries(2):
        coverage_selectors.coverage(world.lead_a, campaign, world.a.community)
    for n in range(5):
        grid = create_area(parent=world.a.community, level=AreaLevel.GRID, name=f"新网格{n}")
        room = create_area(parent=grid, level=AreaLevel.DWELLING, name="101室", floor=1)
        add_person(room, f"新居民{n}", 400 + n, phone=f"1370000010{n}")
    with django_assert_num_queries(2):
        cover = coverage_selectors.coverage(world.lead_a, campaign, world.a.community)
    assert len(cover.rows) == 7
    assert cover.total.targets == 6  # people registered after launch are not targets


def test_a_grid_worker_sees_their_grid_only(world, town, campaign):
    cover = coverage_selectors.coverage(world.grid_a, campaign)
    assert cover.area == world.a.grid
    assert [row.name for row in cover.rows] == ["翠华小区"]
    assert figures(cover.total) == (2, 1, 0, 1, 0)
    with pytest.raises(Http404):
        coverage_selectors.coverage(world.grid_a, campaign, world.a.community)


def test_the_street_officer_sees_the_community_and_community_b_nothing(world, town, campaign):
    cover = coverage_selectors.coverage(world.street_officer, campaign)
    assert cover.area == world.a.community
    assert cover.total.targets == 6
    street = coverage_selectors.coverage(world.street_officer, campaign, world.street)
    assert {row.name: row.targets for row in street.rows} == {"长延堡社区": 6, "大雁塔社区": 0}
    with pytest.raises(Http404):
        coverage_selectors.coverage(world.grid_b, campaign)
    with pytest.raises(PermissionDenied):
        coverage_selectors.coverage(world.volunteer_a, campaign)


def test_progress_over_time_counts_first_reaches(world, town, campaign):
    points = coverage_selectors.progress_over_time(world.lead_a, campaign)
    assert sum(p.reached for p in points) == 2
    assert points[-1].cumulative == 2
    assert [p.reached for p in coverage_selectors.progress_over_time(world.grid_a, campaign)] == [1]


# --- Door-knock lists -------------------------------------------------------------------------


def test_door_knock_list_orders_households_by_building_and_floor(
    world, town, campaign, django_assert_num_queries
):
    """Listing every unreached household of grid 2: in 2号楼 floor 2 (赵大爷) before floor 5
    (王小明's household, the reached 王小明 shown beside 王小红), then 3号楼 (钱阿姨). Names in
    clear for the grid's own worker, phones masked. Three queries whatever the grid's size."""
    grid2_worker = f.make_staff(username="grid_a2", role=Role.GRID_WORKER, areas=[town.grid2])
    assert grid2_worker.jurisdiction_paths
    with django_assert_num_queries(3):
        households = door_knock_selectors.door_knock_list(
            grid2_worker,
            campaign,
            town.grid2,
            statuses=("needs_door_knock", "pending", "no_answer"),
        )
    assert [(h.building, h.floor) for h in households] == [("2号楼", 2), ("2号楼", 5), ("3号楼", 1)]
    first, second, third = households
    assert [m.person.name for m in first.members] == ["赵大爷"]
    assert first.reasons == ["no_phone"]
    assert [m.person.name for m in second.members] == ["王小明", "王小红"]
    assert [m.reached for m in second.members] == [True, False]
    assert second.members[1].person.phone == "137****0002"
    assert "13700000002" not in str(households)
    assert third.members[0].person.name == "钱阿姨"


def test_door_knock_list_by_default_holds_only_households_on_the_list(world, town, campaign):
    households = door_knock_selectors.door_knock_list(world.lead_a, campaign, town.grid2)
    assert [[m.person.name for m in h.members] for h in households] == [["赵大爷"]]
    assert door_knock_selectors.door_knock_list(world.lead_a, campaign, world.a.grid) == []


def test_door_knock_list_is_for_screeners_of_that_grid(world, town, campaign):
    with pytest.raises(PermissionDenied):
        door_knock_selectors.door_knock_list(world.grid_a, campaign, town.grid2)
    with pytest.raises(PermissionDenied):
        door_knock_selectors.door_knock_list(world.street_officer, campaign, town.grid2)
    with pytest.raises(PermissionDenied):
        door_knock_selectors.door_knock_list(world.grid_b, campaign, world.a.grid)
