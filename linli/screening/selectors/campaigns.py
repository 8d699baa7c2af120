"""Reads of screening. Every function takes the acting user and scopes through visible_to.

Campaigns and questionnaires are visible to users working inside their area or above it
(models.AreaWideQuerySet); targets, answers and attempts only inside the user's own areas,
so a grid worker sees their grid's part of a community campaign and nothing else.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from django.core.exceptions import PermissionDenied
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    IntegerField,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Substr, TruncHour
from django.http import Http404
from django.utils import timezone

from linli.areas.models import LEVEL_ORDER, PATH_SEGMENT_WIDTH, Area, AreaLevel
from linli.core.jurisdiction import path_within, paths_of
from linli.core.masking import HIDDEN_TEXT, MASK, mask_address, present
from linli.core.permissions import require
from linli.core.roles import RolePolicy, Visibility, policy_for
from linli.core.sensitivity import Sensitivity
from linli.registry.models import Person, PersonTag, Relation
from linli.registry.selectors import ChoiceLabels, PersonRow, current_people, present_person
from linli.screening import channels as channel_registry
from linli.screening.models import (
    Campaign,
    CampaignTarget,
    ChannelCode,
    ContactAttempt,
    DoorKnockReason,
    FollowUpTask,
    Questionnaire,
    QuestionnaireVersion,
    TargetStatus,
    TaskStatus,
)
from linli.screening.questionnaires import RISK_ORDER, FollowUp, RiskLevel
from linli.screening.services import CAMPAIGN_MANAGERS, SCREENERS
from linli.screening.targeting import TargetFilters, matching_people, without_smartphone


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
    ever_listed: bool = False,
) -> list[DoorKnockHousehold]:
    """Returns the households of a grid (or any area) with a target on the door-knock list,
    ordered building by building and floor by floor, each with its members in the campaign
    (head first) masked for the user. Three queries whatever the grid's size.

    `ever_listed` also takes the households whose targets were put on a list once and have
    left it since (visited and reached, or refused at the door): the worker's "done" view.

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
    if ever_listed:
        on_list = targets.filter(Q(status__in=statuses) | Q(escalated_at__isnull=False))
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


# ---------------------------------------------------------------------------------------------
# Set-up pages: the questionnaire list and the campaign form


@dataclass(frozen=True)
class QuestionnaireSummary:
    """A questionnaire as the list shows it: its newest version and the campaigns run with any
    of its versions (newest first)."""

    questionnaire: Questionnaire
    latest: QuestionnaireVersion | None
    campaigns: list[Campaign]

    @property
    def frozen(self) -> bool:
        return self.latest is not None and self.latest.is_frozen


def questionnaire_summaries(user) -> list[QuestionnaireSummary]:
    """Returns the user's questionnaires with their newest version and the campaigns using
    them, in three queries whatever their number."""
    questionnaires = list(questionnaires_for(user))
    ids = [q.pk for q in questionnaires]
    latest: dict[int, QuestionnaireVersion] = {}
    versions = (
        QuestionnaireVersion.objects.filter(questionnaire_id__in=ids)
        .defer("definition")
        .order_by("questionnaire_id", "-number")
    )
    for version in versions:
        latest.setdefault(version.questionnaire_id, version)
    using: dict[int, list[Campaign]] = {}
    for campaign in campaigns_for(user).filter(questionnaire_version__questionnaire_id__in=ids):
        using.setdefault(campaign.questionnaire_version.questionnaire_id, []).append(campaign)
    return [QuestionnaireSummary(q, latest.get(q.pk), using.get(q.pk, [])) for q in questionnaires]


def campaigns_using(user, questionnaire: Questionnaire) -> QuerySet[Campaign]:
    """Returns the campaigns the user sees that run any version of the questionnaire."""
    return campaigns_for(user).filter(questionnaire_version__questionnaire=questionnaire)


