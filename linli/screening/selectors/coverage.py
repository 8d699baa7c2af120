"""Coverage: how far a campaign has got, area by area and over time, and the lists of the
unreached and the risky below an area."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import (
    Count,
    Prefetch,
    Q,
    QuerySet,
)
from django.db.models.functions import Substr, TruncHour
from django.http import Http404
from django.utils import timezone

from linli.areas.models import PATH_SEGMENT_WIDTH, Area
from linli.core.actors import Actor
from linli.core.jurisdiction import path_within, paths_of
from linli.registry.models import PersonTag
from linli.screening.models import (
    Campaign,
    CampaignTarget,
    TargetStatus,
)
from linli.screening.questionnaires.schema import RISK_ORDER, RiskLevel
from linli.screening.roles import require_browse
from linli.screening.selectors import campaigns as campaign_selectors
from linli.screening.selectors import followups as followup_selectors

# ---------------------------------------------------------------------------------------------
# Coverage


@dataclass
class CoverageRow:
    """One area's figures in a campaign. `risk` counts reached targets by risk level."""

    area_id: int | None
    name: str
    level: str
    path: str
    targets: int = 0
    reached: int = 0
    complete: int = 0
    needs_door_knock: int = 0
    risk: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RISK_ORDER, 0))

    @property
    def unreached(self) -> int:
        return self.targets - self.reached

    @property
    def reached_percent(self) -> float:
        return round(100 * self.reached / self.targets, 1) if self.targets else 0.0

    def add(self, other: "CoverageRow") -> None:
        self.targets += other.targets
        self.reached += other.reached
        self.complete += other.complete
        self.needs_door_knock += other.needs_door_knock
        for level, n in other.risk.items():
            self.risk[level] += n


@dataclass(frozen=True)
class Coverage:
    """A campaign's coverage one level down from `area`: a row per child area and a total."""

    campaign_id: int
    area: Area
    rows: list[CoverageRow]
    total: CoverageRow
    as_of: datetime


def coverage_root(user: Actor, campaign: Campaign) -> Area:
    """Returns the area a user's coverage view starts from: the campaign's area when it lies
    inside the user's jurisdiction (a lead, a street officer), else the user's own area inside
    the campaign (a grid worker looking at a community campaign). Raises Http404."""
    campaign_selectors.require_campaign_visible(user, campaign)
    if path_within(campaign.area_path, user):
        return campaign.area
    inside = sorted(p for p in paths_of(user) if p.startswith(campaign.area_path))
    area = Area.objects.filter(path=inside[0]).first() if inside else None
    if area is None:
        raise Http404("campaign not found")
    return area


def coverage(user: Actor, campaign: Campaign, area: Area | None = None) -> Coverage:
    """Returns the campaign's coverage per child of `area` (by default coverage_root):
    targets, reached, reached %, complete, risk counts and door-knock counts, counting only
    targets inside the user's areas.

    A constant number of queries (the area's children, one grouped count) whatever the
    number of children: all children share one path length, so the counts group on the path
    prefix. Raises Http404 when the area or campaign is not the user's to see.
    """
    require_browse(user)
    if area is None:
        area = coverage_root(user, campaign)
    else:
        campaign_selectors.require_campaign_visible(user, campaign)
        if not path_within(area.path, user):
            raise Http404("area not found")
    children = list(Area.objects.filter(parent=area).order_by("path"))
    rows = {
        child.path: CoverageRow(child.pk, child.name, child.level, child.path) for child in children
    }
    child_length = len(area.path) + PATH_SEGMENT_WIDTH + 1
    grouped = (
        CampaignTarget.objects.visible_to(user)
        .filter(campaign=campaign, area_path__startswith=area.path)
        .annotate(child=Substr("area_path", 1, child_length))
        .values("child", "risk_level")
        .annotate(
            targets=Count("pk"),
            reached=Count("pk", filter=Q(reached_at__isnull=False)),
            complete=Count("pk", filter=Q(complete=True)),
            door=Count("pk", filter=Q(status=TargetStatus.NEEDS_DOOR_KNOCK)),
        )
        .order_by()
    )
    total = CoverageRow(area.pk, area.name, area.level, area.path)
    for group in grouped:
        row = rows.get(group["child"])
        if row is None:  # a target filed on the area itself, not below a child
            row = rows.setdefault(group["child"], CoverageRow(None, area.name, "", group["child"]))
        part = CoverageRow(None, "", "", "")
        part.targets = group["targets"]
        part.reached = group["reached"]
        part.complete = group["complete"]
        part.needs_door_knock = group["door"]
        part.risk[group["risk_level"]] = group["reached"]
        row.add(part)
        total.add(part)
    return Coverage(
        campaign_id=campaign.pk,
        area=area,
        rows=list(rows.values()),
        total=total,
        as_of=timezone.now(),
    )


