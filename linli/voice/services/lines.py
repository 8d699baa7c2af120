"""A line's outage: the dialer stops dialling on a line after a run of carrier-side failures
(5xx, no response, no route), says so on the line for the robot page, alerts the leads whose
robots call through it (audit event, and a text to their work phone through the SMS
adapter), and clears it once a call goes through again.

The dialer calls these from its database thread; there is no person acting, so the audit
event names the dialer process (`actor_username`).
"""

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.adapters import sms
from linli.audit.services import record_event
from linli.core.actors import AuditContext
from linli.screening.models import CampaignStatus
from linli.voice.models import Line, OutageReason, Robot, RobotStatus, VoiceAction

log = logging.getLogger(__name__)


def _robots_on(line: Line) -> list[Robot]:
    """Returns the running robots that call through the line (their own, or any line)."""
    return list(
        Robot.objects.filter(status=RobotStatus.RUNNING, campaign__status=CampaignStatus.RUNNING)
        .filter(Q(line=line) | Q(line__isnull=True))
        .select_related("updated_by")
        .order_by("pk")
    )


def _audit_line(
    action: str, line: Line, dialer: str, context: AuditContext | None, detail: dict
) -> None:
    """One event per area whose robots call through the line, so each lead's audit log shows
    it (one without an area when no robot runs on it)."""
    areas = sorted({robot.area_path for robot in _robots_on(line)}) or [""]
    for area in areas:
        record_event(
            action=action,
            actor_username=dialer,
            context=context,
            subject=line,
            area_path=area,
            detail=detail,
        )


def _leads_to_alert(line: Line) -> list[tuple[str, str]]:
    """Returns (work phone, username) of whoever last started or set up each running robot
    that calls through the line, once each."""
    seen: dict[str, str] = {}
    for robot in _robots_on(line):
        user = robot.updated_by
        if user is not None and user.work_phone and user.is_active:
            seen.setdefault(user.work_phone, user.get_username())
    return sorted(seen.items())


def _text_leads(line: Line, reason: str, until: datetime) -> int:
    """Texts the leads; an SMS that cannot go (no gateway, a bad number) is logged, never
    stops the dialer. Returns how many texts were accepted."""
    text = _(
        "Linli phone robot: line %(line)s stopped dialling (%(reason)s). It tries again at "
        "%(time)s by itself; residents' retries are not used."
    ) % {
        "line": line.name,
        "reason": OutageReason(reason).label,
        "time": timezone.localtime(until).strftime("%H:%M"),
    }
    sent = 0
    for phone, username in _leads_to_alert(line):
        try:
            result = sms.send_sms(to=phone, text=text, reference=f"line-outage:{line.pk}")
        except Exception as error:
            log.warning("outage text to %s not sent: %s", username, error)
            continue
        sent += int(bool(result.accepted))
    return sent


def report_line_outage(
    *,
    line_id: int,
    reason: str,
    failures: int,
    until: datetime,
    dialer: str,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> bool:
    """Marks the line out of service until `until` (the dialer tries again then) after
    `failures` carrier-side failures in a row, for `reason` (an OutageReason value). The first
    report of an outage is audited (line_outage) and texted to the leads; a later one (the
    trial call failed too) only moves `until`. Returns whether a new outage began."""
    now = now or timezone.now()
    with transaction.atomic():
        line = Line.objects.select_for_update().get(pk=line_id)
        began = line.outage_since is None
        line.outage_reason = reason
        line.outage_since = line.outage_since or now
        line.outage_until = until
        line.outage_failures = failures
        line.save(
            update_fields=[
                "outage_reason",
                "outage_since",
                "outage_until",
                "outage_failures",
                "updated_at",
            ]
        )
        if began:
            _audit_line(
                VoiceAction.LINE_OUTAGE,
                line,
                dialer,
                context,
                {"reason": reason, "failures": failures, "until": until.isoformat()},
            )
    if began:
        log.warning("line %s stopped dialling: %s after %s failures", line.name, reason, failures)
        _text_leads(line, reason, until)
    return began


def clear_line_outage(
    *, line_id: int, dialer: str, now: datetime | None = None, context: AuditContext | None = None
) -> bool:
    """A call went through the line again: it dials as before. Audited (line_resumed) when
    the line was out. Returns whether it was."""
    now = now or timezone.now()
    with transaction.atomic():
        line = Line.objects.select_for_update().get(pk=line_id)
        if line.outage_since is None:
            return False
        lasted = (now - line.outage_since).total_seconds()
        line.outage_reason = ""
        line.outage_since = None
        line.outage_until = None
        line.outage_failures = 0
        line.save(
            update_fields=[
                "outage_reason",
                "outage_since",
                "outage_until",
                "outage_failures",
                "updated_at",
            ]
        )
        _audit_line(
            VoiceAction.LINE_RESUMED, line, dialer, context, {"outage_seconds": round(lasted)}
        )
    log.warning("line %s dials again", line.name)
    return True
