"""Background work of the engine: the escalation sweep as a task, for a deployment that
schedules it through the task worker rather than `manage.py escalate --every`; the posting
of state-change webhooks, so a slow receiver never slows a staff member's click."""

from django_tasks import task

from linli.workorders.services.escalation import sweep_escalations
from linli.workorders.services.state_events import deliver_state_events


@task()
def sweep_escalations_task() -> int:
    """Runs one sweep; returns how many notices it sent."""
    return sweep_escalations().notices


@task()
def deliver_state_events_task() -> int:
    """Posts the pending state-change events; returns how many were sent."""
    return deliver_state_events()[0]
