"""Background work of screening (run by `manage.py db_worker`, inline in tests).

Escalation to the door-knock lists (escalate_campaigns) has two triggers:

- While someone watches a campaign: the coverage page and its live refresh call
  `escalate_while_watched`, which enqueues escalate_campaigns when the campaign was last
  escalated more than a minute ago, so the lists fill within a minute of a deadline while a
  lead has the dashboard open.
- Unattended: `manage.py escalate_screening --every 60` runs escalation every minute in its
  own process, beside `manage.py db_worker` (`make serve` starts both); a cron line or a
  systemd timer running `manage.py escalate_screening` once a minute does the same.

Escalation is idempotent, so the two may overlap.
"""

from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone
from django_tasks import task

from linli.screening.models import Campaign
from linli.screening.services import escalate_running_campaigns

ESCALATION_INTERVAL = timedelta(minutes=1)
_ENQUEUED_KEY = "screening:escalation-enqueued"


@task()
def escalate_campaigns() -> dict[str, int]:
    """Moves the targets that need a worker at the door onto the door-knock lists in every
    running campaign; returns {campaign id: targets moved}."""
    return {str(k): v for k, v in escalate_running_campaigns().items()}


def escalate_while_watched(campaign: Campaign, *, now: datetime | None = None) -> bool:
    """Enqueues escalate_campaigns when the campaign takes answers and was last escalated more
    than ESCALATION_INTERVAL ago. Returns whether it enqueued.

    Many people may watch at once and the worker may be slow or stopped: a cache key lets
    each process enqueue at most once per interval, so watching never floods the queue.
    """
    now = now or timezone.now()
    if not campaign.accepts_answers:
        return False
    last = campaign.last_escalated_at
    if last is not None and now - last < ESCALATION_INTERVAL:
        return False
    if not cache.add(_ENQUEUED_KEY, now.isoformat(), ESCALATION_INTERVAL.total_seconds()):
        return False
    escalate_campaigns.enqueue()
    return True
