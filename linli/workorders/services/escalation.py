"""Escalation until acknowledged: the sweep that sends due ladder steps, and the deliveries.

`sweep_escalations(now=...)` is run every 30 s by `manage.py escalate --every 30` (beside the
task worker; `make serve` starts it) and takes the time as an argument, so tests and benches
drive it with a virtual clock. One sweep:

1. locks the orders whose `next_escalation_at` has come (waiting to be accepted, not
   acknowledged in this cycle), SKIP LOCKED so two sweepers share the work, in batches;
2. works out from the order's ladder snapshot which (step, repeat) are due: every step whose
   time has come (a step is never skipped, however long the sweeper was down) and, for each,
   the latest repeat due (repeats missed during an outage collapse into one);
3. inserts an EscalationNotice per due key with ON CONFLICT DO NOTHING on (order, cycle,
   step, repeat), then reads back the rows this sweep inserted: a notice already sent is
   never sent again;
4. writes the bell (Notification rows) and the other channels' NoticeDelivery rows for the
   new notices, moves each order's next_escalation_at on, and records one audit event;
5. commits; then sends the pending deliveries (deliver_pending).

Everything up to 5 is one transaction: a sweep killed before the commit leaves nothing, and
the next one sends the same steps (no step skipped); after the commit the notices exist, so
the next sweep sends none of them again (no step doubled). A delivery is sent after the
commit and marked sent after the send: a crash between the two resends that one message on
the next run, with the same reference (`work-order-delivery:<id>`) for the gateway to drop.

The queries of a batch do not depend on its size: the due orders, the staff of their areas,
the notices inserted, the notices read back, the bell, the deliveries, the update of the
orders, the audit event.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy

from linli.accounts.models import AreaAssignment
from linli.areas.models import AreaLevel
from linli.audit.services import record_event
from linli.core import clock
from linli.core.bulkload import insert_tuples, stamp_value, update_tuples
from linli.core.errors import CHINESE, in_language
from linli.core.roles import Role
from linli.workorders.kinds import kind_label
from linli.workorders.models import (
    AWAITING_ACCEPT,
    OPEN_STATES,
    DeliveryStatus,
    EscalationNotice,
    LadderRung,
    NoticeDelivery,
    Notification,
    Priority,
    WorkOrder,
    WorkOrderAction,
)
from linli.workorders.notify import Outgoing, Recipient, get_channel, registered_channels
from linli.workorders.services.service_levels import ancestor_paths

BATCH = 1000
DELIVERY_BATCH = 500
MAX_DELIVERY_ATTEMPTS = 5

# Who each rung reaches: a role, at the ancestor of the order's area at a level.
RUNG_ROLES = {
    LadderRung.COMMUNITY_LEAD: (Role.COMMUNITY_LEAD, AreaLevel.COMMUNITY),
    LadderRung.STREET_OFFICER: (Role.STREET_OFFICER, AreaLevel.STREET),
    LadderRung.DISTRICT_OFFICER: (Role.DISTRICT_OFFICER, AreaLevel.DISTRICT),
    LadderRung.CITY_OFFICER: (Role.CITY_OFFICER, AreaLevel.CITY),
}
# An order nobody took yet is in its area's queue: its grid workers hear first.
QUEUE_ROLES = (Role.GRID_WORKER,)

NOTICE_TEXT = gettext_lazy(
    "Linli: work order #%(id)s (%(priority)s, %(kind)s, %(area)s) has not been accepted. "
    "Please take it or acknowledge: %(link)s"
)
OVERDUE_TEXT = gettext_lazy(
    "Linli: work order #%(id)s (%(priority)s, %(kind)s, %(area)s) is past its deadline and "
    "not done. Please see to it or acknowledge: %(link)s"
)


@dataclass
class SweepResult:
    orders: int = 0
    notices: int = 0
    bell: int = 0
    sent: int = 0
    failed: int = 0
    late_seconds: list[float] = field(default_factory=list)

    def add(self, other: "SweepResult") -> None:
        self.orders += other.orders
        self.notices += other.notices
        self.bell += other.bell
        self.sent += other.sent
        self.failed += other.failed
        self.late_seconds += other.late_seconds


@dataclass(frozen=True)
class DueStep:
    step: int
    repeat: int
    rung: str
    due_at: datetime


def due_steps(
    plan: dict, started_at: datetime, now: datetime
) -> tuple[list[DueStep], datetime | None]:
    """Returns the (step, repeat) of a ladder due by `now` (each step reached, with its
    first sending and its latest repeat) and when the next one falls due (None: never)."""
    repeat = timedelta(minutes=max(int(plan.get("repeat") or 0), 1))
    due: list[DueStep] = []
    upcoming: datetime | None = None
    for step, (after, rung) in enumerate(plan.get("steps") or []):
        at = started_at + timedelta(minutes=int(after))
        if at > now:
            upcoming = at if upcoming is None else min(upcoming, at)
            continue
        latest = int((now - at) // repeat)
        due.append(DueStep(step, 0, rung, at))
        if latest:
            due.append(DueStep(step, latest, rung, at + latest * repeat))
        following = at + (latest + 1) * repeat
        upcoming = following if upcoming is None else min(upcoming, following)
    return due, upcoming


def _staff_by_path(orders: list[WorkOrder]) -> dict[str, list[tuple[str, int, str, str]]]:
    """Returns {area path: [(role, user id, username, work phone)]} for the active staff
    assigned to any area above (or at) the orders' areas and queues: one query."""
    paths: set[str] = set()
    for order in orders:
        paths.update(ancestor_paths(order.area_path))
    roles = [*QUEUE_ROLES, *(role for role, _level in RUNG_ROLES.values())]
    rows = AreaAssignment.objects.filter(
        area__path__in=sorted(paths), user__is_active=True, user__role__in=roles
    ).values_list(
        "area__path", "area__level", "user__role", "user_id", "user__username", "user__work_phone"
    )
    staff: dict[str, list[tuple[str, int, str, str]]] = defaultdict(list)
    for path, level, role, user_id, username, phone in rows:
        staff[path].append((f"{role}@{level}", user_id, username, phone))
    return staff


