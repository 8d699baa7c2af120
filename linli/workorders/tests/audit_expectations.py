"""Which work-order services write which audit action (tests/test_audit_coverage.py walks
them). Each exercise runs its service once in community A: grid_a raises, lead_a dispatches."""

from datetime import timedelta

from django.utils import timezone

from linli.workorders.models import Priority, WorkOrderAction
from linli.workorders.services import escalation, orders, service_levels
from linli.workorders.tests.builders import dispatched, raised


def _accepted(world):
    return orders.accept_work_order(order=dispatched(world), by=world.grid_a)


def _done(world):
    return orders.finish_work_order(order=_accepted(world), by=world.grid_a, note="已办")


def _sweep(world):
    dispatched(world, priority=Priority.P0)
    escalation.sweep_escalations(now=timezone.now() + timedelta(minutes=1))


AUDITED = {
    "raise_work_order": (WorkOrderAction.RAISE, raised),
    "dispatch_work_order": (WorkOrderAction.DISPATCH, dispatched),
    "accept_work_order": (WorkOrderAction.ACCEPT, _accepted),
    "start_work_order": (
        WorkOrderAction.START,
        lambda w: orders.start_work_order(order=_accepted(w), by=w.grid_a),
    ),
    "finish_work_order": (WorkOrderAction.DONE, _done),
    "confirm_work_order": (
        WorkOrderAction.CONFIRM,
        lambda w: orders.confirm_work_order(order=_done(w), satisfied=True, rating=4),
    ),
    "reopen_work_order": (
        WorkOrderAction.REOPEN,
        lambda w: orders.reopen_work_order(order=_done(w), by=w.lead_a, note="居民说没送到"),
    ),
    "cancel_work_order": (
        WorkOrderAction.CANCEL,
        lambda w: orders.cancel_work_order(order=raised(w), by=w.lead_a, reason="重复"),
    ),
    "merge_work_order": (
        WorkOrderAction.MERGE,
        lambda w: orders.merge_work_order(
            order=raised(w, category="a"), into=raised(w, category="b"), by=w.lead_a
        ),
    ),
    "acknowledge_work_order": (
        WorkOrderAction.ACKNOWLEDGE,
        lambda w: orders.acknowledge_work_order(order=dispatched(w), by=w.lead_a),
    ),
    "set_service_level": (
        WorkOrderAction.SERVICE_LEVEL,
        lambda w: service_levels.set_service_level(
            area=w.a.community,
            priority=Priority.P1,
            accept_minutes=30,
            done_minutes=600,
            by=w.lead_a,
        ),
    ),
    "sweep_escalations": (WorkOrderAction.ESCALATE, _sweep),
}

NOT_AUDITED = {
    "level_for": "reads only",
    "ancestor_paths": "a pure function of a path",
    "due_steps": "a pure function of a ladder and a time",
    "deliver_pending": "sends what a sweep recorded (and audited); marks its own delivery rows",
    "mark_notifications_read": "a user's own bell: marks their notifications, nobody else's data",
}
