"""Background work of screening (run by `manage.py db_worker`, inline in tests)."""

from django_tasks import task

from linli.screening.services import escalate_running_campaigns


@task()
def escalate_campaigns() -> dict[str, int]:
    """Moves the targets that need a worker at the door onto the door-knock lists in every
    running campaign; returns {campaign id: targets moved}.

    Nothing enqueues it periodically yet: the dashboard session decides the trigger (a
    db_worker loop, a timer unit, or the coverage page enqueueing it at most once a minute).
    """
    return {str(k): v for k, v in escalate_running_campaigns().items()}