# A campaign covers a whole subtree: down to one grid, never a single building (a building's
# residents are reached through its grid's campaign and the door-knock list).
CAMPAIGN_AREA_LEVELS = tuple(LEVEL_ORDER[: LEVEL_ORDER.index(AreaLevel.GRID) + 1])


def campaign_areas(user) -> QuerySet[Area]:
    """Returns the areas a campaign manager may run a campaign over: their own areas and the
    ones below them down to grids, in tree order. Raises PermissionDenied for other roles."""
    require(user, roles=CAMPAIGN_MANAGERS)
    return Area.objects.visible_to(user).filter(level__in=CAMPAIGN_AREA_LEVELS).order_by("path")


@dataclass(frozen=True)
class ReachPreview:
    """Whom a campaign would reach (TargetPreview's counts) and how many of them cannot be
    reached remotely: `no_phone` have no phone at all, `no_smartphone` have a phone but cannot
    open an H5 link, and `door_knock` no remote channel chosen reaches, so they go straight to
    the door-knock lists at launch (None when no channel was chosen yet)."""

    people: int
    households: int
    no_phone: int
    no_smartphone: int
    door_knock: int | None


def preview_reach(
    user,
    *,
    area: Area,
    filters: TargetFilters | dict | None,
    channels: list[str] | tuple[str, ...] = (),
) -> ReachPreview:
    """Counts whom a campaign over `area` with these filters and channels would reach, as
    launch_campaign would choose them (one per household in household mode: the head when the
    head matches, otherwise the member registered first).

    Raises PermissionDenied outside the user's role or jurisdiction; ValidationError for bad
    filters; LookupError for an unknown channel.
    """
    require(user, roles=CAMPAIGN_MANAGERS, paths=[area.path])
    if not isinstance(filters, TargetFilters):
        filters = TargetFilters.from_json(filters)
    people = matching_people(current_people(user), area, filters)
    no_phone = Q(phone_hash="")
    no_smartphone = ~Q(phone_hash="") & without_smartphone()
    reach = channel_registry.remote_reach(list(channels)) if channels else None
    # Nobody is remote-reachable when every chosen channel needs a worker at the door.
    to_door = ~reach if reach is not None else Q(pk__isnull=False)
    if not filters.per_household:
        counts = people.aggregate(
            people=Count("id"),
            households=Count("household_id", distinct=True),
            no_phone=Count("id", filter=no_phone),
            no_smartphone=Count("id", filter=no_smartphone),
            door_knock=Count("id", filter=to_door),
        )
        return ReachPreview(
            people=counts["people"],
            households=counts["households"],
            no_phone=counts["no_phone"],
            no_smartphone=counts["no_smartphone"],
            door_knock=counts["door_knock"] if channels else None,
        )
    flags = {
        name: ExpressionWrapper(condition, output_field=BooleanField())
        for name, condition in (("f_no_phone", no_phone), ("f_no_smart", no_smartphone))
    }
    flags["f_door"] = ExpressionWrapper(to_door, output_field=BooleanField())
    rows = (
        people.annotate(**flags)
        .order_by("id")
        .values_list("id", "household_id", "household__head_id", *flags)
    )
    chosen: dict[int, tuple] = {}
    alone: list[tuple] = []
    for pid, hid, head, *marks in rows.iterator(chunk_size=2000):
        if hid is None:
            alone.append(marks)
        elif hid not in chosen or pid == head:
            chosen[hid] = marks
    picked = [*chosen.values(), *alone]
    return ReachPreview(
        people=len(picked),
        households=len(chosen),
        no_phone=sum(1 for m in picked if m[0]),
        no_smartphone=sum(1 for m in picked if m[1]),
        door_knock=sum(1 for m in picked if m[2]) if channels else None,
    )


# ---------------------------------------------------------------------------------------------
# Follow-up tasks and the flags on people's files

# Highest risk first: the level codes do not sort by severity as text.
_RISK_RANK = Case(
    *[When(risk_level=level, then=Value(rank)) for rank, level in enumerate(RISK_ORDER)],
    default=Value(0),
    output_field=IntegerField(),
)


