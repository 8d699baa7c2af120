"""Reads of the work-order engine, always given the acting user.

Who sees an order: it must lie in the user's areas (JurisdictionQuerySet), and then either
the user's role browses residents (grid workers, leads, officials, stewards) or the order is
theirs to do (a volunteer sees the orders assigned to them and those of their area's queue,
nothing else). The person is masked by role (linli.registry.selectors.present_person); the
order's text and note, which may be health data, are shown to roles that see sensitive data
and to the assignee, who needs them to do the work.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, DateTimeField, Exists, F, OuterRef, Q, QuerySet, When
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from linli.accounts.models import User
from linli.core import clock
from linli.core.actors import Actor
from linli.core.jurisdiction import Viewer
from linli.core.masking import HIDDEN_TEXT
from linli.core.roles import Visibility, policy_for
from linli.core.sensitivity import Sensitivity
from linli.registry.selectors import PersonRow, present_person
from linli.workorders.kinds import kind_label
from linli.workorders.models import (
    AWAITING_ACCEPT,
    OPEN_STATES,
    EscalationNotice,
    LadderRung,
    Notification,
    Priority,
    RaisedVia,
    WorkOrder,
    WorkOrderAction,
    WorkOrderState,
    WorkOrderTransition,
)
from linli.workorders.roles import MANAGERS, WORKERS, is_manager_of, may_work_in

# The deadline that matters now: accepting while nobody has taken it, then finishing.
DEADLINE = Case(
    When(state__in=AWAITING_ACCEPT, then=F("accept_by")),
    default=F("done_by"),
    output_field=DateTimeField(),
)


def may_use_work_orders(user: Viewer) -> bool:
    """Returns whether the user has work-order pages at all (the navigation's predicate)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return getattr(user, "role", "") in {*WORKERS, *MANAGERS}


def _visible(user: Actor) -> QuerySet[WorkOrder]:
    orders = WorkOrder.objects.visible_to(user)
    if policy_for(user).may_browse_people or getattr(user, "is_superuser", False):
        return orders
    # Workers who do not browse residents (volunteers): their own orders and the queue.
    return orders.filter(
        Q(assignee_id=user.pk) | Q(assignee__isnull=True, state__in=AWAITING_ACCEPT)
    )


def _listed(orders: QuerySet[WorkOrder]) -> QuerySet[WorkOrder]:
    return (
        orders.select_related("person", "area", "assignee", "queue_area")
        .prefetch_related("person__tags")
        .annotate(deadline=DEADLINE)
        .order_by("deadline", "id")
    )


def my_orders(user: Actor) -> QuerySet[WorkOrder]:
    """Returns the open orders assigned to the user, nearest deadline first."""
    return _listed(_visible(user).filter(assignee_id=user.pk, state__in=OPEN_STATES))


def queue_orders(user: Actor) -> QuerySet[WorkOrder]:
    """Returns the open orders of the user's areas nobody has taken yet (not dispatched, or
    dispatched to an area's queue), nearest deadline first."""
    return _listed(_visible(user).filter(assignee__isnull=True, state__in=AWAITING_ACCEPT))


def escalated_to(user: Actor) -> QuerySet[WorkOrder]:
    """Returns the orders whose ladder notified the user in its current cycle and that
    nobody has acknowledged or accepted yet, nearest deadline first."""
    mine = Notification.objects.filter(
        user_id=user.pk, order_id=OuterRef("pk"), notice__cycle=OuterRef("cycle")
    )
    return _listed(
        WorkOrder.objects.visible_to(user).filter(
            Exists(mine), state__in=OPEN_STATES, acknowledged_at__isnull=True
        )
    )


def orders_for(user: Actor, *, state: str = "") -> QuerySet[WorkOrder]:
    """Returns every order the user may see (the API's list, the export), in any state or
    in `state`, nearest deadline first."""
    orders = _visible(user)
    if state:
        orders = orders.filter(state=state)
    return _listed(orders)


REFERENCE_TAKEN = gettext_lazy(
    "This external reference is already used by a work order outside your jurisdiction."
)


def order_by_reference(user: Actor, *, source: str, reference: str) -> WorkOrder | None:
    """Returns the order raised with this external reference, if any (a raise repeated by
    the upper system). Raises PermissionDenied when one exists that the user may not see:
    it is not returned, and no second order may take its reference."""
    found = WorkOrder.objects.filter(external_source=source, external_reference=reference).first()
    if found is None:
        return None
    if not _visible(user).filter(pk=found.pk).exists():
        raise PermissionDenied(REFERENCE_TAKEN)
    return order_for(user, found.pk)


def order_for(user: Actor, order_id: int) -> WorkOrder:
    """Returns an order the user may see. Raises Http404 otherwise (also for an order of
    another area: its existence is not revealed)."""
    order = (
        _visible(user)
        .select_related("person", "area", "assignee", "queue_area", "raised_by", "acknowledged_by")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        # Someone the ladder notified may open the order they must acknowledge.
        order = escalated_to(user).filter(pk=order_id).first()
    if order is None:
        raise Http404("work order not found")
    return order


@dataclass(frozen=True)
class OrderRow:
    """An order as the acting user may see it."""

    id: int
    kind: str
    priority: str
    priority_label: str
    priority_reason: str
    state: str
    state_label: str
    person: PersonRow | None
    area_name: str
    contact_name: str
    text: str
    done_note: str
    assignee: str
    queue: str
    accept_by: datetime
    done_by: datetime
    deadline: datetime
    overdue: bool
    acknowledged: bool
    raised_via: str
    created_at: datetime
    kind_code: str = ""
    category: str = ""  # sensitive (a need's category): "" for roles that do not see it
    area_id: int | None = None
    external_source: str = ""
    external_reference: str = ""
    merged_into: int | None = None

    @property
    def urgent(self) -> bool:
        return self.priority == Priority.P0


def _sees_sensitive(user: Actor, order: WorkOrder) -> bool:
    clear = policy_for(user).visibility(Sensitivity.SENSITIVE) == Visibility.CLEAR
    return clear or order.assignee_id == user.pk


def present_orders(user: Actor, orders: list[WorkOrder] | QuerySet[WorkOrder]) -> list[OrderRow]:
    """Returns the orders masked for the user (see the module docstring)."""
    policy = policy_for(user)
    now = clock.now()
    states, priorities, vias = (
        dict(WorkOrderState.choices),
        dict(Priority.choices),
        dict(RaisedVia.choices),
    )
    rows = []
    for order in orders:
        sensitive = _sees_sensitive(user, order)
        deadline = getattr(order, "deadline", None) or (
            order.accept_by if order.state in AWAITING_ACCEPT else order.done_by
        )
        rows.append(
            OrderRow(
                id=order.pk,
                kind=kind_label(order.kind),
                priority=order.priority,
                priority_label=str(priorities.get(order.priority, order.priority)),
                priority_reason=order.priority_reason if sensitive else "",
                state=order.state,
                state_label=str(states.get(order.state, order.state)),
                person=present_person(order.person, policy) if order.person else None,
                area_name=order.area.name,
                contact_name=order.contact_name
                if policy.visibility(Sensitivity.PERSONAL) == Visibility.CLEAR
                or order.assignee_id == user.pk
                else HIDDEN_TEXT,
                text=order.text if sensitive else HIDDEN_TEXT,
                done_note=order.done_note if sensitive else "",
                assignee=str(order.assignee) if order.assignee else "",
                queue=order.queue_area.name if order.queue_area else "",
                accept_by=order.accept_by,
                done_by=order.done_by,
                deadline=deadline,
                overdue=order.state in OPEN_STATES and deadline < now,
                acknowledged=order.acknowledged_at is not None,
                raised_via=str(vias.get(order.raised_via, order.raised_via)),
                created_at=order.created_at,
                kind_code=order.kind,
                category=order.category if sensitive else "",
                area_id=order.area_id,
                external_source=order.external_source,
                external_reference=order.external_reference,
                merged_into=order.merged_into_id,
            )
        )
    return rows


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str  # a transition's action label, or "escalation"
    by: str
    via: str
    note: str
    detail: str  # from → to, the assignee, or whom a notice reached


def timeline(user: Actor, order: WorkOrder) -> list[TimelineEntry]:
    """Returns every transition and escalation notice of the order, oldest first (three
    queries whatever their number)."""
    from linli.audit.actions import action_label

    sensitive = _sees_sensitive(user, order)
    states, vias, rungs = (
        dict(WorkOrderState.choices),
        dict(RaisedVia.choices),
        dict(LadderRung.choices),
    )
    entries = []
    for row in WorkOrderTransition.objects.filter(order=order).select_related(
        "by", "assignee", "queue_area"
    ):
        if row.action == WorkOrderAction.RAISE or row.from_state == row.to_state:
            moved = str(states.get(row.to_state, "")) if row.action == WorkOrderAction.RAISE else ""
        else:
            moved = f"{states.get(row.from_state, '')} → {states.get(row.to_state, '')}"
        if row.action == WorkOrderAction.DISPATCH:
            moved += f" · {row.assignee or (row.queue_area.name if row.queue_area else '')}"
        entries.append(
            TimelineEntry(
                at=row.at,
                what=action_label(row.action),
                by=str(row.by) if row.by else "",
                via=str(vias.get(row.via, row.via)),
                note=row.note if sensitive else "",
                detail=moved,
            )
        )
    notices = list(EscalationNotice.objects.filter(order=order).order_by("sent_at", "id"))
    ids = {uid for notice in notices for uid in notice.recipients}
    names = {user.pk: str(user) for user in User.objects.filter(pk__in=ids)}
    for notice in notices:
        people = "、".join(names.get(uid, "") for uid in notice.recipients)
        what = _("Notified") if not notice.repeat else _("Reminded again")
        entries.append(
            TimelineEntry(
                at=notice.sent_at,
                what=str(what),
                by="",
                via="",
                note="",
                detail=f"{rungs.get(notice.rung, notice.rung)} · {people or '—'}",
            )
        )
    return sorted(entries, key=lambda entry: entry.at)


@dataclass(frozen=True)
class Actions:
    """What the user may do with an order now (the buttons of its page)."""

    accept: bool
    start: bool
    done: bool
    acknowledge: bool


def actions_for(user: Actor, order: WorkOrder) -> Actions:
    mine = order.assignee_id == user.pk
    takeable = mine or (
        order.assignee_id is None
        and may_work_in(user, order.queue_area.path if order.queue_area else order.area_path)
    )
    notified = escalated_to(user).filter(pk=order.pk).exists()
    return Actions(
        accept=order.state in AWAITING_ACCEPT and takeable,
        start=order.state == WorkOrderState.ACCEPTED and mine,
        done=order.state in (WorkOrderState.ACCEPTED, WorkOrderState.IN_PROGRESS) and mine,
        acknowledge=order.state in OPEN_STATES
        and order.acknowledged_at is None
        and order.next_escalation_at is not None
        and order.escalation_started_at is not None
        and order.escalation_started_at <= clock.now()
        and (notified or is_manager_of(user, order.area_path))
        and not mine,
    )


def duplicates_of(user: Actor, order: WorkOrder) -> list[WorkOrder]:
    """Returns the orders merged into this one (their contacts are shown with it)."""
    return list(_visible(user).filter(merged_into=order).order_by("created_at"))


# ---------------------------------------------------------------------------------------------
# The bell


def unread_count(user: Viewer) -> int:
    """Returns the user's unread notifications (0 for an anonymous visitor)."""
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(user_id=user.pk, read_at__isnull=True).count()


def notifications_for(user: Actor) -> QuerySet[Notification]:
    """Returns the user's notifications, newest first, with their order and notice."""
    return Notification.objects.filter(user_id=user.pk).select_related(
        "order", "order__area", "notice"
    )


# ---------------------------------------------------------------------------------------------
# The home page's "today"

TODAY_FILTERS = ("overdue", "hour", "escalated", "new")
P0_SHOWN = 20


@dataclass(frozen=True)
class TodayCounts:
    overdue: int
    hour: int
    escalated: int
    new: int


def _today_conditions(user: Actor, now: datetime) -> dict[str, Q]:
    """Returns, per home figure, the condition an open order meets to be counted in it (the
    list behind the figure filters with the same condition, so both always agree)."""
    mine = Q(assignee_id=user.pk)
    if policy_for(user).may_browse_people or getattr(user, "is_superuser", False):
        owned = Q()  # a lead's or official's overdue orders are everyone's in their areas
    else:
        owned = mine  # a volunteer answers for their own orders only
    return {
        "overdue": owned & Q(deadline__lt=now),
        "hour": owned & Q(deadline__gte=now, deadline__lt=now + timedelta(hours=1)),
        "escalated": Q(notified=True, acknowledged_at__isnull=True),
        "new": Q(assignee__isnull=True, state__in=AWAITING_ACCEPT),
    }


def _today_base(user: Actor) -> QuerySet[WorkOrder]:
    notified = Notification.objects.filter(
        user_id=user.pk, order_id=OuterRef("pk"), notice__cycle=OuterRef("cycle")
    )
    visible = _visible(user).values("pk")
    # Orders escalated to the user may lie outside what they browse (a street officer's ladder
    # step reaches them anyway), hence visible_to plus "visible or notified".
    return (
        WorkOrder.objects.visible_to(user)
        .filter(state__in=OPEN_STATES)
        .annotate(deadline=DEADLINE, notified=Exists(notified))
        .filter(Q(pk__in=visible) | Q(notified=True))
    )


def today_counts(user: Actor) -> TodayCounts:
    """Returns the home's four figures for the user (one query): open orders past their
    deadline, due within the hour, escalated to the user and not acknowledged, and new in the
    user's areas (nobody has taken them)."""
    if not may_use_work_orders(user):
        return TodayCounts(0, 0, 0, 0)
    conditions = _today_conditions(user, clock.now())
    figures = _today_base(user).aggregate(
        **{name: Count("pk", filter=condition) for name, condition in conditions.items()}
    )
    return TodayCounts(**{name: figures[name] or 0 for name in TODAY_FILTERS})


def today_orders(user: Actor, due: str) -> QuerySet[WorkOrder]:
    """Returns the orders behind one of the home's figures (`due` in TODAY_FILTERS), nearest
    deadline first."""
    condition = _today_conditions(user, clock.now())[due]
    return (
        _today_base(user)
        .filter(condition)
        .select_related("person", "area", "assignee", "queue_area")
        .prefetch_related("person__tags")
        .order_by("deadline", "id")
    )


def p0_queue(user: Actor) -> list[OrderRow]:
    """Returns the open P0 orders of a community lead's or an official's areas, nearest
    deadline first, masked for them (empty for other roles)."""
    if getattr(user, "role", "") not in MANAGERS and not getattr(user, "is_superuser", False):
        return []
    orders = _listed(_visible(user).filter(state__in=OPEN_STATES, priority=Priority.P0))
    return present_orders(user, orders[:P0_SHOWN])