def _recipients(order: WorkOrder, rung: str, staff: dict) -> list[Recipient]:
    if rung == LadderRung.ASSIGNEE:
        user = order.assignee
        if user is not None:
            return [Recipient(user.pk, user.get_username(), user.work_phone)]
        queue = order.queue_area
        queue_path = queue.path if queue is not None else order.area_path
        # The nearest area at or above the queue that has grid workers.
        for path in reversed(ancestor_paths(queue_path)):
            found = [
                Recipient(uid, name, phone)
                for key, uid, name, phone in staff.get(path, [])
                if key.split("@")[0] in QUEUE_ROLES
            ]
            if found:
                return found
        return []
    role, level = RUNG_ROLES[LadderRung(rung)]
    wanted = f"{role}@{level}"
    reached: dict[int, Recipient] = {}
    for path in ancestor_paths(order.area_path):
        for key, uid, name, phone in staff.get(path, []):
            if key == wanted:
                reached[uid] = Recipient(uid, name, phone)
    return list(reached.values())


def _common_path(paths: list[str]) -> str:
    common = paths[0]
    for path in paths[1:]:
        while not path.startswith(common):
            common = common[: common.rstrip(".").rfind(".") + 1]
    return common


def _as_stored(model: type[models.Model], attname: str, value: object) -> object:
    # Raw rows go to the driver as they are: a datetime as the column stores it (SQLite
    # keeps text in UTC).
    return None if value is None else stamp_value(model, attname, value)


# What the sweep reads of a due order (its JSON text and the rest stay in the database).
DUE_FIELDS = (
    "id",
    "area_path",
    "cycle",
    "escalation_plan",
    "escalation_started_at",
    "next_escalation_at",
    "assignee_id",
    "queue_area_id",
    "assignee__username",
    "assignee__work_phone",
    "queue_area__path",
)
# Rows per INSERT of notices: under PostgreSQL's 65,535 parameters per statement.
NOTICE_INSERT_BATCH = 4000


def _sweep_batch(now: datetime, batch: int) -> SweepResult:
    sweep = uuid.uuid4().hex
    result = SweepResult()
    with transaction.atomic():
        due_orders = list(
            WorkOrder.objects.filter(
                next_escalation_at__lte=now,
                state__in=OPEN_STATES,
                acknowledged_at__isnull=True,
            )
            .select_related("assignee", "queue_area")
            .only(*DUE_FIELDS)
            .select_for_update(
                skip_locked=connection.features.has_select_for_update_skip_locked, of=("self",)
            )
            .order_by("next_escalation_at", "id")[:batch]
        )
        if not due_orders:
            return result
        result.orders = len(due_orders)
        staff = _staff_by_path(due_orders)
        notices: list[EscalationNotice] = []
        recipients: dict[tuple[int, int, int, int], list[Recipient]] = {}
        next_at: list[tuple[object, ...]] = []
        for order in due_orders:
            steps, upcoming = due_steps(order.escalation_plan, order.escalation_started_at, now)
            next_at.append((order.pk, _as_stored(WorkOrder, "next_escalation_at", upcoming)))
            for due in steps:
                people = _recipients(order, due.rung, staff)
                recipients[(order.pk, order.cycle, due.step, due.repeat)] = people
                notices.append(
                    EscalationNotice(
                        order_id=order.pk,
                        area_path=order.area_path,
                        cycle=order.cycle,
                        step=due.step,
                        repeat=due.repeat,
                        rung=due.rung,
                        due_at=due.due_at,
                        sent_at=now,
                        sweep=sweep,
                        recipients=[person.user_id for person in people],
                    )
                )
        # ON CONFLICT DO NOTHING: a notice some sweep already wrote is not written (nor sent)
        # again; reading back by this sweep's id gives exactly the ones written now.
        EscalationNotice.objects.bulk_create(
            notices, ignore_conflicts=True, batch_size=NOTICE_INSERT_BATCH
        )
        new = list(
            EscalationNotice.objects.filter(sweep=sweep)
            .order_by("id")
            .values_list("id", "order_id", "cycle", "step", "repeat", "due_at")
        )
        paths = {order.pk: order.area_path for order in due_orders}
        bell: list[tuple[object, ...]] = []
        deliveries: list[tuple[object, ...]] = []
        channels = registered_channels()
        pending = DeliveryStatus.PENDING.value
        created_at = _as_stored(Notification, "created_at", now)
        for notice_id, order_id, cycle, step, repeat, due_at in new:
            people = recipients[(order_id, cycle, step, repeat)]
            result.late_seconds.append((now - due_at).total_seconds())
            bell += [(person.user_id, order_id, notice_id, created_at) for person in people]
            for channel in channels:
                if channel.per_recipient:
                    deliveries += [
                        (notice_id, channel.code, person.user_id, pending, 0, "")
                        for person in people
                        if channel.reaches(person)
                    ]
                else:
                    deliveries.append((notice_id, channel.code, None, pending, 0, ""))
        # COPY on PostgreSQL, one statement whatever the number of rows (linli.core.bulkload).
        insert_tuples(Notification, ["user_id", "order_id", "notice_id", "created_at"], bell)
        insert_tuples(
            NoticeDelivery,
            ["notice_id", "channel", "user_id", "status", "attempts", "error"],
            deliveries,
        )
        update_tuples(WorkOrder, ["next_escalation_at"], next_at)
        result.notices, result.bell = len(new), len(bell)
        if new:
            orders = sorted({order_id for _n, order_id, *_rest in new})
            record_event(
                action=WorkOrderAction.ESCALATE,
                area_path=_common_path([paths[pk] for pk in orders]),
                object_type="work_order",
                detail={"sweep": sweep, "orders": orders[:200], "notices": len(new)},
            )
    return result