@dataclass(frozen=True)
class TaskRow:
    """A follow-up task as the acting user may see it, with its person masked by role."""

    id: int
    person: PersonRow
    person_id: int
    kind: str
    kind_label: str
    risk_level: str
    risk_label: str
    reasons: list[str]
    status: str
    status_label: str
    campaign_id: int
    campaign_name: str
    created_at: datetime
    updated_at: datetime
    note: str
    done_at: datetime | None
    done_by: str

    @property
    def is_open(self) -> bool:
        return self.status == TaskStatus.OPEN


def tasks_for(
    user,
    *,
    status: str = TaskStatus.OPEN,
    kind: str = "",
    campaign: Campaign | None = None,
) -> QuerySet[FollowUpTask]:
    """Returns the follow-up tasks inside the user's areas (a grid worker: their grid's; a
    lead or an official: everything below them), highest risk first and newest first within
    a risk level, with person (and tags), campaign and closer loaded. An empty status or kind
    means any.

    Raises PermissionDenied for roles that do not see residents; Http404 for a campaign the
    user cannot see.
    """
    _require_browse(user)
    tasks = FollowUpTask.objects.visible_to(user)
    if status:
        tasks = tasks.filter(status=status)
    if kind:
        tasks = tasks.filter(kind=kind)
    if campaign is not None:
        _require_campaign_visible(user, campaign)
        tasks = tasks.filter(campaign=campaign)
    return (
        tasks.select_related("person", "campaign", "done_by")
        .prefetch_related(Prefetch("person__tags", queryset=PersonTag.objects.order_by("tag")))
        .annotate(risk_rank=_RISK_RANK)
        .order_by("-risk_rank", "-created_at", "-id")
    )


def task_for(user, task_id: int) -> FollowUpTask:
    """Returns a follow-up task inside the user's areas. Raises Http404 or PermissionDenied."""
    task = tasks_for(user, status="").filter(pk=task_id).first()
    if task is None:
        raise Http404("task not found")
    return task


def task_campaigns(user) -> QuerySet[Campaign]:
    """Returns the campaigns that raised a follow-up task the user sees (the list's filter)."""
    _require_browse(user)
    with_tasks = FollowUpTask.objects.visible_to(user).values("campaign_id")
    return campaigns_for(user).filter(pk__in=with_tasks)


def open_task_count(user) -> int:
    """Returns how many open follow-up tasks lie in the user's areas (0 for roles that do not
    see residents), for the home page."""
    if not policy_for(user).may_browse_people:
        return 0
    return FollowUpTask.objects.visible_to(user).filter(status=TaskStatus.OPEN).count()


def present_tasks(user, tasks) -> list[TaskRow]:
    """Returns the tasks as the user may see them: the person masked by role, and the kind,
    risk, reasons and note (health data) only for roles that see sensitive data in clear."""
    policy = policy_for(user)
    sensitive = policy.visibility(Sensitivity.SENSITIVE) == Visibility.CLEAR
    today = date.today()
    labels = ChoiceLabels.current()
    kinds, levels, statuses = (
        dict(FollowUp.choices),
        dict(RiskLevel.choices),
        dict(TaskStatus.choices),
    )
    rows = []
    for task in tasks:
        done_by = task.done_by.get_username() if task.done_by_id else ""
        rows.append(
            TaskRow(
                id=task.pk,
                person=present_person(task.person, policy, today=today, labels=labels),
                person_id=task.person_id,
                kind=task.kind if sensitive else "",
                kind_label=str(kinds.get(task.kind, task.kind)) if sensitive else HIDDEN_TEXT,
                risk_level=task.risk_level if sensitive else "",
                risk_label=(
                    str(levels.get(task.risk_level, task.risk_level)) if sensitive else HIDDEN_TEXT
                ),
                reasons=list(task.reasons) if sensitive else [],
                status=task.status,
                status_label=str(statuses.get(task.status, task.status)),
                campaign_id=task.campaign_id,
                campaign_name=task.campaign.name,
                created_at=task.created_at,
                updated_at=task.updated_at,
                note=task.note if sensitive else "",
                done_at=task.done_at,
                done_by=done_by,
            )
        )
    return rows


