"""Door knocks: the grid worker's one-screen form, sent from the phone, maybe hours later."""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.core.actors import Actor, AuditContext
from linli.screening.models import (
    AttemptOutcome,
    CampaignTarget,
    ChannelCode,
    ContactAttempt,
)
from linli.screening.questionnaires.answers import door_knock_answers
from linli.screening.roles import may_record_for
from linli.screening.services import attempts as attempt_services

# ---------------------------------------------------------------------------------------------
# Door knocks (the grid worker's one-screen form, sent from the phone, maybe hours later)

# What a worker at the door reports; "failed" stays for integrations.
DOOR_KNOCK_OUTCOMES = (
    AttemptOutcome.ANSWERED,
    AttemptOutcome.NOT_AT_HOME,
    AttemptOutcome.REFUSED,
)
DEVICE_MAX_LENGTH = 64


def _clamp(moment: datetime | None, low: datetime | None, high: datetime) -> datetime:
    moment = moment or high
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if low is not None and moment < low:
        return low
    return min(moment, high)


def record_door_knock(
    *,
    target: CampaignTarget,
    by: Actor,
    outcome: str,
    answers: dict[str, object] | None = None,
    by_proxy: bool = False,
    idempotency_key: str,
    recorded_at: datetime | None = None,
    started_at: datetime | None = None,
    device: str = "",
    offline: bool = False,
    context: AuditContext | None = None,
    now: datetime | None = None,
) -> attempt_services.RecordedAttempt:
    """Records a door knock as the worker's phone reports it, through the door-knock channel.

    The phone's clock says when the visit happened (`recorded_at`, and `started_at` when the
    form was opened): a form queued offline is sent later, but the visit keeps its time,
    clamped to lie between the campaign's launch and now (a phone's clock can be wrong).
    Answers count only with the "answered" outcome and only on the path they take
    (door_knock_answers). Resending a key already stored returns the stored attempt
    (created=False) and changes nothing.

    Raises PermissionDenied unless the worker screens the target's area; ValidationError by
    field ("outcome", "idempotency_key", a question's key, "__all__" for a closed campaign).
    """
    if not may_record_for(by, target):
        raise PermissionDenied(_("Outside your jurisdiction"))
    key = (idempotency_key or "").strip() if isinstance(idempotency_key, str) else ""
    detail = {"device": str(device or "")[:DEVICE_MAX_LENGTH], "offline": bool(offline)}
    if key and ContactAttempt.objects.filter(idempotency_key=key, target=target).exists():
        # A resend of a submission already stored: hand back what it stored.
        return attempt_services.record_attempt(
            target=target,
            channel=ChannelCode.DOOR_KNOCK,
            outcome=outcome,
            by=by,
            idempotency_key=key,
            detail=detail,
        )
    errors: dict[str, str] = {}
    if outcome not in DOOR_KNOCK_OUTCOMES:
        errors["outcome"] = _("Choose what happened at the door")
    if not key or len(key) > 100:
        errors["idempotency_key"] = _("Bad idempotency key")
    now = now or timezone.now()
    campaign = target.campaign
    finished_at = _clamp(recorded_at, campaign.launched_at, now)
    started_at = _clamp(started_at or finished_at, campaign.launched_at, finished_at)
    values: dict[str, object] = {}
    if outcome == AttemptOutcome.ANSWERED:
        if not isinstance(answers or {}, dict):
            errors["answers"] = _("Answers must be an object")
        else:
            values, answer_errors = door_knock_answers(
                campaign.questionnaire_version.definition,
                answers or {},
                today=timezone.localdate(finished_at),
            )
            errors.update({k: str(error) for k, error in answer_errors.items()})
    if errors:
        raise ValidationError(errors)
    return attempt_services.record_attempt(
        target=target,
        channel=ChannelCode.DOOR_KNOCK,
        outcome=outcome,
        answers=values,
        by=by,
        idempotency_key=key,
        by_proxy=bool(by_proxy) and outcome == AttemptOutcome.ANSWERED,
        started_at=started_at,
        finished_at=finished_at,
        detail=detail,
        context=context,
    )
