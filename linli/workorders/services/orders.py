"""Raising work orders and every change of their state, through one transition table.

Each verb (dispatch, accept, start, done, confirm, reopen, cancel, merge) names the state it
leads to, the states it may start from, and the audit action it records (TRANSITIONS). One
helper applies them all: it locks the order, refuses a state the table does not allow, writes
the change as a conditional UPDATE (of two people accepting at once, exactly one changes the
row), and records the WorkOrderTransition row (who, when, through what, from → to) and the
audit event in the same transaction. A refusal is recorded too, after the transaction, so the
log shows who lost a race.

Escalation bookkeeping happens here too: raising, dispatching and reopening start a cycle of
the ladder (services.escalation sends it); accepting, acknowledging and every closing state
stop it. The service-level clock (accept_by, done_by) is never stopped by an acknowledgement.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from linli.accounts.models import User
from linli.areas.models import Area
from linli.audit.services import record_event
from linli.core import clock
from linli.core.actors import Actor, AuditContext
from linli.core.errors import BilingualError
from linli.core.permissions import require
from linli.registry.models import Household, Person
from linli.workorders.kinds import get_kind
from linli.workorders.models import (
    AWAITING_ACCEPT,
    OPEN_STATES,
    EscalationNotice,
    Priority,
    RaisedVia,
    WorkOrder,
    WorkOrderAction,
    WorkOrderState,
    WorkOrderTransition,
)
from linli.workorders.roles import RAISERS, is_manager_of, may_work_in
from linli.workorders.services.service_levels import level_for

S = WorkOrderState
TEXT_MAX_LENGTH = 2000
NOTE_MAX_LENGTH = 500
REASON_MAX_LENGTH = 200


@dataclass(frozen=True)
class Transition:
    to: str
    allowed_from: frozenset[str]
    action: str


TRANSITIONS: dict[str, Transition] = {
    # A reassignment is a dispatch from a later state: the order waits for its new assignee.
    "dispatch": Transition(
        S.DISPATCHED,
        frozenset({S.NEW, S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS}),
        WorkOrderAction.DISPATCH,
    ),
    # From NEW too: a grid worker takes an order of their area's queue before anyone
    # dispatched it.
    "accept": Transition(S.ACCEPTED, frozenset({S.NEW, S.DISPATCHED}), WorkOrderAction.ACCEPT),
    "start": Transition(S.IN_PROGRESS, frozenset({S.ACCEPTED}), WorkOrderAction.START),
    "done": Transition(S.DONE, frozenset({S.ACCEPTED, S.IN_PROGRESS}), WorkOrderAction.DONE),
    "confirm": Transition(S.CONFIRMED, frozenset({S.DONE}), WorkOrderAction.CONFIRM),
    "reopen": Transition(S.DISPATCHED, frozenset({S.DONE}), WorkOrderAction.REOPEN),
    "cancel": Transition(S.CANCELLED, frozenset(OPEN_STATES), WorkOrderAction.CANCEL),
    "merge": Transition(S.MERGED, frozenset(OPEN_STATES), WorkOrderAction.MERGE),
}

ALREADY_TAKEN = gettext_lazy("Someone else has already taken this work order.")
NOT_ESCALATED = gettext_lazy("Nothing is being escalated on this work order now.")
WRONG_STATE = gettext_lazy("This work order is %(state)s: it cannot be changed that way now.")


def _label(state: str) -> str:
    return str(WorkOrderState(state).label) if state in WorkOrderState.values else state


def _refusal(verb: str, order: WorkOrder) -> BilingualError:
    if verb == "accept" and order.state in (S.ACCEPTED, S.IN_PROGRESS, S.DONE, S.CONFIRMED):
        return BilingualError("already_taken", ALREADY_TAKEN)
    return BilingualError("wrong_state", WRONG_STATE, {"state": _label(order.state)})


def _audit(
    action: str,
    order: WorkOrder,
    by: Actor | None,
    context: AuditContext | None,
    detail: dict,
) -> None:
    record_event(action=action, actor=by, context=context, subject=order, detail=detail)


def _log(
    order: WorkOrder,
    *,
    action: str,
    from_state: str,
    by: Actor | None,
    via: str,
    now: datetime,
    note: str = "",
) -> None:
    WorkOrderTransition.objects.create(
        order=order,
        area_path=order.area_path,
        action=action,
        from_state=from_state,
        to_state=order.state,
        by_id=by.pk if by is not None and by.is_authenticated else None,
        via=via,
        at=now,
        note=note[:NOTE_MAX_LENGTH],
        assignee_id=order.assignee_id,
        queue_area_id=order.queue_area_id,
    )


def _start_cycle(order: WorkOrder, now: datetime) -> list[str]:
    """Starts a new cycle of the escalation ladder from `now` (a raise, a dispatch, a
    reopening); an accepted order's cycle starts at its done deadline instead, so the ladder
    climbs again (督办) only if it is not done by then."""
    order.cycle += 1
    order.escalation_plan = level_for(order.area_path, order.priority).plan()
    order.escalation_started_at = now
    order.next_escalation_at = now
    order.acknowledged_at = None
    order.acknowledged_by = None
    return [
        "cycle",
        "escalation_plan",
        "escalation_started_at",
        "next_escalation_at",
        "acknowledged_at",
        "acknowledged_by",
    ]


def _stop_ladder(order: WorkOrder) -> list[str]:
    order.next_escalation_at = None
    return ["next_escalation_at"]


def _apply(
    verb: str,
    *,
    order: WorkOrder,
    by: Actor | None,
    via: str,
    now: datetime | None,
    context: AuditContext | None,
    authorise: Callable[[WorkOrder], None],
    change: Callable[[WorkOrder, datetime], list[str]],
    note: str = "",
    detail: dict | None = None,
) -> WorkOrder:
    """Moves the order along TRANSITIONS[verb]: see the module docstring.

    `authorise(locked)` raises PermissionDenied for a user who may not; `change(locked, now)`
    sets the fields the verb changes besides the state and returns their names."""
    transition = TRANSITIONS[verb]
    now = now or clock.now()
    with transaction.atomic():
        locked = WorkOrder.objects.select_for_update().get(pk=order.pk)
        authorise(locked)
        from_state = locked.state
        refused = from_state not in transition.allowed_from
        if not refused:
            fields = change(locked, now)
            locked.state = transition.to
            locked.updated_at = now
            if transition.to not in OPEN_STATES:
                fields += _stop_ladder(locked)
            if transition.to not in OPEN_STATES and transition.to != S.DONE:
                locked.closed_at = now
                fields.append("closed_at")
            fields = list(dict.fromkeys([*fields, "state", "updated_at"]))
            # Conditional on the state read: whoever changed it first wins even where the
            # database cannot lock the row (SQLite).
            values = {name: getattr(locked, name) for name in _columns(fields)}
            changed = WorkOrder.objects.filter(pk=locked.pk, state=from_state).update(**values)
            refused = not changed
        if not refused:
            _log(
                locked,
                action=transition.action,
                from_state=from_state,
                by=by,
                via=via,
                now=now,
                note=note,
            )
            _audit(
                transition.action,
                locked,
                by,
                context,
                {"from": from_state, "to": locked.state, "via": via, **(detail or {})},
            )
    if refused:
        current = WorkOrder.objects.get(pk=order.pk)
        _audit(
            transition.action,
            current,
            by,
            context,
            {"refused": "already decided", "state": current.state, "via": via},
        )
        raise _refusal(verb, current)
    return locked


def _columns(fields: list[str]) -> list[str]:
    """Returns the attribute names to read for an update (a foreign key by its id)."""
    relations = {"assignee", "queue_area", "merged_into", "acknowledged_by"}
    return [f"{name}_id" if name in relations else name for name in fields]


def _clean_text(value: str, limit: int, field: str) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise ValidationError(
            {field: _("At most %(limit_value)s characters") % {"limit_value": limit}}
        )
    return value


def _viewer(by: Actor | None) -> Actor | None:
    return by if by is not None and by.is_authenticated else None


# ---------------------------------------------------------------------------------------------
# Raising


def raise_work_order(
    *,
    kind: str,
    area: Area,
    by: Actor | None,
    via: str = RaisedVia.WEB,
    text: str = "",
    person: Person | None = None,
    household: Household | None = None,
    category: str = "",
    priority: str = Priority.P2,
    priority_reason: str = "",
    contact_name: str = "",
    external_source: str = "",
    external_reference: str = "",
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> WorkOrder:
    """Raises a work order about a person, a household or just an area, with its deadlines
    computed from the area's service level for `priority`, and starts its escalation ladder
    (the area's grid workers are notified first until someone dispatches or takes it).

    Idempotent on (external_source, external_reference): a second raise returns the order
    stored the first time. A second open order of the same household, kind and category
    (for kinds that merge duplicates) is stored merged into the first one, and that one is
    returned (the first order shows both).

    `by` None: raised by the system or by a resident through a higher app's page.
    Raises PermissionDenied when `by` may not raise orders in the area; ValidationError (by
    field) for an unknown kind, via or priority, a person or household outside the area, or
    a text over 2,000 characters.
    """
    if by is not None:
        require(by, roles=RAISERS, paths=[area.path])
    try:
        kind_spec = get_kind(kind)
    except LookupError:
        raise ValidationError({"kind": _("Unknown kind %(kind)s") % {"kind": kind}}) from None
    if via not in RaisedVia.values:
        raise ValidationError({"via": _("Unknown channel %(channel)s") % {"channel": via}})
    if priority not in Priority.values:
        raise ValidationError({"priority": _("Unknown priority %(p)s") % {"p": priority}})
    text = _clean_text(text, TEXT_MAX_LENGTH, "text")
    if person is not None and household is None:
        household = person.household
    for subject, field in ((person, "person"), (household, "household")):
        if subject is not None and not (subject.area_path or "").startswith(area.path):
            raise ValidationError({field: _("This resident does not live in the area")})
    external_reference = (external_reference or "").strip()
    now = now or clock.now()
    with transaction.atomic():
        if external_reference:
            existing = WorkOrder.objects.filter(
                external_source=external_source, external_reference=external_reference
            ).first()
            if existing is not None:
                return existing
        first = None
        if kind_spec.merge_duplicates and household is not None:
            # The household's row serialises two raises for it (two family members at once).
            Household.objects.select_for_update().filter(pk=household.pk).first()
            first = (
                WorkOrder.objects.filter(
                    household=household, kind=kind, category=category, state__in=OPEN_STATES
                )
                .order_by("created_at", "id")
                .first()
            )
        level = level_for(area.path, priority)
        order = WorkOrder(
            kind=kind,
            category=category,
            person=person,
            household=household,
            area=area,
            area_path=area.path,
            raised_by_id=by.pk if by is not None and by.is_authenticated else None,
            raised_via=via,
            contact_name=_clean_text(contact_name, 60, "contact_name"),
            text=text,
            external_source=external_source,
            external_reference=external_reference,
            priority=priority,
            priority_reason=_clean_text(priority_reason, 200, "priority_reason"),
            accept_by=now + level.accept_within,
            done_by=now + level.done_within,
            created_at=now,
            updated_at=now,
        )
        if first is not None:
            order.state = S.MERGED
            order.merged_into = first
            order.closed_at = now
        else:
            _start_cycle(order, now)
        order.save()
        _log(order, action=WorkOrderAction.RAISE, from_state="", by=by, via=via, now=now)
        _audit(
            WorkOrderAction.RAISE,
            order,
            by,
            context,
            {"kind": kind, "priority": priority, "via": via},
        )
        if first is not None:
            _log(
                order,
                action=WorkOrderAction.MERGE,
                from_state=S.NEW,
                by=None,
                via=RaisedVia.SYSTEM,
                now=now,
            )
            _audit(WorkOrderAction.MERGE, order, None, context, {"into": first.pk})
            if URGENCY[priority] > URGENCY[first.priority]:
                _raise_priority(first, order, now)
            return first
    return order


# Higher is more urgent (the codes do not sort by urgency as text everywhere).
URGENCY: dict[str, int] = {Priority.P2: 0, Priority.P1: 1, Priority.P0: 2}


def _raise_priority(first: WorkOrder, duplicate: WorkOrder, now: datetime) -> None:
    """A duplicate more urgent than the order it merged into raises that order's class: its
    deadlines shorten to the new class's (never lengthen), with the duplicate's reason, and
    an order still waiting to be accepted climbs the new class's ladder from now."""
    first = WorkOrder.objects.select_for_update().get(pk=first.pk)
    from_state = first.state
    level = level_for(first.area_path, duplicate.priority)
    first.priority = duplicate.priority
    first.priority_reason = duplicate.priority_reason or first.priority_reason
    first.accept_by = min(first.accept_by, now + level.accept_within)
    first.done_by = min(first.done_by, now + level.done_within)
    fields = ["priority", "priority_reason", "accept_by", "done_by", "updated_at"]
    if first.state in AWAITING_ACCEPT:
        fields += _start_cycle(first, now)
    elif first.state in OPEN_STATES:
        fields += _start_cycle(first, first.done_by)
    first.updated_at = now
    first.save(update_fields=fields)
    _log(
        first,
        action=WorkOrderAction.MERGE,
        from_state=from_state,
        by=None,
        via=RaisedVia.SYSTEM,
        now=now,
        note=f"#{duplicate.pk} {duplicate.priority.upper()}",
    )


# ---------------------------------------------------------------------------------------------
# Dispatch and the assignee's steps


def _require_manager(by: Actor, order: WorkOrder) -> None:
    if not is_manager_of(by, order.area_path):
        raise PermissionDenied(_("Your role may not do this."))


def dispatch_work_order(
    *,
    order: WorkOrder,
    by: Actor,
    assignee: User | None = None,
    queue_area: Area | None = None,
    via: str = RaisedVia.WEB,
    note: str = "",
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> WorkOrder:
    """Dispatches (or reassigns) an open order to one user or to the queue of an area, and
    starts a new cycle of its escalation ladder for them. Every earlier assignment stays in
    the order's transitions.

    Raises PermissionDenied unless `by` manages the order's area; ValidationError when both
    or neither of assignee and queue_area are given, the assignee is inactive or answers for
    no area containing the order, or the queue's area does not contain it; BilingualError
    when the order is no longer open.
    """
    if (assignee is None) == (queue_area is None):
        raise ValidationError({"assignee": _("Choose one person or one area's queue")})
    note = _clean_text(note, NOTE_MAX_LENGTH, "note")
    if assignee is not None and not (assignee.is_active and may_work_in(assignee, order.area_path)):
        raise ValidationError({"assignee": _("This person does not work in the order's area")})
    if queue_area is not None and not order.area_path.startswith(queue_area.path):
        raise ValidationError({"queue_area": _("The queue's area does not contain the order")})

    def change(locked: WorkOrder, now: datetime) -> list[str]:
        locked.assignee = assignee
        locked.queue_area = queue_area
        locked.dispatched_at = now
        locked.accepted_at = locked.started_at = None
        fields = ["assignee", "queue_area", "dispatched_at", "accepted_at", "started_at"]
        return [*fields, *_start_cycle(locked, now)]

    return _apply(
        "dispatch",
        order=order,
        by=by,
        via=via,
        now=now,
        context=context,
        authorise=lambda locked: _require_manager(by, locked),
        change=change,
        note=note,
        detail={
            "assignee": assignee.pk if assignee else None,
            "queue": queue_area.pk if queue_area else None,
        },
    )


def _require_taker(by: Actor, order: WorkOrder) -> None:
    """Raises PermissionDenied unless `by` may take the order: its assignee, or a worker of
    its queue (an order nobody dispatched is in its own area's queue)."""
    if order.assignee_id is not None:
        if order.assignee_id == by.pk:
            return
        if order.state in AWAITING_ACCEPT or not is_manager_of(by, order.area_path):
            raise PermissionDenied(_("This work order is assigned to someone else."))
        return
    queue_path = order.queue_area.path if order.queue_area is not None else order.area_path
    if not may_work_in(by, queue_path):
        raise PermissionDenied(_("Your role may not do this."))


def accept_work_order(
    *,
    order: WorkOrder,
    by: Actor,
    via: str = RaisedVia.WEB,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> WorkOrder:
    """Accepts an order for `by` (its assignee, or a worker of its queue, who becomes the
    assignee). Stops the escalation ladder.

    Raises PermissionDenied for someone else's order; BilingualError "already_taken" when
    someone accepted it first (two at once: one wins), "wrong_state" for a closed order.
    """

    def authorise(locked: WorkOrder) -> None:
        if locked.state in AWAITING_ACCEPT:
            _require_taker(by, locked)

    def change(locked: WorkOrder, now: datetime) -> list[str]:
        locked.assignee_id = by.pk
        locked.accepted_at = now
        # The ladder of the wait is over; the next one starts if the done deadline passes.
        return ["assignee", "accepted_at", *_start_cycle(locked, locked.done_by)]

    return _apply(
        "accept",
        order=order,
        by=by,
        via=via,
        now=now,
        context=context,
        authorise=authorise,
        change=change,
    )


def start_work_order(
    *,
    order: WorkOrder,
    by: Actor,
    via: str = RaisedVia.WEB,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> WorkOrder:
    """Marks an accepted order in progress (the assignee is on the way). Raises
    PermissionDenied for someone else's order; BilingualError in another state."""

    def change(locked: WorkOrder, now: datetime) -> list[str]:
        locked.started_at = now
        return ["started_at"]

    return _apply(
        "start",
        order=order,
        by=by,
        via=via,
        now=now,
        context=context,
        authorise=lambda locked: _require_taker(by, locked),
        change=change,
    )


def finish_work_order(
    *,
    order: WorkOrder,
    by: Actor,
    note: str = "",
    via: str = RaisedVia.WEB,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> WorkOrder:
    """Marks an accepted or in-progress order done (办结), with what was done. The resident's
    confirmation (回访) follows through confirm_work_order.

    Raises PermissionDenied for someone else's order; ValidationError for a missing note or
    one over 500 characters; BilingualError in another state."""
    note = _clean_text(note, NOTE_MAX_LENGTH, "note")
    if not note:
        raise ValidationError({"note": _("Say what was done")})

    def change(locked: WorkOrder, now: datetime) -> list[str]:
        locked.done_at = now
        locked.done_note = note
        return ["done_at", "done_note"]

    return _apply(
        "done",
        order=order,
        by=by,
        via=via,
        now=now,
        context=context,
        authorise=lambda locked: _require_taker(by, locked),
        change=change,
        note=note,
    )


# ---------------------------------------------------------------------------------------------
# The resident's confirmation, reopening, cancelling, merging


def confirm_work_order(
    *,
    order: WorkOrder,
    satisfied: bool,
    rating: int | None = None,
    by: Actor | None = None,
    via: str = RaisedVia.H5,
    note: str = "",
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> WorkOrder:
    """Records the resident's answer to "resolved?" on a done order: yes (with an optional
    1–5 rating) confirms it; no reopens it, which starts its ladder again.

    `by` None: the resident through a signed link or the robot (the higher app checked the
    link); a staff member recording a call-back must manage the area. Raises
    PermissionDenied; ValidationError for a rating outside 1–5; BilingualError when the
    order is not done (answered already)."""
    if rating is not None and not 1 <= rating <= 5:
        raise ValidationError({"rating": _("Choose a rating from 1 to 5")})
    note = _clean_text(note, NOTE_MAX_LENGTH, "note")
    staff = _viewer(by)

    def authorise(locked: WorkOrder) -> None:
        if staff is not None:
            _require_manager(staff, locked)

    if not satisfied:
        return _reopen(
            order=order,
            by=by,
            via=via,
            note=note,
            now=now,
            context=context,
            authorise=authorise,
            rating=rating,
            unsatisfied=True,
        )

    def change(locked: WorkOrder, now: datetime) -> list[str]:
        locked.satisfied = True
        locked.rating = rating
        return ["satisfied", "rating"]

    return _apply(
        "confirm",
        order=order,
        by=by,
        via=via,
        now=now,
        context=context,
        authorise=authorise,
        change=change,
        note=note,
        detail={"satisfied": True, "rating": rating},
    )


def _reopen(
    *,
    order: WorkOrder,
    by: Actor | None,
    via: str,
    note: str,
    now: datetime | None,
    context: AuditContext | None,
    authorise: Callable[[WorkOrder], None],
    rating: int | None = None,
    unsatisfied: bool = False,
) -> WorkOrder:
    def change(locked: WorkOrder, now: datetime) -> list[str]:
        # A fresh clock: the resident is still waiting, as if they had just asked.
        level = level_for(locked.area_path, locked.priority)
        locked.accept_by = now + level.accept_within
        locked.done_by = now + level.done_within
        # The resident's "no" is kept; a reopening by staff says nothing of the resident.
        locked.satisfied = False if unsatisfied else None
        locked.rating = rating
        locked.done_at = locked.accepted_at = locked.started_at = None
        return [
            "accept_by",
            "done_by",
            "satisfied",
            "rating",
            "done_at",
            "accepted_at",
            "started_at",
            *_start_cycle(locked, now),
        ]

    return _apply(
        "reopen",
        order=order,
        by=by,
        via=via,
        now=now,
        context=context,
        authorise=authorise,
        change=change,
        note=note,
    )


def reopen_work_order(
    *,
    order: WorkOrder,
    by: Actor,
    note: str = "",
    via: str = RaisedVia.WEB,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> WorkOrder:
    """Sends a done order back to its assignee (dispatched again, fresh deadlines, a new
    cycle of the ladder). Raises PermissionDenied unless `by` manages the area;
    ValidationError for a note over 500 characters; BilingualError when it is not done."""
    note = _clean_text(note, NOTE_MAX_LENGTH, "note")
    return _reopen(
        order=order,
        by=by,
        via=via,
        note=note,
        now=now,
        context=context,
        authorise=lambda locked: _require_manager(by, locked),
    )


def cancel_work_order(
    *,
    order: WorkOrder,
    by: Actor,
    reason: str,
    via: str = RaisedVia.WEB,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> WorkOrder:
    """Cancels an open order, with the reason. Raises PermissionDenied unless `by` manages
    the area; ValidationError for a missing reason or one over 200 characters;
    BilingualError when the order is no longer open."""
    reason = _clean_text(reason, REASON_MAX_LENGTH, "reason")
    if not reason:
        raise ValidationError({"reason": _("Say why the order is cancelled")})

    def change(locked: WorkOrder, now: datetime) -> list[str]:
        locked.cancel_reason = reason
        return ["cancel_reason"]

    return _apply(
        "cancel",
        order=order,
        by=by,
        via=via,
        now=now,
        context=context,
        authorise=lambda locked: _require_manager(by, locked),
        change=change,
        note=reason,
    )


def merge_work_order(
    *,
    order: WorkOrder,
    into: WorkOrder,
    by: Actor,
    via: str = RaisedVia.WEB,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> WorkOrder:
    """Merges an open order into another open one of the same area (a duplicate found by a
    person rather than on raising). Raises PermissionDenied unless `by` manages both;
    ValidationError for an order merged into itself or into a closed one; BilingualError
    when `order` is no longer open."""
    if order.pk == into.pk:
        raise ValidationError({"into": _("An order cannot be merged into itself")})
    if not is_manager_of(by, into.area_path):
        raise PermissionDenied(_("Outside your jurisdiction."))
    if into.state not in OPEN_STATES or into.merged_into_id is not None:
        raise ValidationError({"into": _("Merge into an open order")})

    def change(locked: WorkOrder, now: datetime) -> list[str]:
        locked.merged_into = into
        return ["merged_into"]

    return _apply(
        "merge",
        order=order,
        by=by,
        via=via,
        now=now,
        context=context,
        authorise=lambda locked: _require_manager(by, locked),
        change=change,
        detail={"into": into.pk},
    )


# ---------------------------------------------------------------------------------------------
# Acknowledging an escalation


def acknowledge_work_order(
    *,
    order: WorkOrder,
    by: Actor,
    via: str = RaisedVia.WEB,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> WorkOrder:
    """Records that `by` has the escalated order in hand: its ladder stops for this cycle
    (no more steps, no more repeats) while its deadlines keep running. A second
    acknowledgement changes nothing.

    Raises PermissionDenied unless `by` was notified in this cycle or manages the area;
    BilingualError "wrong_state" for a closed order, "not_escalated" for an accepted one
    still within its done deadline."""
    now = now or clock.now()
    with transaction.atomic():
        locked = WorkOrder.objects.select_for_update().get(pk=order.pk)
        notified = _notified(locked, by)
        if not notified and not is_manager_of(by, locked.area_path):
            raise PermissionDenied(_("Your role may not do this."))
        if locked.state not in OPEN_STATES:
            raise BilingualError("wrong_state", WRONG_STATE, {"state": _label(locked.state)})
        started = locked.escalation_started_at
        if started is None or started > now:
            # An accepted order within its deadline: nothing climbs yet, nothing to stop.
            raise BilingualError("not_escalated", NOT_ESCALATED)
        if locked.acknowledged_at is not None:
            return locked
        locked.acknowledged_at = now
        locked.acknowledged_by_id = by.pk
        locked.next_escalation_at = None
        locked.updated_at = now
        locked.save(
            update_fields=["acknowledged_at", "acknowledged_by", "next_escalation_at", "updated_at"]
        )
        _log(
            locked,
            action=WorkOrderAction.ACKNOWLEDGE,
            from_state=locked.state,
            by=by,
            via=via,
            now=now,
        )
        _audit(
            WorkOrderAction.ACKNOWLEDGE, locked, by, context, {"cycle": locked.cycle, "via": via}
        )
    return locked


def _notified(order: WorkOrder, by: Actor) -> bool:
    recipients = EscalationNotice.objects.filter(order=order, cycle=order.cycle).values_list(
        "recipients", flat=True
    )
    return any(by.pk in ids for ids in recipients)
