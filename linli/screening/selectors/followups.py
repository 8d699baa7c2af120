"""Follow-up tasks: the worker's list, one task, counts, and the flags on a person's file."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Case,
    IntegerField,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import Http404

from linli.core.actors import Actor
from linli.core.clock import local_today
from linli.core.masking import HIDDEN_TEXT
from linli.core.roles import Visibility, policy_for
from linli.core.sensitivity import Sensitivity
from linli.registry.models import Person, PersonTag
from linli.registry.selectors import ChoiceLabels, PersonRow, present_person
from linli.screening.models import (
    Campaign,
    FollowUpTask,
    TaskStatus,
)
from linli.screening.questionnaires.schema import RISK_ORDER, FollowUp, RiskLevel
from linli.screening.roles import require_browse
from linli.screening.selectors import campaigns as campaign_selectors

# ---------------------------------------------------------------------------------------------
# Follow-up tasks and the flags on people's files

# Highest risk first: the level codes do not sort by severity as text.
RISK_RANK = Case(
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


@dataclass(frozen=True)
class TaskCard:
    """One person's follow-ups on the worker's list: one card per person however many
    actions a risky answer raised (a door visit and a health monitoring proposal are one
    stairwell trip). The card is anchored on its first task's id (`#task-<id>`)."""

    anchor_id: int
    person: PersonRow
    person_id: int
    tasks: list[TaskRow]

    @property
    def first(self) -> TaskRow:
        return self.tasks[0]

    @property
    def open_tasks(self) -> list[TaskRow]:
        return [task for task in self.tasks if task.is_open]

    @property
    def reasons(self) -> list[str]:
        """Every task's reasons once each, in the order they were given."""
        return list(dict.fromkeys(reason for task in self.tasks for reason in task.reasons))

    @property
    def campaigns(self) -> list[tuple[int, str]]:
        """The campaigns that raised the card's tasks, once each."""
        return list(dict.fromkeys((task.campaign_id, task.campaign_name) for task in self.tasks))

    @property
    def created_at(self) -> datetime:
        return min(task.created_at for task in self.tasks)


def cards_by_person(rows: Iterable[TaskRow]) -> list[TaskCard]:
    """Returns the rows grouped into one card per person, in the order of each person's first
    (riskiest) task, the tasks of a card in the rows' order."""
    grouped: dict[int, list[TaskRow]] = {}
    for row in rows:
        grouped.setdefault(row.person_id, []).append(row)
    return [
        TaskCard(anchor_id=tasks[0].id, person=tasks[0].person, person_id=person_id, tasks=tasks)
        for person_id, tasks in grouped.items()
    ]


def tasks_for(
    user: Actor,
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
    require_browse(user)
    tasks = FollowUpTask.objects.visible_to(user)
    if status:
        tasks = tasks.filter(status=status)
    if kind:
        tasks = tasks.filter(kind=kind)
    if campaign is not None:
        campaign_selectors.require_campaign_visible(user, campaign)
        tasks = tasks.filter(campaign=campaign)
    return (
        tasks.select_related("person", "campaign", "done_by")
        .prefetch_related(Prefetch("person__tags", queryset=PersonTag.objects.order_by("tag")))
        .annotate(risk_rank=RISK_RANK)
        .order_by("-risk_rank", "-created_at", "person_id", "-id")
    )


def task_for(user: Actor, task_id: int) -> FollowUpTask:
    """Returns a follow-up task inside the user's areas. Raises Http404 or PermissionDenied."""
    task = tasks_for(user, status="").filter(pk=task_id).first()
    if task is None:
        raise Http404("task not found")
    return task


def task_campaigns(user: Actor) -> QuerySet[Campaign]:
    """Returns the campaigns that raised a follow-up task the user sees (the list's filter)."""
    require_browse(user)
    with_tasks = FollowUpTask.objects.visible_to(user).values("campaign_id")
    return campaign_selectors.campaigns_for(user).filter(pk__in=with_tasks)


def open_task_count(user: Actor) -> int:
    """Returns how many open follow-up tasks lie in the user's areas (0 for roles that do not
    see residents), for the home page."""
    if not policy_for(user).may_browse_people:
        return 0
    return FollowUpTask.objects.visible_to(user).filter(status=TaskStatus.OPEN).count()


def present_tasks(user: Actor, tasks: Iterable[FollowUpTask]) -> list[TaskRow]:
    """Returns the tasks as the user may see them: the person masked by role, and the kind,
    risk, reasons and note (health data) only for roles that see sensitive data in clear."""
    policy = policy_for(user)
    sensitive = policy.visibility(Sensitivity.SENSITIVE) == Visibility.CLEAR
    today = local_today()
    labels = ChoiceLabels.current()
    kinds, levels, statuses = (
        dict(FollowUp.choices),
        dict(RiskLevel.choices),
        dict(TaskStatus.choices),
    )
    rows = []
    for task in tasks:
        done_by = task.done_by.get_username() if task.done_by else ""
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


def card_for(user: Actor, task: FollowUpTask, closing: Iterable[int]) -> TaskCard:
    """Returns the card of the task's person, still anchored on that task, after a close
    from it: the person's open tasks and the tasks just closed (shown closed), highest risk
    first. Raises PermissionDenied for roles that do not see residents."""
    tasks = tasks_for(user, status="").filter(person_id=task.person_id)
    tasks = tasks.filter(Q(status=TaskStatus.OPEN) | Q(pk__in=[task.pk, *closing]))
    rows = present_tasks(user, tasks)
    return TaskCard(anchor_id=task.pk, person=rows[0].person, person_id=task.person_id, tasks=rows)


def open_flags_for(user: Actor, person: Person) -> list[TaskRow]:
    """Returns the person's open follow-up tasks (the risk flags on their file), highest risk
    first, including those raised on a duplicate file since merged into this one."""
    tasks = tasks_for(user).filter(Q(person=person) | Q(person__merged_into=person))
    return present_tasks(user, tasks)