def open_flags_for(user, person: Person) -> list[TaskRow]:
    """Returns the person's open follow-up tasks (the risk flags on their file), highest risk
    first, including those raised on a duplicate file since merged into this one."""
    tasks = tasks_for(user).filter(Q(person=person) | Q(person__merged_into=person))
    return present_tasks(user, tasks)


def door_knock_areas(user, campaign: Campaign) -> list[Area]:
    """Returns the areas whose door-knock list a screener may open in a campaign, in path
    order: their own areas inside the campaign (the campaign's area for a user above it), then
    the grids below those, so a community lead can narrow the community down to one grid.
    Empty for a user with no area in the campaign.

    Raises PermissionDenied for a role that does not screen; Http404 for a campaign the user
    cannot see.
    """
    require(user, roles=SCREENERS)
    _require_campaign_visible(user, campaign)
    roots = set()
    for prefix in paths_of(user):
        if prefix.startswith(campaign.area_path):
            roots.add(prefix)
        elif campaign.area_path.startswith(prefix):
            roots.add(campaign.area_path)
    # A user assigned both a community and one of its grids walks the community's list.
    roots = {p for p in roots if not any(p != q and p.startswith(q) for q in roots)}
    if not roots:
        return []
    condition = Q(path__in=roots)
    for prefix in roots:
        condition |= Q(path__startswith=prefix, level=AreaLevel.GRID)
    return list(Area.objects.filter(condition).order_by("path"))


def last_door_knocks(user, target_ids: list[int]) -> dict[int, ContactAttempt]:
    """Returns the latest door-knock attempt on each of the targets that have one (the list
    shows "not at home at 14:02"), in one query; only attempts inside the user's areas."""
    _require_browse(user)
    latest: dict[int, ContactAttempt] = {}
    attempts = (
        ContactAttempt.objects.visible_to(user)
        .filter(target_id__in=target_ids, channel=ChannelCode.DOOR_KNOCK)
        .only("id", "target_id", "outcome", "finished_at", "by_proxy")
        .order_by("target_id", "-finished_at", "-id")
    )
    for attempt in attempts:
        latest.setdefault(attempt.target_id, attempt)
    return latest


# ---------------------------------------------------------------------------------------------
# The coverage dashboard's lists and the results export

# Every status a target not yet reached can have (a person reached who needs help is on the
# door-knock list too, but counts as reached).
NOT_REACHED_STATUSES = tuple(s for s in TargetStatus.values if s != TargetStatus.REACHED)
LISTED_RISKS = (RiskLevel.HIGH, RiskLevel.MEDIUM)
# The columns of the export's area path, top down.
RESULT_LEVELS = (
    AreaLevel.COMMUNITY,
    AreaLevel.GRID,
    AreaLevel.COMPOUND,
    AreaLevel.BUILDING,
    AreaLevel.UNIT,
    AreaLevel.DWELLING,
)
# Unit and room numbers locate a family: personal data, masked like an address.
_PERSONAL_LEVELS = {AreaLevel.UNIT, AreaLevel.DWELLING}


def coverage_area(user, campaign: Campaign, area_id: int | None = None) -> tuple[Area, list[Area]]:
    """Returns the area a coverage view shows and the trail down to it (the breadcrumb).

    Without `area_id` it is coverage_root. Otherwise the area must lie inside the campaign's
    area and the user's jurisdiction; the trail then starts at the highest area of its path
    that does too, so it only names areas the user may open. Raises Http404.
    """
    _require_browse(user)
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


def _with_people(targets: QuerySet[CampaignTarget]) -> QuerySet[CampaignTarget]:
    return targets.select_related("person").prefetch_related(
        Prefetch("person__tags", queryset=PersonTag.objects.order_by("tag"))
    )


