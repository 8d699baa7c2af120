"""Background work of the engine: the escalation sweep as a task, for a deployment that
schedules it through the task worker rather than `manage.py escalate --every`."""

from django_tasks import task

from linli.workorders.services.escalation import sweep_escalations


@task()
def sweep_escalations_task() -> int:
    """Runs one sweep; returns how many notices it sent."""
    return sweep_escalations().notices