def sweep_escalations(
    *, now: datetime | None = None, batch: int = BATCH, deliver: bool = True
) -> SweepResult:
    """Sends every ladder step due by `now` (default: linli.core.clock.now()), batch by
    batch, then (unless `deliver` is False) the pending deliveries. Returns the counts.

    Idempotent and safe to run from several workers at once (see the module docstring)."""
    now = now or clock.now()
    total = SweepResult()
    while True:
        part = _sweep_batch(now, batch)
        total.add(part)
        if part.orders < batch:
            break
    if deliver:
        sent, failed = deliver_pending(now=now)
        total.sent, total.failed = sent, failed
    return total


def _text(notice: EscalationNotice) -> str:
    order = notice.order
    link = getattr(settings, "LINLI_PUBLIC_URL", "") + reverse("workorders:detail", args=[order.pk])
    return in_language(
        NOTICE_TEXT if order.state in AWAITING_ACCEPT else OVERDUE_TEXT,
        CHINESE,
        {
            "id": order.pk,
            "priority": in_language(Priority(order.priority).label, CHINESE),
            "kind": in_language(kind_label(order.kind), CHINESE),
            "area": order.area.name,
            "link": link,
        },
    )


def deliver_pending(*, now: datetime | None = None, limit: int = DELIVERY_BATCH) -> tuple[int, int]:
    """Sends the pending deliveries (oldest first, up to `limit`), each through its channel,
    and marks them sent, or failed after MAX_DELIVERY_ATTEMPTS. Returns (sent, failed).

    Rows are locked (SKIP LOCKED) while they are sent, so two workers never send the same
    one; a delivery whose channel is not registered (the robot before voice is installed)
    waits."""
    now = now or clock.now()
    sent = failed = 0
    known = {channel.code for channel in registered_channels()}
    with transaction.atomic():
        rows = list(
            NoticeDelivery.objects.filter(status=DeliveryStatus.PENDING, channel__in=sorted(known))
            .select_related("notice__order__area", "user")
            .select_for_update(
                skip_locked=connection.features.has_select_for_update_skip_locked, of=("self",)
            )
            .order_by("id")[:limit]
        )
        by_channel: dict[str, list[NoticeDelivery]] = defaultdict(list)
        for row in rows:
            by_channel[row.channel].append(row)
        for code, group in by_channel.items():
            texts = {row.notice_id: _text(row.notice) for row in group}
            batch = [
                Outgoing(
                    delivery_id=row.pk,
                    order_id=row.notice.order_id,
                    text=texts[row.notice_id],
                    recipient=Recipient(row.user.pk, row.user.get_username(), row.user.work_phone)
                    if row.user
                    else None,
                    data={
                        "order": row.notice.order_id,
                        "priority": row.notice.order.priority,
                        "step": row.notice.step,
                        "repeat": row.notice.repeat,
                        "rung": row.notice.rung,
                    },
                )
                for row in group
            ]
            for row, (ok, error) in zip(group, get_channel(code).send(batch), strict=True):
                row.attempts += 1
                row.error = error
                if ok:
                    row.status, row.sent_at = DeliveryStatus.SENT, now
                    sent += 1
                elif row.attempts >= MAX_DELIVERY_ATTEMPTS:
                    row.status = DeliveryStatus.FAILED
                    failed += 1
        NoticeDelivery.objects.bulk_update(
            rows, ["status", "sent_at", "attempts", "error"], batch_size=limit
        )
    return sent, failed
