"""Reads of screening. Every function takes the acting user and scopes through visible_to.

Campaigns and questionnaires are visible to users working inside their area or above it
(models.AreaWideQuerySet); targets, answers and attempts only inside the user's own areas,
so a grid worker sees their grid's part of a community campaign and nothing else.
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Substr, TruncHour
from django.http import Http404
from django.utils import timezone

from linli.areas.models import PATH_SEGMENT_WIDTH, Area, AreaLevel
from linli.core.jurisdiction import path_within, paths_of
from linli.core.masking import mask_address, present
from linli.core.permissions import require
from linli.core.roles import RolePolicy, policy_for
from linli.core.sensitivity import Sensitivity
from linli.registry.models import Person, PersonTag, Relation
from linli.registry.selectors import ChoiceLabels, PersonRow, current_people, present_person
from linli.screening.models import (
    Campaign,
    CampaignTarget,
    ContactAttempt,
    Questionnaire,
    QuestionnaireVersion,
    TargetStatus,
)
from linli.screening.questionnaires import RISK_ORDER
from linli.screening.services import CAMPAIGN_MANAGERS, SCREENERS
from linli.screening.targeting import TargetFilters, matching_people


def _require_browse(user) -> RolePolicy:
    policy = policy_for(user)
    if not policy.may_browse_people:
        raise PermissionDenied("this role does not see screening / 该角色无权查看排查")
    return policy


# ---------------------------------------------------------------------------------------------
# Questionnaires and campaigns


def questionnaires_for(user) -> QuerySet[Questionnaire]:
    """Returns the questionnaires of the user's areas and of the areas above them."""
    _require_browse(user)
    return Questionnaire.objects.visible_to(user).select_related("area").order_by("-updated_at")


def questionnaire_for(user, questionnaire_id: int) -> Questionnaire:
    """Returns the questionnaire if visible to the user. Raises Http404 or PermissionDenied."""
    questionnaire = questionnaires_for(user).filter(pk=questionnaire_id).first()
    if questionnaire is None:
        raise Http404("questionnaire not found")
    return questionnaire


def latest_version(questionnaire: Questionnaire) -> QuestionnaireVersion:
    """Returns the newest version (every questionnaire has version 1 from its creation)."""
    return questionnaire.versions.order_by("-number").first()


def versions_of(user, questionnaire: Questionnaire) -> QuerySet[QuestionnaireVersion]:
    _require_browse(user)
    return QuestionnaireVersion.objects.visible_to(user).filter(questionnaire=questionnaire)


def campaigns_for(user, *, status: str = "") -> QuerySet[Campaign]:
    """Returns the campaigns over the user's areas or over an area above them, newest first."""
    _require_browse(user)
    campaigns = Campaign.objects.visible_to(user).select_related(
        "area", "questionnaire_version__questionnaire"
    )
    if status:
        campaigns = campaigns.filter(status=status)
    return campaigns.order_by("-created_at", "-id")


def campaign_for(user, campaign_id: int) -> Campaign:
    """Returns the campaign if visible to the user. Raises Http404 or PermissionDenied."""
    campaign = campaigns_for(user).filter(pk=campaign_id).first()
    if campaign is None:
        raise Http404("campaign not found")
    return campaign


def _require_campaign_visible(user, campaign: Campaign) -> None:
    """A campaign passed in must overlap the user's areas (inside or above them)."""
    if getattr(user, "is_superuser", False):
        return
    if not any(
        campaign.area_path.startswith(p) or p.startswith(campaign.area_path) for p in paths_of(user)
    ):
        raise Http404("campaign not found")


# ---------------------------------------------------------------------------------------------
# Targets


@dataclass(frozen=True)
class TargetPreview:
    """How many targets a campaign would get: people (one per household in household mode)
    and the households they live in."""

    people: int
    households: int


