"""Reads of the phone robot: what the robot page shows for one campaign.

The campaign comes through linli.screening.selectors.campaign_for (visible to the user, 404
otherwise); the figures are counts over the campaign's jobs and attempts, no person in them.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from linli.core.actors import Actor
from linli.screening.models import AttemptOutcome, Campaign, ChannelCode, ContactAttempt
from linli.screening.selectors import campaigns as campaign_selectors
from linli.voice.models import (
    ACTIVE_STATES,
    SIMULATED_LINE_NAME,
    CallJob,
    CarrierKind,
    JobState,
    Line,
    OutageReason,
    Robot,
    RobotStatus,
)

# Why a job stopped without a call: set by the dialer and services.sweep_jobs, never an
# attempt's outcome.
JOB_ONLY_OUTCOMES = {
    "do_not_call": _("On the do-not-call list"),
    "closed": _("Campaign closed"),
    "skipped": _("No call needed"),
}


@dataclass(frozen=True)
class LineUse:
    name: str
    carrier: str
    in_use: int
    capacity: int
    calls_per_second: float
    outage: str = ""  # why the line does not dial now (a carrier outage), "" when it dials


@dataclass(frozen=True)
class RecentCall:
    outcome: str
    outcome_label: str
    finished_at: datetime
    attempt: int | None


class RobotState:
    """What the robot is doing, as its page says it (RobotView.state)."""

    NOT_STARTED = "not_started"  # never started: nothing was ever queued
    PAUSED = "paused"
    WAITING = "waiting"  # started, but outside its calling hours: no call until they begin
    CALLING = "running"


@dataclass(frozen=True)
class RobotView:
    campaign: Campaign
    robot: Robot
    state: str  # a RobotState value
    state_label: str
    reason: str  # why a started robot places no call now ("" when it calls)
    by_state: list[tuple[str, str, int]]  # (state, label, count), every state
    total: int
    in_call: int
    calls_last_minute: int
    answered_last_minute: int
    lines: list[LineUse]
    outcomes: list[tuple[str, str, int]]  # last outcome of the jobs
    recent: list[RecentCall]
    as_of: datetime

    @property
    def progress_percent(self) -> int:
        finished = sum(n for s, _l, n in self.by_state if s in (JobState.DONE, JobState.GIVEN_UP))
        return round(100 * finished / self.total) if self.total else 0


def campaign_for(user: Actor, campaign_id: int) -> Campaign:
    """Returns the campaign if visible to the user. Raises Http404 or PermissionDenied."""
    return campaign_selectors.campaign_for(user, campaign_id)


def line_label(line: Line) -> str:
    """Returns the name a line is shown under: the line the dialer makes for a demo gets a
    translated name, every other line the name an administrator gave it."""
    if line.name == SIMULATED_LINE_NAME and line.carrier == CarrierKind.SIMULATED:
        return gettext("Simulated line")
    return line.name


def line_outage(line: Line) -> str:
    """Returns why the line stopped dialling and when it tries again, as the robot page says
    it; "" when it dials."""
    if line.outage_since is None:
        return ""
    reason = OutageReason(line.outage_reason).label if line.outage_reason else ""
    since = _hhmm(timezone.localtime(line.outage_since).time())
    if line.outage_until is not None:
        at = _hhmm(timezone.localtime(line.outage_until).time())
        return gettext(
            "Line %(line)s stopped dialling at %(since)s: %(reason)s (%(failures)s calls failed "
            "in a row). It tries again at %(time)s by itself; residents' retries are not used."
        ) % {
            "line": line_label(line),
            "since": since,
            "reason": reason,
            "failures": line.outage_failures,
            "time": at,
        }
    return gettext(
        "Line %(line)s stopped dialling at %(since)s: %(reason)s. It tries again by itself; "
        "residents' retries are not used."
    ) % {"line": line_label(line), "since": since, "reason": reason}


def robot_state(robot: Robot, now: datetime) -> tuple[str, str, str]:
    """Returns the robot's state (a RobotState value), its label, and why it places no call
    now when it was started but waits for its calling hours (local time) — "" otherwise."""
    if robot.status != RobotStatus.RUNNING:
        if robot.started_at is None:
            return RobotState.NOT_STARTED, pgettext("robot status", "Not started"), ""
        return RobotState.PAUSED, str(RobotStatus.PAUSED.label), ""
    local = timezone.localtime(now)
    start, end = robot.calling_start, robot.calling_end
    if start <= local.time() < end:
        return RobotState.CALLING, str(RobotStatus.RUNNING.label), ""
    at = _hhmm(start)
    if local.time() < start:
        reason = gettext("Outside calling hours: calls start at %(time)s.") % {"time": at}
    else:
        reason = gettext("Outside calling hours: calls start tomorrow at %(time)s.") % {"time": at}
    return RobotState.WAITING, pgettext("robot status", "Waiting for calling hours"), reason


def _hhmm(moment: time) -> str:
    return moment.strftime("%H:%M")


def robot_view(campaign: Campaign, *, now: datetime | None = None) -> RobotView:
    """The robot's state and figures for the campaign page (the caller checked access)."""
    now = now or timezone.now()
    # Read only: a campaign whose robot never started shows the defaults it would start with.
    robot = Robot.objects.filter(campaign=campaign).select_related("line").first() or Robot(
        campaign=campaign, area_path=campaign.area_path
    )
    jobs = CallJob.objects.filter(campaign=campaign)
    counts = dict(jobs.values_list("state").annotate(n=Count("id")).order_by())
    by_state = [(state, str(label), counts.get(state, 0)) for state, label in JobState.choices]
    outcome_labels = {**dict(AttemptOutcome.choices), **JOB_ONLY_OUTCOMES}
    outcomes = [
        (outcome, str(outcome_labels.get(outcome, outcome)), n)
        for outcome, n in jobs.exclude(last_outcome="")
        .values_list("last_outcome")
        .annotate(n=Count("id"))
        .order_by("-n")
    ]
    in_use = dict(
        jobs.filter(state__in=ACTIVE_STATES, line__isnull=False)
        .values_list("line_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    line_rows = Line.objects.filter(enabled=True)
    if robot.line_id:
        line_rows = line_rows.filter(pk=robot.line_id)
    lines = [
        LineUse(
            name=line_label(line),
            carrier=line.get_carrier_display(),
            in_use=in_use.get(line.pk, 0),
            capacity=line.max_concurrent,
            calls_per_second=line.calls_per_second,
            outage=line_outage(line),
        )
        for line in line_rows.order_by("name")
    ]
    # One attempt per call (its outcome and every answer given on it).
    finals = ContactAttempt.objects.filter(campaign=campaign, channel=ChannelCode.PHONE)
    last_minute = finals.filter(finished_at__gte=now - timedelta(minutes=1))
    recent = [
        RecentCall(
            outcome=a.outcome,
            outcome_label=a.get_outcome_display(),
            finished_at=a.finished_at,
            attempt=(a.detail or {}).get("attempt"),
        )
        for a in finals.order_by("-finished_at", "-id").only("outcome", "finished_at", "detail")[
            :10
        ]
    ]
    state, state_label, reason = robot_state(robot, now)
    return RobotView(
        campaign=campaign,
        robot=robot,
        state=state,
        state_label=state_label,
        reason=reason,
        by_state=by_state,
        total=sum(counts.values()),
        in_call=counts.get(JobState.IN_CALL, 0) + counts.get(JobState.DIALLING, 0),
        calls_last_minute=last_minute.count(),
        answered_last_minute=last_minute.filter(outcome=AttemptOutcome.ANSWERED).count(),
        lines=lines,
        outcomes=outcomes,
        recent=recent,
        as_of=now,
    )


def enabled_lines() -> QuerySet[Line]:
    """Returns the lines the robot may call through, by name."""
    return Line.objects.filter(enabled=True).order_by("name")