def unreached_targets(
    user, campaign: Campaign, area: Area | None = None
) -> QuerySet[CampaignTarget]:
    """Returns the user's targets of the campaign nobody has reached yet (below `area`), in
    address order, ready for present_targets. Raises Http404 or PermissionDenied."""
    targets = targets_for(user, campaign, statuses=NOT_REACHED_STATUSES, area=area)
    return _with_people(targets.filter(reached_at__isnull=True))


def risky_targets(
    user, campaign: Campaign, area: Area | None = None, *, levels: tuple[str, ...] = LISTED_RISKS
) -> QuerySet[CampaignTarget]:
    """Returns the user's reached targets whose answers carry a risk of `levels` (below
    `area`), highest risk first, then in address order. Raises Http404 or PermissionDenied."""
    targets = targets_for(user, campaign, risk_levels=levels, area=area)
    return _with_people(
        targets.filter(reached_at__isnull=False)
        .annotate(risk_rank=_RISK_RANK)
        .order_by("-risk_rank", "area_path", "id")
    )


@dataclass(frozen=True)
class TargetRow:
    """A campaign target as the acting user may see it: the person masked by role; risk,
    reasons and follow-ups (health data) only for roles that see sensitive data in clear."""

    id: int
    person: PersonRow
    status: str
    status_label: str
    risk_level: str
    risk_label: str
    risk_reasons: list[str]
    follow_ups: list[str]  # labels
    complete: bool
    attempt_count: int
    last_attempt_at: datetime | None
    reached_at: datetime | None
    answered_via: str  # label
    answered_by_proxy: bool
    door_knock_reason: str  # label


class _TargetPresenter:
    """Presents targets one by one with the labels translated once."""

    def __init__(self, user):
        self.policy = policy_for(user)
        self.sensitive = self.policy.visibility(Sensitivity.SENSITIVE) == Visibility.CLEAR
        self.today = date.today()
        self.labels = ChoiceLabels.current()
        self.statuses = {k: str(v) for k, v in TargetStatus.choices}
        self.risks = {k: str(v) for k, v in RiskLevel.choices}
        self.follow_ups = {k: str(v) for k, v in FollowUp.choices}
        self.channels = {k: str(v) for k, v in ChannelCode.choices}
        self.reasons = {k: str(v) for k, v in DoorKnockReason.choices}

    def row(self, target: CampaignTarget) -> TargetRow:
        sensitive = self.sensitive
        return TargetRow(
            id=target.pk,
            person=present_person(target.person, self.policy, today=self.today, labels=self.labels),
            status=target.status,
            status_label=self.statuses.get(target.status, target.status),
            risk_level=target.risk_level if sensitive else "",
            risk_label=self.risks.get(target.risk_level, "") if sensitive else HIDDEN_TEXT,
            risk_reasons=list(target.risk_reasons) if sensitive else [],
            follow_ups=[self.follow_ups.get(f, f) for f in target.follow_ups] if sensitive else [],
            complete=target.complete,
            attempt_count=target.attempt_count,
            last_attempt_at=target.last_attempt_at,
            reached_at=target.reached_at,
            answered_via=self.channels.get(target.answered_via, ""),
            answered_by_proxy=target.answered_by_proxy,
            door_knock_reason=self.reasons.get(target.door_knock_reason, ""),
        )


def present_targets(user, targets: Iterable[CampaignTarget]) -> list[TargetRow]:
    """Returns the targets (person and tags loaded: unreached_targets, risky_targets) as the
    user may see them."""
    presenter = _TargetPresenter(user)
    return [presenter.row(target) for target in targets]


@dataclass(frozen=True)
class ResultRow:
    """One target of the results export: its area names by RESULT_LEVELS (unit and dwelling
    masked like an address for roles that see personal data masked), the target as
    present_targets shows it, and its raw answers ({} for roles that may not see them)."""

    areas: tuple[str, ...]
    target: TargetRow
    answers: dict[str, object]


