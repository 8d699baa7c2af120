"""State-change webhooks: every transition of a work order posted, signed, to the upper
systems that subscribed (settings.LINLI_WORKORDER_WEBHOOKS; the 12345 hotline's platform).

    LINLI_WORKORDER_WEBHOOKS = {"12345": {"url": "https://…", "secret": "…", "sources": ["12345"]}}

services.orders writes one StateEvent per subscriber in the transaction that records the
transition (queue_state_events), so a change rolled back sends nothing, and after the commit
enqueues the task that sends them (tasks.deliver_state_events_task → deliver_state_events).
A post refused or unreachable is retried by every escalation sweep (every 30 s) up to
MAX_ATTEMPTS times, with the same reference (`work-order-event:<id>`) for the receiver to
drop a repeat. Events go out oldest first, through the configured backend
(LINLI_WORKORDER_WEBHOOK_BACKEND, the HTTP backend in the JSON style: HMAC-SHA256 in
X-Linli-Signature).

What a receiver is told is only what any system of the hotline may know about its own
orders: ids, states, channel, times, kind and priority, the area's id and code, its own
external reference. No name, phone, address, description, category (a need's category can
be health data) or note: the receiver opens the order through the API with its own account,
masked for that account's role.
"""

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext_lazy

from linli.adapters import webhooks
from linli.core import clock
from linli.core.errors import CHINESE, in_language
from linli.workorders.models import (
    DeliveryStatus,
    StateEvent,
    WorkOrder,
    WorkOrderState,
    WorkOrderTransition,
)

MAX_ATTEMPTS = 20
BATCH = 200
EVENT = "work_order.transition"
EVENT_TEXT = gettext_lazy("Work order #%(id)s: %(from)s → %(to)s")


def subscribers() -> dict[str, dict]:
    """Returns the configured subscribers by name."""
    return dict(getattr(settings, "LINLI_WORKORDER_WEBHOOKS", {}) or {})


def _wants(subscriber: dict, order: WorkOrder) -> bool:
    sources = subscriber.get("sources") or ()
    return not sources or order.external_source in sources


def queue_state_events(*, transition: WorkOrderTransition, order: WorkOrder) -> int:
    """Writes one pending event per subscriber interested in the order, in the caller's
    transaction, and sends them once it commits. Returns how many were written.

    Internal to the engine's transitions (their own audit event records the change)."""
    names = [name for name, sub in subscribers().items() if _wants(sub, order)]
    if not names:
        return 0
    StateEvent.objects.bulk_create(
        StateEvent(transition=transition, subscriber=name) for name in names
    )
    # Posted by the task worker (a receiver that is slow or down must not slow the click);
    # robust: a failure to enqueue must not fail a change already committed (the sweep
    # retries pending events anyway).
    transaction.on_commit(_enqueue_delivery, robust=True)
    return len(names)


def _enqueue_delivery() -> None:
    # Imported here: the tasks module imports this one.
    from linli.workorders.tasks import deliver_state_events_task

    deliver_state_events_task.enqueue()


def _label(state: str) -> str:
    if state not in WorkOrderState.values:
        return state or "—"
    return in_language(WorkOrderState(state).label, CHINESE)


def payload(transition: WorkOrderTransition) -> dict:
    """Returns the event's machine-readable facts (the `data` of the JSON body)."""
    order = transition.order
    return {
        "event": EVENT,
        "transition": transition.pk,
        "order": order.pk,
        "external_source": order.external_source,
        "external_reference": order.external_reference,
        "action": transition.action.removeprefix("work_order_"),
        "from": transition.from_state or None,
        "to": transition.to_state,
        "at": transition.at.isoformat(),
        "via": transition.via,
        "kind": order.kind,
        "priority": order.priority,
        "area": order.area_id,
        "area_code": order.area.code,
        "accept_by": order.accept_by.isoformat(),
        "done_by": order.done_by.isoformat(),
    }


def _message(event: StateEvent) -> webhooks.WebhookMessage:
    transition = event.transition
    text = in_language(
        EVENT_TEXT,
        CHINESE,
        {
            "id": transition.order_id,
            "from": _label(transition.from_state),
            "to": _label(transition.to_state),
        },
    )
    return webhooks.WebhookMessage(
        text=text, reference=f"work-order-event:{event.pk}", data=payload(transition)
    )


def deliver_state_events(*, now: datetime | None = None, limit: int = BATCH) -> tuple[int, int]:
    """Posts the pending events (oldest first, up to `limit`) to their subscribers and marks
    them sent, or failed after MAX_ATTEMPTS. Returns (sent, failed).

    Not audited: it sends what a transition recorded (and audited) and marks its own rows.
    Rows are locked (SKIP LOCKED) while sent, so two workers never post the same one; the
    events of a subscriber removed from the settings wait."""
    now = now or clock.now()
    configured = subscribers()
    sent = failed = 0
    if not configured:
        return sent, failed
    with transaction.atomic():
        rows = list(
            StateEvent.objects.filter(
                status=DeliveryStatus.PENDING, subscriber__in=sorted(configured)
            )
            .select_related("transition__order__area")
            .select_for_update(
                skip_locked=connection.features.has_select_for_update_skip_locked, of=("self",)
            )
            .order_by("id")[:limit]
        )
        by_subscriber: dict[str, list[StateEvent]] = defaultdict(list)
        for row in rows:
            by_subscriber[row.subscriber].append(row)
        path = getattr(settings, "LINLI_WORKORDER_WEBHOOK_BACKEND", webhooks.DEFAULT_BACKEND)
        for name, group in by_subscriber.items():
            sub = configured[name]
            backend = webhooks.get_backend(
                path, url=sub.get("url", ""), secret=sub.get("secret", ""), style="json"
            )
            with backend:
                results = backend.send_messages([_message(row) for row in group])
            for row, result in zip(group, results, strict=True):
                row.attempts += 1
                row.error = (result.error or "")[:200]
                if result.accepted:
                    row.status, row.sent_at = DeliveryStatus.SENT, now
                    sent += 1
                elif row.attempts >= MAX_ATTEMPTS:
                    row.status = DeliveryStatus.FAILED
                    failed += 1
        StateEvent.objects.bulk_update(
            rows, ["status", "sent_at", "attempts", "error"], batch_size=limit
        )
    return sent, failed
