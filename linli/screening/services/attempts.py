"""Contact attempts through any channel (services.attempts.record_attempt is every channel's
collect()): answers merged answer by answer, risk re-evaluated, the target's status moved, and
the same key stored once."""

import json
from dataclasses import dataclass
from datetime import date, datetime
from uuid import uuid4

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from linli.core.actors import Actor, AuditContext
from linli.core.permissions import require
from linli.registry.services.people import record_person_event
from linli.screening.contact import ANSWER_BEARING, CHANNEL_OUTCOMES, REMOTE_CHANNELS
from linli.screening.models import (
    AttemptOutcome,
    CampaignTarget,
    ChannelCode,
    ContactAttempt,
    DoorKnockReason,
    ScreeningAction,
    TargetStatus,
)
from linli.screening.questionnaires.answers import InvalidAnswers, validate_answers
from linli.screening.questionnaires.risk import evaluate_risk
from linli.screening.questionnaires.routing import is_complete, next_question
from linli.screening.questionnaires.schema import FollowUp
from linli.screening.roles import SCREENERS
from linli.screening.services import followups as followup_services

# ---------------------------------------------------------------------------------------------
# Contact attempts

KEY_REUSED = gettext_lazy(
    "These answers were not saved: this save was already received with other answers. "
    "Reload the page to see what is saved, then change the answer there."
)


class KeyReusedWithOtherAnswers(ValidationError):
    """A retry carries a key already stored with other answers, outcome or proxy flag: the
    stored attempt stands and the new content is refused, not silently dropped."""

    def __init__(self) -> None:
        super().__init__({"idempotency_key": KEY_REUSED}, code="key_reused")


@dataclass(frozen=True)
class _Sent:
    """What a call of record_attempt sent, to compare a retry with the stored attempt."""

    outcome: str
    answers: dict[str, object]
    by_proxy: bool


@dataclass(frozen=True)
class RecordedAttempt:
    """The attempt stored (or found again for a retried key), the target as it now stands,
    the question to ask next (None: nothing left) and whether the required ones are done."""

    attempt: ContactAttempt
    target: CampaignTarget
    created: bool
    next_question: str | None
    complete: bool


def record_attempt(
    *,
    target: CampaignTarget,
    channel: str,
    outcome: str,
    answers: dict[str, object] | None = None,
    by: Actor | None = None,
    idempotency_key: str | None = None,
    by_proxy: bool = False,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    detail: dict | None = None,
    context: AuditContext | None = None,
    refuse_changed_retry: bool = False,
) -> RecordedAttempt:
    """Records one contact attempt and brings the target up to date.

    Raw answers are validated against the campaign's questionnaire version and merged into the
    target's answers (answer-by-answer saving: each save adds or replaces only its questions,
    in any order), with their provenance; risk, follow-ups and completeness are re-evaluated.
    The status follows the outcome (see `_apply_outcome`); an answer saying the person needs
    help puts them on the door-knock list at once.

    Idempotent on `idempotency_key`: a second call with a key already stored changes nothing
    and returns the stored attempt with created=False, also when two retries race. With
    `refuse_changed_retry` (a key a person's client made, e.g. the H5 page) a retry must send
    the same outcome, answers and proxy flag: with other content it is refused
    (KeyReusedWithOtherAnswers), since dropping the new answers without a word would tell the
    sender they were saved. Without it the first attempt simply stands (the robot: a dialer
    thought dead that finishes its call late loses to the one that took over). Without a key a
    fresh one is generated (server-side attempts are not retried).

    `by` is the worker recording the attempt (role and jurisdiction are checked, and an audit
    event is written); None for a resident's own H5 submission or the robot, whose caller has
    already authenticated the signed link or the call. A door knock always has a worker.

    Raises PermissionDenied; InvalidAnswers (by question key, nothing stored);
    KeyReusedWithOtherAnswers (a ValidationError); ValidationError for an unknown channel or
    outcome, answers with an outcome that cannot carry them, a key already used for another
    target, or a campaign that is not running or paused.
    """
    if not isinstance(answers or {}, dict) or not isinstance(detail or {}, dict):
        raise ValidationError({"answers": _("Answers must be an object")})
    key = (idempotency_key or uuid4().hex).strip()
    if not key or len(key) > 100:
        raise ValidationError({"idempotency_key": _("Bad idempotency key")})
    if channel not in CHANNEL_OUTCOMES:
        raise ValidationError({"channel": _("Unknown channel %(channel)s") % {"channel": channel}})
    if outcome not in CHANNEL_OUTCOMES[channel]:
        raise ValidationError(
            {
                "outcome": _("The outcome %(outcome)s is not possible on %(channel)s")
                % {"outcome": outcome, "channel": channel}
            }
        )
    if channel not in REMOTE_CHANNELS and by is None:
        raise ValidationError({"by": _("A door knock is recorded by a worker")})
    if by is not None:
        require(by, roles=SCREENERS, paths=[target.area_path])
    sent = (
        _Sent(outcome=outcome, answers=answers or {}, by_proxy=by_proxy)
        if refuse_changed_retry
        else None
    )
    try:
        return _record_attempt(
            target_id=target.pk,
            channel=channel,
            outcome=outcome,
            answers=answers or {},
            by=by,
            key=key,
            by_proxy=by_proxy,
            started_at=started_at,
            finished_at=finished_at,
            detail=detail or {},
            context=context,
            sent=sent,
        )
    except IntegrityError:
        # A retry of the same submission committed between our check and our insert.
        existing = ContactAttempt.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return _replayed(existing, target.pk, sent)


