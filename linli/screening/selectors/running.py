"""Running campaigns as a home page starts the day with them: how far each has got inside the
user's areas, how many households are still to be visited, and, for those who oversee several
areas, the coverage of each child area."""

from dataclasses import dataclass

from django.db.models import Count, Q

from linli.core.actors import Actor
from linli.screening.models import Campaign, CampaignStatus, CampaignTarget, TargetStatus
from linli.screening.roles import SCREENERS
from linli.screening.selectors import campaigns as campaign_selectors
from linli.screening.selectors import coverage as coverage_selectors
from linli.screening.selectors import door_knocks as door_knock_selectors

# A home shows the newest few; the campaign list has the rest.
HOME_CAMPAIGNS = 5


@dataclass(frozen=True)
class RunningCampaign:
    """One running campaign, counted inside the user's areas only."""

    campaign: Campaign
    targets: int
    reached: int
    households_left: int  # households (or people without one) on the door-knock list
    door_knock_area_id: int | None  # where the user's door-knock list opens; None: not theirs
    coverage: coverage_selectors.Coverage | None  # per child area, for those above a grid

    @property
    def reached_percent(self) -> float:
        return round(100 * self.reached / self.targets, 1) if self.targets else 0.0


def running_campaigns(user: Actor, *, with_coverage: bool) -> list[RunningCampaign]:
    """Returns the newest running campaigns over the user's areas with their figures.

    One grouped count for all of them; a screener also gets where their door-knock list
    opens, and `with_coverage` adds each campaign's coverage one level below the user's view
    of it (two queries per campaign, at most HOME_CAMPAIGNS campaigns). Empty for a role that
    does not browse residents.
    """
    campaigns = list(
        campaign_selectors.campaigns_for(user, status=CampaignStatus.RUNNING)[:HOME_CAMPAIGNS]
    )
    if not campaigns:
        return []
    to_visit = Q(status=TargetStatus.NEEDS_DOOR_KNOCK)
    figures = {
        row["campaign"]: row
        for row in CampaignTarget.objects.visible_to(user)
        .filter(campaign__in=campaigns)
        .values("campaign")
        .annotate(
            targets=Count("pk"),
            reached=Count("pk", filter=Q(reached_at__isnull=False)),
            households=Count("household", distinct=True, filter=to_visit),
            loose=Count("pk", filter=to_visit & Q(household__isnull=True)),
        )
        .order_by()
    }
    screens = getattr(user, "role", "") in SCREENERS
    running = []
    for campaign in campaigns:
        row = figures.get(campaign.pk, {})
        areas = door_knock_selectors.door_knock_areas(user, campaign) if screens else []
        running.append(
            RunningCampaign(
                campaign=campaign,
                targets=row.get("targets", 0),
                reached=row.get("reached", 0),
                households_left=row.get("households", 0) + row.get("loose", 0),
                door_knock_area_id=areas[0].pk if areas else None,
                coverage=coverage_selectors.coverage(user, campaign) if with_coverage else None,
            )
        )
    return running
