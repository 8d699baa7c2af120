"""The robot's controls, for campaign managers: start (or resume) and pause a campaign's phone
robot, and set its calling hours, retry rules and line. Each change is audited on the campaign.

Starting the robot queues its calls (queue.enqueue_calls); the dialer (calls) places them.
"""

from datetime import datetime, time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.audit.services import record_event
from linli.core.actors import Actor, AuditContext
from linli.core.permissions import require
from linli.screening.models import Campaign, CampaignStatus, ChannelCode
from linli.screening.roles import CAMPAIGN_MANAGERS
from linli.voice.models import RETRYABLE_OUTCOMES, Line, Robot, RobotStatus, VoiceAction
from linli.voice.services.queue import enqueue_calls

MAX_RETRIES_PER_OUTCOME = 10
MAX_RETRY_MINUTES = 24 * 60


def _require_manager(by: Actor, campaign: Campaign) -> None:
    require(by, roles=CAMPAIGN_MANAGERS, paths=[campaign.area_path])


def _audit_robot(
    action: str,
    *,
    campaign: Campaign,
    by: Actor,
    context: AuditContext | None,
    detail: dict[str, Any],
) -> None:
    record_event(
        action=action,
        actor=by,
        context=context,
        subject=campaign,
        detail=detail,
    )


def robot_of(campaign: Campaign) -> Robot:
    """Returns the campaign's robot, created paused with the default hours and rules."""
    robot, _created = Robot.objects.get_or_create(
        campaign=campaign, defaults={"area_path": campaign.area_path}
    )
    return robot


def _check_phone_campaign(campaign: Campaign) -> None:
    if ChannelCode.PHONE not in campaign.channels:
        raise ValidationError(_("This campaign does not use the phone robot."))


@transaction.atomic
def start_robot(
    *,
    campaign: Campaign,
    by: Actor,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> Robot:
    """Starts (or resumes) the robot: queues a call for every target it can reach that has
    none yet, and lets the dialer call them within the calling hours. Audited as robot_start
    the first time, robot_resume after that. Returns the robot. Raises PermissionDenied;
    ValidationError when the campaign is not running or does not use the phone robot."""
    _require_manager(by, campaign)
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _check_phone_campaign(campaign)
    if campaign.status != CampaignStatus.RUNNING:
        raise ValidationError(_("The campaign is not running."))
    robot = robot_of(campaign)
    resumed = robot.started_at is not None
    queued = enqueue_calls(campaign=campaign, now=now)
    robot.status = RobotStatus.RUNNING
    robot.started_at = robot.started_at or now
    robot.updated_by_id = by.pk
    robot.save(update_fields=["status", "started_at", "updated_by", "updated_at"])
    _audit_robot(
        VoiceAction.ROBOT_RESUME if resumed else VoiceAction.ROBOT_START,
        campaign=campaign,
        by=by,
        context=context,
        detail={"queued": queued},
    )
    return robot


@transaction.atomic
def pause_robot(
    *,
    campaign: Campaign,
    by: Actor,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> Robot:
    """Pauses the robot: no new call is placed; calls in progress finish. Audited as
    robot_pause. Returns the robot. Raises PermissionDenied."""
    _require_manager(by, campaign)
    robot = Robot.objects.select_for_update().get(pk=robot_of(campaign).pk)
    robot.status = RobotStatus.PAUSED
    robot.paused_at = now or timezone.now()
    robot.updated_by_id = by.pk
    robot.save(update_fields=["status", "paused_at", "updated_by", "updated_at"])
    _audit_robot(VoiceAction.ROBOT_PAUSE, campaign=campaign, by=by, context=context, detail={})
    return robot


def clean_retry_rules(raw: object) -> dict[str, dict[str, float]]:
    """Returns retry rules in canonical form. Raises ValidationError keyed "retry_rules"."""
    if not isinstance(raw, dict):
        raise ValidationError({"retry_rules": _("The retry rules must be an object.")})
    rules = {}
    for outcome, rule in raw.items():
        if outcome not in RETRYABLE_OUTCOMES:
            raise ValidationError(
                {"retry_rules": _("Unknown outcome %(outcome)s.") % {"outcome": repr(outcome)}}
            )
        if not isinstance(rule, dict):
            raise ValidationError(
                {"retry_rules": _("%(outcome)s: must be an object.") % {"outcome": outcome}}
            )
        try:
            limit, after = int(rule.get("max", 0)), float(rule.get("after_minutes", 30))
        except (TypeError, ValueError):
            raise ValidationError(
                {"retry_rules": _("%(outcome)s: must be numbers.") % {"outcome": outcome}}
            ) from None
        if not 0 <= limit <= MAX_RETRIES_PER_OUTCOME:
            raise ValidationError(
                {
                    "retry_rules": _("%(outcome)s: at most %(max)d attempts.")
                    % {"outcome": outcome, "max": MAX_RETRIES_PER_OUTCOME}
                }
            )
        if not 1 <= after <= MAX_RETRY_MINUTES:
            raise ValidationError(
                {
                    "retry_rules": _("%(outcome)s: retry after 1 to %(minutes)d minutes.")
                    % {"outcome": outcome, "minutes": MAX_RETRY_MINUTES}
                }
            )
        rules[outcome] = {"max": limit, "after_minutes": after}
    return rules


@transaction.atomic
def configure_robot(
    *,
    campaign: Campaign,
    by: Actor,
    calling_start: time,
    calling_end: time,
    retry_rules: dict[str, Any],
    line: Line | None = None,
    context: AuditContext | None = None,
) -> Robot:
    """Sets the robot's calling hours (local time, start before end, no night calls across
    midnight), retry rules and line; audited as robot_settings with the new values. Returns
    the robot. Raises PermissionDenied or ValidationError by field."""
    _require_manager(by, campaign)
    if calling_start >= calling_end:
        raise ValidationError({"calling_end": _("The end must be after the start.")})
    rules = clean_retry_rules(retry_rules)
    if line is not None and not line.enabled:
        raise ValidationError({"line": _("This line is disabled.")})
    robot = Robot.objects.select_for_update().get(pk=robot_of(campaign).pk)
    robot.calling_start, robot.calling_end = calling_start, calling_end
    robot.retry_rules = rules
    robot.line = line
    robot.updated_by_id = by.pk
    robot.save(
        update_fields=[
            "calling_start",
            "calling_end",
            "retry_rules",
            "line",
            "updated_by",
            "updated_at",
        ]
    )
    _audit_robot(
        VoiceAction.ROBOT_SETTINGS,
        campaign=campaign,
        by=by,
        context=context,
        detail={
            "calling_start": calling_start.isoformat("minutes"),
            "calling_end": calling_end.isoformat("minutes"),
            "retry_rules": rules,
            "line": line.pk if line is not None else None,
        },
    )
    return robot