def _as_stored(values: dict[str, object]) -> object:
    # Answers come back from the JSON column as JSON: compare like with like (dates as text).
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def _same_content(attempt: ContactAttempt, sent: _Sent, definition: dict) -> bool:
    """Returns whether a retry sends what the stored attempt holds (answers compared once
    validated, so `"yes"` and `true` are the same answer)."""
    if sent.outcome != attempt.outcome or sent.by_proxy != attempt.by_proxy:
        return False
    values, errors = validate_answers(
        definition, sent.answers, today=timezone.localdate(attempt.finished_at)
    )
    return not errors and _as_stored(values) == _as_stored(attempt.answers)


def _replayed(attempt: ContactAttempt, target_id: int, sent: _Sent | None) -> RecordedAttempt:
    """Returns the stored attempt for a retry of its key.

    Raises ValidationError for a key of another person, KeyReusedWithOtherAnswers for a retry
    whose content (`sent`, None: not compared) differs from the stored attempt's."""
    if attempt.target_id != target_id:
        raise ValidationError({"idempotency_key": _("Key already used for another person")})
    target = CampaignTarget.objects.select_related("campaign__questionnaire_version").get(
        pk=target_id
    )
    definition = target.campaign.questionnaire_version.definition
    if sent is not None and not _same_content(attempt, sent, definition):
        raise KeyReusedWithOtherAnswers()
    return RecordedAttempt(
        attempt=attempt,
        target=target,
        created=False,
        next_question=next_question(definition, target.answers),
        complete=target.complete,
    )


@transaction.atomic
def _record_attempt(
    *,
    target_id: int,
    channel: str,
    outcome: str,
    answers: dict[str, object],
    by: Actor | None,
    key: str,
    by_proxy: bool,
    started_at: datetime | None,
    finished_at: datetime | None,
    detail: dict,
    context: AuditContext | None,
    sent: _Sent | None,
) -> RecordedAttempt:
    # Lock only the target row (`of`): saves for one person queue up so no answer is lost to a
    # concurrent merge, while other people's saves, which share the campaign row, run freely.
    # The same statement looks the key up: a retry committed while we waited for the lock is
    # not seen by it, but then our insert hits the key's unique index and record_attempt
    # replays the stored attempt.
    related = ["campaign__questionnaire_version"]
    if by is not None:
        related.append("person")  # for the audit event
    target = (
        CampaignTarget.objects.select_for_update(of=("self",))
        .select_related(*related)
        .annotate(
            stored_attempt_id=Subquery(
                ContactAttempt.objects.filter(idempotency_key=key).values("pk")[:1]
            )
        )
        .get(pk=target_id)
    )
    if target.stored_attempt_id is not None:
        return _replayed(ContactAttempt.objects.get(pk=target.stored_attempt_id), target_id, sent)
    campaign = target.campaign
    if not campaign.accepts_answers:
        raise ValidationError(_("The campaign is not running"))
    finished_at = finished_at or timezone.now()
    started_at = started_at or finished_at
    today = timezone.localdate(finished_at)
    definition = campaign.questionnaire_version.definition
    values, errors = validate_answers(definition, answers, today=today)
    if errors:
        raise InvalidAnswers(errors)
    if values and outcome not in ANSWER_BEARING:
        raise ValidationError(
            {"answers": _("A %(outcome)s attempt carries no answers") % {"outcome": outcome}}
        )
    attempt = ContactAttempt.objects.create(
        target=target,
        campaign=campaign,
        area_path=target.area_path,
        channel=channel,
        outcome=outcome,
        started_at=started_at,
        finished_at=finished_at,
        answers=values,
        by_id=by.pk if by is not None else None,
        by_proxy=by_proxy,
        detail=detail,
        idempotency_key=key,
    )
    risk_before = (target.risk_level, target.risk_reasons, target.follow_ups)
    fields = _apply_answers(target, attempt, values, definition, today)
    fields += _apply_outcome(
        target, attempt, reached=bool(values) or outcome == AttemptOutcome.ANSWERED
    )
    target.attempt_count += 1
    target.last_attempt_at = max(filter(None, [target.last_attempt_at, finished_at]))
    target.save(update_fields=sorted({*fields, "attempt_count", "last_attempt_at", "updated_at"}))
    if values and (
        followup_services.follow_ups_called_for(target)
        or (target.risk_level, target.risk_reasons, target.follow_ups) != risk_before
    ):
        # In this transaction, under the target's row lock: a risky answer and its task are
        # stored together or not at all. Answers that leave the risk as it was and call for
        # nothing have nothing to raise or bring up to date (the tasks were when it was set).
        followup_services.raise_follow_up_tasks(target=target)
    if by is not None:
        record_person_event(
            ScreeningAction.SCREENING_ANSWER,
            person=target.person,
            by=by,
            context=context,
            # Which questions, never the answers themselves: the log is read more widely.
            detail={
                "campaign": campaign.pk,
                "attempt": attempt.pk,
                "channel": channel,
                "outcome": outcome,
                "questions": sorted(values),
            },
        )
    return RecordedAttempt(
        attempt=attempt,
        target=target,
        created=True,
        next_question=next_question(definition, target.answers, today=today),
        complete=target.complete,
    )