@dataclass(frozen=True)
class CampaignResults:
    """A campaign's results below `area` for one user: `count` rows, produced lazily by
    `rows` (one pass, a constant number of queries per 2,000 rows)."""

    campaign: Campaign
    version: QuestionnaireVersion
    area: Area
    count: int
    rows: Iterator[ResultRow]
    answers_visible: bool


def campaign_results(user, campaign: Campaign, area: Area | None = None) -> CampaignResults:
    """Returns the campaign's results inside the user's areas (below `area`, by default the
    user's coverage root) for an export, one row per target in address order.

    Raises PermissionDenied for roles that do not see residents; Http404 for a campaign or
    area the user cannot see.
    """
    area = area or coverage_root(user, campaign)
    targets = targets_for(user, campaign, area=area)
    presenter = _TargetPresenter(user)
    names = _area_names(area, presenter.policy)

    def rows() -> Iterator[ResultRow]:
        for target in _with_people(targets).iterator(chunk_size=2000):
            yield ResultRow(
                areas=names(target.area_path),
                target=presenter.row(target),
                answers=dict(target.answers) if presenter.sensitive else {},
            )

    version = QuestionnaireVersion.objects.select_related("questionnaire").get(
        pk=campaign.questionnaire_version_id
    )
    return CampaignResults(
        campaign=campaign,
        version=version,
        area=area,
        count=targets.count(),
        rows=rows(),
        answers_visible=presenter.sensitive,
    )


def _area_names(top: Area, policy: RolePolicy):
    """Returns a function giving the RESULT_LEVELS names along an area path below (or at)
    `top`. Loads the areas above `top` and its subtree once; each path is resolved once."""
    step = PATH_SEGMENT_WIDTH + 1
    above = [top.path[: step * i] for i in range(1, len(top.path) // step)]
    by_path = {
        path: (level, name)
        for path, level, name in Area.objects.filter(
            Q(path__startswith=top.path) | Q(path__in=above), level__in=RESULT_LEVELS
        ).values_list("path", "level", "name")
    }
    masked = policy.visibility(Sensitivity.PERSONAL) != Visibility.CLEAR
    resolved: dict[str, tuple[str, ...]] = {}

    def names(path: str) -> tuple[str, ...]:
        if path not in resolved:
            found = dict.fromkeys(RESULT_LEVELS, "")
            for depth in range(1, len(path) // step + 1):
                level, name = by_path.get(path[: step * depth], ("", ""))
                if level:
                    found[level] = name
            if masked:
                for level in _PERSONAL_LEVELS:
                    found[level] = present(
                        found[level],
                        sensitivity=Sensitivity.PERSONAL,
                        policy=policy,
                        mask=lambda value: MASK * 4 if value else "",
                    )
            resolved[path] = tuple(found.values())
        return resolved[path]

    return names


def door_knock_household(user, campaign: Campaign, target: CampaignTarget) -> DoorKnockHousehold:
    """Returns the household of one target as a door-knock list shows it (every member the
    campaign targets at that address, masked), whether or not it is on a list now: the page of
    one member's form. Raises Http404 or PermissionDenied like door_knock_list."""
    area = Area.objects.filter(path=target.area_path).first()
    if area is None or target.campaign_id != campaign.pk:
        raise Http404("target not found")
    households = door_knock_list(user, campaign, area, statuses=tuple(TargetStatus.values))
    household = next(
        (h for h in households if any(m.target_id == target.pk for m in h.members)), None
    )
    if household is None:
        raise Http404("target not found")
    # The list was read below the building, so the building is looked up above the dwelling.
    step = PATH_SEGMENT_WIDTH + 1
    building = Area.objects.filter(
        level=AreaLevel.BUILDING,
        path__in=[area.path[: step * i] for i in range(1, len(area.path) // step + 1)],
    ).first()
    if building is not None:
        household = replace(household, building=building.name, building_path=building.path)
    return household
