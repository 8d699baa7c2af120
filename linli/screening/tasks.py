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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task
from django_tasks.base import TaskResultStatus

from linli.core.actors import Actor, AuditContext
from linli.screening.models import (
    AttemptOutcome,
    Campaign,
    CampaignTarget,
    ChannelCode,
    ContactAttempt,
)
from linli.screening.selectors import links as link_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import links as link_services

ESCALATION_INTERVAL = timedelta(minutes=1)
_ENQUEUED_KEY = "screening:escalation-enqueued"


@task()
def escalate_campaigns() -> dict[str, int]:
    """Moves the targets that need a worker at the door onto the door-knock lists in every
    running campaign; returns {campaign id: targets moved}."""
    return {str(k): v for k, v in campaign_services.escalate_running_campaigns().items()}


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


# ---------------------------------------------------------------------------------------------
# Sending in the background, with progress


# A run in progress is remembered under this key (one per campaign) from the moment it is
# queued until the task ends, so the send page disables its button and a second send is
# refused. The timeout frees a campaign whose worker died mid-run.
_RUN_KEY = "screening:send-links-run:{}"
RUN_TIMEOUT = timedelta(hours=2)


@task()
def send_links_task(
    campaign_id: int,
    by_id: int,
    ip_address: str | None = None,
    user_agent: str = "",
    public_url: str = "",
) -> dict[str, int]:
    """Runs link_services.send_links for a campaign on behalf of a user (the request's address
    and browser travel with the job for the audit log, and the address the send was started
    on for the links when LINLI_PUBLIC_URL is not set); returns {"sent", "failed"}."""
    try:
        run = link_services.send_links(
            campaign=Campaign.objects.get(pk=campaign_id),
            by=get_user_model().objects.get(pk=by_id),
            public_url=public_url,
            context=AuditContext(ip_address=ip_address, user_agent=user_agent),
        )
    finally:
        cache.delete(_RUN_KEY.format(campaign_id))
    return {"sent": run.sent, "failed": run.failed}


@dataclass(frozen=True)
class SendJob:
    """A send run handed to the task worker: its result id, when it was queued (what the
    progress counts from) and how many targets were sendable then."""

    result_id: str
    since: datetime
    planned: int


def running_send(campaign: Campaign) -> SendJob | None:
    """Returns the campaign's send run queued or in progress, or None.

    The key is dropped by the task when it ends, but a worker in another process (and a
    cache per process) may leave it behind: a run whose task or counts say it is over is
    forgotten here."""
    key = _RUN_KEY.format(campaign.pk)
    value = cache.get(key)
    if not isinstance(value, dict):
        return None
    job = SendJob(
        result_id=value.get("result_id", ""),
        since=datetime.fromtimestamp(value["since"], tz=UTC),
        planned=value["planned"],
    )
    progress = send_progress(
        campaign, result_id=job.result_id, since=job.since, planned=job.planned
    )
    if progress.finished:
        cache.delete(key)
        return None
    return job


def enqueue_send_links(
    *,
    campaign: Campaign,
    by: Actor,
    public_url: str = "",
    context: AuditContext | None = None,
) -> SendJob:
    """Checks that the campaign can send (link_services.check_sendable raises at once, not in
    the worker), that no run is queued or in progress and that someone is left to text, and
    queues send_links_task. `public_url` is the address the send was started on (used when
    LINLI_PUBLIC_URL is not set). Also the hook for sending as soon as a campaign launches
    (call it in transaction.on_commit, once the targets exist).

    Raises PermissionDenied or ValidationError (see check_sendable; a run already going;
    nobody left to text)."""
    now = timezone.now()
    link_services.check_sendable(campaign, by, now=now)
    planned = link_selectors.sendable_targets(campaign, now=now).count()
    if not planned:
        raise ValidationError(_("Nobody is left to text: every link has gone out"))
    key = _RUN_KEY.format(campaign.pk)
    running_send(campaign)  # forgets a run that is over
    # add() is atomic: of two sends started together, one queues and the other is refused.
    if not cache.add(
        key, {"since": now.timestamp(), "planned": planned}, RUN_TIMEOUT.total_seconds()
    ):
        raise ValidationError(_("Links are being sent already; wait until that run ends"))
    context = context or AuditContext.none()
    try:
        result = send_links_task.enqueue(
            campaign.pk, by.pk, context.ip_address, context.user_agent, public_url
        )
    except Exception:
        cache.delete(key)
        raise
    if cache.get(key) is not None:  # still going (an inline backend has already finished)
        cache.set(
            key,
            {"since": now.timestamp(), "planned": planned, "result_id": result.id},
            RUN_TIMEOUT.total_seconds(),
        )
    return SendJob(result_id=result.id, since=now, planned=planned)


@dataclass(frozen=True)
class SendProgress:
    """A send run as the progress bar shows it."""

    planned: int
    sent: int
    failed: int
    finished: bool
    error: bool  # the task stopped on an error
    queued: bool = False  # waiting for the task worker: nothing done yet

    @property
    def running(self) -> bool:
        return not self.finished

    @property
    def percent(self) -> int:
        if self.finished and not self.error:
            return 100
        if not self.planned:
            return 0
        return min(100, round(100 * (self.sent + self.failed) / self.planned))


def send_progress(
    campaign: Campaign, *, result_id: str, since: datetime, planned: int
) -> SendProgress:
    """Returns how far a queued send run has got.

    The counts come from the targets themselves (texted since the run was queued) and the
    failed H5 attempts since then, so they hold whichever task backend runs the work; the
    task's own state, where the backend keeps it, says when it is over."""
    sent = CampaignTarget.objects.filter(campaign=campaign, link_sent_at__gte=since).count()
    failed = ContactAttempt.objects.filter(
        campaign=campaign,
        channel=ChannelCode.H5,
        outcome=AttemptOutcome.FAILED,
        created_at__gte=since,
    ).count()
    status = _task_status(result_id)
    error = status == TaskResultStatus.FAILED
    if status is None:
        # A backend that keeps no results (the inline one) has finished before the page is
        # shown; otherwise the counts tell.
        finished = not send_links_task.get_backend().supports_get_result or (
            sent + failed >= planned
        )
    else:
        finished = status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
    # A run the worker has not picked up is queued, not at 0 %: its task says so, or, where
    # the backend keeps no state, nothing has been counted yet.
    queued = not finished and (
        status == TaskResultStatus.READY or (status is None and sent + failed == 0)
    )
    return SendProgress(
        planned=planned, sent=sent, failed=failed, finished=finished, error=error, queued=queued
    )


def _task_status(result_id: str) -> str | None:
    if not result_id or not send_links_task.get_backend().supports_get_result:
        return None
    try:
        return send_links_task.get_result(result_id).status
    except Exception:  # an unknown id (pruned results): fall back on the counts
        return None