def _apply_answers(
    target: CampaignTarget, attempt: ContactAttempt, values: dict, definition: dict, today: date
) -> list[str]:
    """Merges the attempt's answers into the target and re-evaluates risk. Returns the fields
    changed."""
    if not values:
        return []
    target.answers = {**target.answers, **values}
    source = {
        "attempt": attempt.pk,
        "channel": attempt.channel,
        "at": attempt.finished_at.isoformat(),
        "by": attempt.by_id,
        "proxy": attempt.by_proxy,
    }
    target.answer_sources = {**target.answer_sources, **dict.fromkeys(values, source)}
    risk = evaluate_risk(definition, target.answers, today=today)
    target.risk_level = risk.level
    target.follow_ups = list(risk.follow_ups)
    target.risk_reasons = list(risk.reasons)
    target.needs_help = FollowUp.NEED_HELP in risk.follow_ups
    target.complete = is_complete(definition, target.answers, today=today)
    return [
        "answers",
        "answer_sources",
        "risk_level",
        "follow_ups",
        "risk_reasons",
        "needs_help",
        "complete",
    ]


def _to_door(target: CampaignTarget, reason: str, at: datetime) -> None:
    target.status = TargetStatus.NEEDS_DOOR_KNOCK
    target.door_knock_reason = target.door_knock_reason or reason
    target.escalated_at = target.escalated_at or at


def _apply_outcome(target: CampaignTarget, attempt: ContactAttempt, *, reached: bool) -> list[str]:
    """Moves the target's status after an attempt. Returns the fields changed.

    At the door: reached → reached (the visit is done); refused → refused; anything else keeps
    the household on the list. Remotely: a person who needs help goes on (or stays on) the
    door-knock list until a visit; reached → reached (off the list, saving the walk); once
    reached, a later unanswered call changes nothing; someone already on the list stays there;
    otherwise the outcome decides (refused, wrong number → unreachable, else no answer).
    """
    at = attempt.finished_at
    if reached:
        target.reached_at = target.reached_at or at
        target.answered_via = attempt.channel
        target.answered_by_proxy = attempt.by_proxy
    if attempt.channel == ChannelCode.DOOR_KNOCK:
        if reached:
            target.status = TargetStatus.REACHED
            target.door_knocked_at = at
        elif attempt.outcome == AttemptOutcome.REFUSED:
            target.status = TargetStatus.REFUSED
        else:
            _to_door(target, DoorKnockReason.NOT_AT_HOME, at)
    elif target.needs_help and target.door_knocked_at is None:
        target.door_knock_reason = ""
        _to_door(target, DoorKnockReason.NEED_HELP, at)
    elif reached:
        target.status = TargetStatus.REACHED
        target.door_knock_reason = ""
    elif target.reached_at is not None or target.status == TargetStatus.NEEDS_DOOR_KNOCK:
        pass
    elif attempt.outcome == AttemptOutcome.REFUSED:
        target.status = TargetStatus.REFUSED
    elif attempt.outcome == AttemptOutcome.WRONG_NUMBER:
        target.status = TargetStatus.UNREACHABLE
    else:
        target.status = TargetStatus.NO_ANSWER
    return [
        "status",
        "reached_at",
        "answered_via",
        "answered_by_proxy",
        "door_knocked_at",
        "door_knock_reason",
        "escalated_at",
    ]