@dataclass(frozen=True)
class ProgressPoint:
    at: datetime  # start of the hour
    reached: int  # first reached in that hour
    cumulative: int


def progress_over_time(
    user: Actor, campaign: Campaign, area: Area | None = None
) -> list[ProgressPoint]:
    """Returns, hour by hour, how many of the user's targets were first reached, with the
    running total (the coverage chart), in one query."""
    require_browse(user)
    campaign_selectors.require_campaign_visible(user, campaign)
    targets = CampaignTarget.objects.visible_to(user).filter(
        campaign=campaign, reached_at__isnull=False
    )
    if area is not None:
        targets = targets.filter(area_path__startswith=area.path)
    hours = (
        targets.annotate(hour=TruncHour("reached_at", tzinfo=timezone.get_current_timezone()))
        .values("hour")
        .annotate(n=Count("pk"))
        .order_by("hour")
    )
    points, running = [], 0
    for row in hours:
        running += row["n"]
        points.append(ProgressPoint(at=row["hour"], reached=row["n"], cumulative=running))
    return points


# ---------------------------------------------------------------------------------------------
# The coverage dashboard's lists and the results export

# Every status a target not yet reached can have (a person reached who needs help is on the
# door-knock list too, but counts as reached).
NOT_REACHED_STATUSES = tuple(s for s in TargetStatus.values if s != TargetStatus.REACHED)
LISTED_RISKS = (RiskLevel.HIGH, RiskLevel.MEDIUM)


def coverage_area(
    user: Actor, campaign: Campaign, area_id: int | None = None
) -> tuple[Area, list[Area]]:
    """Returns the area a coverage view shows and the trail down to it (the breadcrumb).

    Without `area_id` it is coverage_root. Otherwise the area must lie inside the campaign's
    area and the user's jurisdiction; the trail then starts at the highest area of its path
    that does too, so it only names areas the user may open. Raises Http404.
    """
    require_browse(user)
    root = coverage_root(user, campaign)
    if area_id is None or area_id == root.pk:
        return root, [root]
    area = Area.objects.filter(pk=area_id, path__startswith=campaign.area_path).first()
    if area is None or not path_within(area.path, user):
        raise Http404("area not found")
    step = PATH_SEGMENT_WIDTH + 1
    prefixes = [
        area.path[: step * depth]
        for depth in range(len(campaign.area_path) // step, len(area.path) // step + 1)
    ]
    trail = [
        a
        for a in Area.objects.filter(path__in=prefixes).order_by("path")
        if path_within(a.path, user)
    ]
    return area, trail


def with_people(targets: QuerySet[CampaignTarget]) -> QuerySet[CampaignTarget]:
    return targets.select_related("person").prefetch_related(
        Prefetch("person__tags", queryset=PersonTag.objects.order_by("tag"))
    )


def unreached_targets(
    user: Actor, campaign: Campaign, area: Area | None = None
) -> QuerySet[CampaignTarget]:
    """Returns the user's targets of the campaign nobody has reached yet (below `area`), in
    address order, ready for present_targets. Raises Http404 or PermissionDenied."""
    targets = campaign_selectors.targets_for(
        user, campaign, statuses=NOT_REACHED_STATUSES, area=area
    )
    return with_people(targets.filter(reached_at__isnull=True))


def risky_targets(
    user: Actor,
    campaign: Campaign,
    area: Area | None = None,
    *,
    levels: tuple[str, ...] = LISTED_RISKS,
) -> QuerySet[CampaignTarget]:
    """Returns the user's reached targets whose answers carry a risk of `levels` (below
    `area`), highest risk first, then in address order. Raises Http404 or PermissionDenied."""
    targets = campaign_selectors.targets_for(user, campaign, risk_levels=levels, area=area)
    return with_people(
        targets.filter(reached_at__isnull=False)
        .annotate(risk_rank=followup_selectors.RISK_RANK)
        .order_by("-risk_rank", "area_path", "id")
    )