def preview_targets(user, *, area: Area, filters: TargetFilters | dict | None) -> TargetPreview:
    """Counts whom a campaign over `area` with these filters would reach, in one query.

    Raises PermissionDenied outside the user's role or jurisdiction; ValidationError for bad
    filters.
    """
    require(user, roles=CAMPAIGN_MANAGERS, paths=[area.path])
    if not isinstance(filters, TargetFilters):
        filters = TargetFilters.from_json(filters)
    counts = matching_people(current_people(user), area, filters).aggregate(
        people=Count("id"),
        households=Count("household_id", distinct=True),
        alone=Count("id", filter=Q(household__isnull=True)),
    )
    people = counts["households"] + counts["alone"] if filters.per_household else counts["people"]
    return TargetPreview(people=people, households=counts["households"])


def targets_for(
    user,
    campaign: Campaign,
    *,
    statuses: tuple[str, ...] = (),
    risk_levels: tuple[str, ...] = (),
    area: Area | None = None,
) -> QuerySet[CampaignTarget]:
    """Returns the campaign's targets inside the user's areas (optionally one status, risk
    level or subtree), in address order, with person and household loaded."""
    _require_browse(user)
    _require_campaign_visible(user, campaign)
    targets = CampaignTarget.objects.visible_to(user).filter(campaign=campaign)
    if statuses:
        targets = targets.filter(status__in=statuses)
    if risk_levels:
        targets = targets.filter(risk_level__in=risk_levels)
    if area is not None:
        targets = targets.filter(area_path__startswith=area.path)
    return targets.select_related("person", "household").order_by("area_path", "id")


def target_for(user, target_id: int) -> CampaignTarget:
    """Returns a target inside the user's areas with its campaign, version and person.
    Raises Http404 or PermissionDenied."""
    _require_browse(user)
    target = (
        CampaignTarget.objects.visible_to(user)
        .filter(pk=target_id)
        .select_related("campaign__questionnaire_version", "person", "household")
        .first()
    )
    if target is None:
        raise Http404("target not found")
    return target


def attempts_of(user, target: CampaignTarget) -> QuerySet[ContactAttempt]:
    """Returns the attempts on a target, newest first (the provenance of its answers)."""
    _require_browse(user)
    return (
        ContactAttempt.objects.visible_to(user)
        .filter(target=target)
        .select_related("by")
        .order_by("-finished_at", "-id")
    )


def person_screenings(user, person: Person) -> QuerySet[CampaignTarget]:
    """Returns a person's screening status in every campaign, newest first (for their file)."""
    _require_browse(user)
    return (
        CampaignTarget.objects.visible_to(user)
        .filter(person=person)
        .select_related("campaign")
        .order_by("-created_at", "-id")
    )


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


def coverage_root(user, campaign: Campaign) -> Area:
    """Returns the area a user's coverage view starts from: the campaign's area when it lies
    inside the user's jurisdiction (a lead, a street officer), else the user's own area inside
    the campaign (a grid worker looking at a community campaign). Raises Http404."""
    _require_campaign_visible(user, campaign)
    if path_within(campaign.area_path, user):
        return campaign.area
    inside = sorted(p for p in paths_of(user) if p.startswith(campaign.area_path))
    area = Area.objects.filter(path=inside[0]).first() if inside else None
    if area is None:
        raise Http404("campaign not found")
    return area


def coverage(user, campaign: Campaign, area: Area | None = None) -> Coverage:
    """Returns the campaign's coverage per child of `area` (by default coverage_root):
    targets, reached, reached %, complete, risk counts and door-knock counts, counting only
    targets inside the user's areas.

    A constant number of queries (the area's children, one grouped count) whatever the
    number of children: all children share one path length, so the counts group on the path
    prefix. Raises Http404 when the area or campaign is not the user's to see.
    """
    _require_browse(user)
    if area is None:
        area = coverage_root(user, campaign)
    else:
        _require_campaign_visible(user, campaign)
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


def progress_over_time(user, campaign: Campaign, area: Area | None = None) -> list[ProgressPoint]:
    """Returns, hour by hour, how many of the user's targets were first reached, with the
    running total (the coverage chart), in one query."""
    _require_browse(user)
    _require_campaign_visible(user, campaign)
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
# Door-knock lists


@dataclass(frozen=True)
class DoorKnockMember:
    """A household member in the campaign, as the worker may see them."""

    target_id: int
    person: PersonRow
    status: str
    door_knock_reason: str
    risk_level: str
    attempt_count: int
    reached: bool
    complete: bool


@dataclass(frozen=True)
class DoorKnockHousehold:
    """A household to knock at, with every member the campaign targets (those already
    reached too, so the worker sees who is done)."""

    household_id: int | None
    address: str
    building: str
    building_path: str
    floor: int | None
    dwelling_path: str
    members: list[DoorKnockMember]

    @property
    def reasons(self) -> list[str]:
        return sorted({m.door_knock_reason for m in self.members if m.door_knock_reason})


def door_knock_list(
    user,
    campaign: Campaign,
    grid: Area,
    *,
    statuses: tuple[str, ...] = (TargetStatus.NEEDS_DOOR_KNOCK,),
) -> list[DoorKnockHousehold]:
    """Returns the households of a grid (or any area) with a target on the door-knock list,
    ordered building by building and floor by floor, each with its members in the campaign
    (head first) masked for the user. Three queries whatever the grid's size.

    Raises PermissionDenied unless the user screens (grid worker, community lead) and the grid
    lies inside their areas; Http404 for a campaign they cannot see.
    """
    require(user, roles=SCREENERS, paths=[grid.path])
    _require_campaign_visible(user, campaign)
    policy = policy_for(user)
    targets = CampaignTarget.objects.visible_to(user).filter(
        campaign=campaign, area_path__startswith=grid.path
    )
    on_list = targets.filter(status__in=statuses)
    members = (
        targets.filter(
            Q(household_id__in=on_list.exclude(household__isnull=True).values("household_id"))
            | Q(pk__in=on_list.filter(household__isnull=True).values("pk"))
        )
        .select_related("person", "household__dwelling", "person__dwelling")
        .prefetch_related(Prefetch("person__tags", queryset=PersonTag.objects.order_by("tag")))
        .order_by("id")
    )
    buildings = {
        b.path: b for b in Area.objects.filter(level=AreaLevel.BUILDING, path__startswith=grid.path)
    }
    labels = ChoiceLabels.current()
    today = date.today()
    groups: dict[tuple, list[CampaignTarget]] = {}
    for target in members:
        key = ("h", target.household_id) if target.household_id else ("p", target.person_id)
        groups.setdefault(key, []).append(target)
    households = []
    for group in groups.values():
        first = group[0]
        dwelling = first.household.dwelling if first.household_id else first.person.dwelling
        dwelling_path = dwelling.path if dwelling else first.area_path
        building = next(
            (b for path, b in buildings.items() if dwelling_path.startswith(path)), None
        )
        source = first.household if first.household_id else first.person
        address = present(
            f"{source.address_building}{source.address_dwelling}",
            sensitivity=Sensitivity.PERSONAL,
            policy=policy,
            mask=lambda _, s=source: mask_address(s.address_building, s.address_dwelling),
        )
        group.sort(key=lambda t: (t.person.relation_to_head != Relation.HEAD, t.person_id))
        households.append(
            DoorKnockHousehold(
                household_id=first.household_id,
                address=address,
                building=building.name if building else "",
                building_path=building.path if building else "",
                floor=dwelling.floor if dwelling else None,
                dwelling_path=dwelling_path,
                members=[
                    DoorKnockMember(
                        target_id=t.pk,
                        person=present_person(t.person, policy, today=today, labels=labels),
                        status=t.status,
                        door_knock_reason=t.door_knock_reason,
                        risk_level=t.risk_level,
                        attempt_count=t.attempt_count,
                        reached=t.reached_at is not None,
                        complete=t.complete,
                    )
                    for t in group
                ],
            )
        )
    # Floors without a number (bungalows, unparsed rooms) go last in their building.
    households.sort(
        key=lambda h: (
            h.building_path,
            h.floor is None,
            h.floor or 0,
            h.dwelling_path,
            h.household_id or 0,
        )
    )
    return households
