"""The dialer's steps on a call job: claim, answered, an answer, the outcome, recovery of a
dead dialer's jobs, the sweep of jobs never to be dialled, and the release of unused claims.

The dialer (linli.voice.dialer) runs these synchronous functions in a thread (or inline in
the virtual-time simulation); every step is one transaction, so the database alone says
where each call stands. Answers given during a call are journalled on its job as they are
given (journal_calls, one cheap statement for many calls); when the call ends its attempt,
outcome and every answer, is recorded once through the robot PhoneChannel's collect(), i.e.
linli.screening.services.attempts.record_attempt, keyed by the attempt's call id, so an
attempt is recorded once whoever closes it (the dialer, or the recovery from a dead dialer's
journal).
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from linli.core import identifiers
from linli.core.masking import mask_name
from linli.screening.channels import Channel, get_channel
from linli.screening.contact import ANSWER_BEARING
from linli.screening.models import (
    AttemptOutcome,
    CampaignStatus,
    CampaignTarget,
    ChannelCode,
    DoorKnockReason,
)
from linli.screening.questionnaires.answers import InvalidAnswers
from linli.screening.services import followups as followup_services
from linli.voice.models import (
    ACTIVE_STATES,
    DUE_STATES,
    RETRYABLE_OUTCOMES,
    CallJob,
    DoNotCall,
    JobState,
    RobotStatus,
    default_retry_rules,
)
from linli.voice.services.queue import dialable

log = logging.getLogger(__name__)

# How long a claimed job stays its dialer's without a heartbeat. A dialer alive extends
# the leases of its calls every LEASE_SECONDS / 3; one that died leaves them to expire.
LEASE_SECONDS = 120
# Outcomes that are not the resident's doing keep their own budget (by outcome_counts key),
# whatever the campaign's rules say: a call our side cut (a crashed or stopped dialer) and a
# call the carrier failed (5xx, no response, no route). Generous, yet bounded, so a number
# that always fails at the carrier is not dialled for ever.
INTERRUPTED = "interrupted"
CARRIER_FAILED = "carrier_failed"
OWN_BUDGETS = {
    INTERRUPTED: {"max": 5, "after_minutes": 5},
    CARRIER_FAILED: {"max": 20, "after_minutes": 5},
}
# The reason on the need-help task of a resident who pressed 0 (read by the grid worker).
WANTS_PERSON_NOTE = gettext_lazy("asked the phone robot for a person")


# A lost database connection: never taken for a bad attempt (finish_calls re-raises it).
DB_LOST = (OperationalError, InterfaceError)


def call_id_for(job_id: int, attempt: int) -> str:
    """The attempt's call id: its ContactAttempt key; answers use "<call id>:<question>"."""
    return f"r{job_id}-{attempt}"


@dataclass(frozen=True)
class ClaimedCall:
    """One attempt a dialer holds: everything the call needs, the number only in memory."""

    job_id: int
    call_id: str
    attempt: int
    target_id: int
    campaign_id: int
    person_id: int
    area_path: str
    version_id: int
    line_id: int
    masked_name: str
    retry_rules: dict = field(repr=False)
    number: str = field(repr=False)  # never logged, never stored in clear


def _due_jobs(now: datetime, line_id: int) -> QuerySet[CallJob]:
    local = timezone.localtime(now).time()
    busy = CallJob.objects.filter(person_id=OuterRef("person_id"), state__in=ACTIVE_STATES)
    blocked = DoNotCall.objects.filter(phone_hash=OuterRef("person__phone_hash"))
    return (
        CallJob.objects.filter(
            state__in=DUE_STATES,
            next_at__lte=now,
            campaign__status=CampaignStatus.RUNNING,
            campaign__robot__status=RobotStatus.RUNNING,
            campaign__robot__calling_start__lte=local,
            campaign__robot__calling_end__gt=local,
        )
        .filter(dialable("target__"))
        .filter(Q(campaign__robot__line__isnull=True) | Q(campaign__robot__line_id=line_id))
        .exclude(Exists(busy))
        .exclude(Exists(blocked))
        .exclude(person__phone_hash="")
    )


def claim_jobs(
    *,
    owner: str,
    line_id: int,
    limit: int,
    now: datetime | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> list[ClaimedCall]:
    """Claims up to `limit` due jobs for a line, the vulnerable first then the longest
    waiting: starts their next attempt (a new call id) under the dialer's lease. Never two
    jobs of one person (the database refuses it even across dialers); jobs another dialer is
    claiming are skipped (SKIP LOCKED)."""
    if limit <= 0:
        return []
    now = now or timezone.now()
    try:
        with transaction.atomic():
            return _claim(owner, line_id, limit, now, lease_seconds, one_by_one=False)
    except IntegrityError:
        # Another dialer took a job of one of these people meanwhile: claim one at a time.
        with transaction.atomic():
            return _claim(owner, line_id, limit, now, lease_seconds, one_by_one=True)


def _claim(
    owner: str,
    line_id: int,
    limit: int,
    now: datetime,
    lease_seconds: float,
    *,
    one_by_one: bool,
) -> list[ClaimedCall]:
    candidates = list(
        _due_jobs(now, line_id)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("priority", "next_at", "id")
        .only("id", "person_id", "attempt")[: limit * 2]
    )
    chosen, people = [], set()
    for job in candidates:
        if job.person_id not in people:
            people.add(job.person_id)
            chosen.append(job)
        if len(chosen) == limit:
            break
    if not chosen:
        return []
    expires = now + timedelta(seconds=lease_seconds)
    for job in chosen:
        job.attempt += 1
        job.call_id = call_id_for(job.pk, job.attempt)
        job.state = JobState.DIALLING
        job.lease_owner = owner
        job.lease_expires_at = expires
        job.line_id = line_id
        job.started_at = now
        job.updated_at = now
        job.answers = {}  # the journal of this attempt
        job.dialled_at = None
        job.sip_dialog = ""
    fields = ["attempt", "call_id", "state", "lease_owner", "lease_expires_at", "line"]
    fields += ["started_at", "updated_at", "answers", "dialled_at", "sip_dialog"]
    if one_by_one:
        kept = []
        for job in chosen:
            try:
                with transaction.atomic():
                    CallJob.objects.bulk_update([job], fields)
            except IntegrityError:
                continue
            kept.append(job)
        chosen = kept
    else:
        _start_attempts(chosen, fields)
    details = {
        row["id"]: row
        for row in CallJob.objects.filter(pk__in=[j.pk for j in chosen]).values(
            "id",
            "target_id",
            "campaign_id",
            "person_id",
            "area_path",
            "person__name",
            "person__phone_encrypted",
            "campaign__questionnaire_version_id",
            "campaign__robot__retry_rules",
        )
    }
    claimed = []
    for job in chosen:
        row = details[job.pk]
        claimed.append(
            ClaimedCall(
                job_id=job.pk,
                call_id=job.call_id,
                attempt=job.attempt,
                target_id=row["target_id"],
                campaign_id=row["campaign_id"],
                person_id=row["person_id"],
                area_path=row["area_path"],
                version_id=row["campaign__questionnaire_version_id"],
                line_id=line_id,
                masked_name=mask_name(row["person__name"]),
                retry_rules=row["campaign__robot__retry_rules"] or default_retry_rules(),
                number=identifiers.decrypt(row["person__phone_encrypted"]),
            )
        )
    return claimed


def _start_attempts(jobs: list[CallJob], fields: list[str]) -> None:
    """Writes the claimed jobs' new attempts in one statement (bulk_update's CASE per field
    and row costs more to build than the update itself)."""
    if connection.vendor != "postgresql":
        CallJob.objects.bulk_update(jobs, fields)
        return
    first = jobs[0]
    values: list[str] = []
    params: list[Any] = []
    for job in jobs:
        values.append("(%s::bigint, %s::integer, %s::varchar)")
        params += [job.pk, job.attempt, job.call_id]
    table = connection.ops.quote_name(CallJob._meta.db_table)
    # Placeholders only; the table name is the model's.
    sql = (
        f"UPDATE {table} AS j SET attempt = v.attempt, call_id = v.call_id, "  # noqa: S608
        "state = %s, lease_owner = %s, lease_expires_at = %s, line_id = %s, started_at = %s, "
        "updated_at = %s, answers = '{}'::jsonb, dialled_at = NULL, sip_dialog = '' "
        f"FROM (VALUES {', '.join(values)}) AS v(id, attempt, call_id) WHERE j.id = v.id"
    )
    shared = [first.state, first.lease_owner, first.lease_expires_at, first.line_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*shared, first.started_at, first.updated_at, *params])


def mark_in_call(*, call: ClaimedCall, owner: str, now: datetime | None = None) -> bool:
    """Records that the call was answered (a crash from now on closes it as hung up)."""
    return bool(journal_calls(owner=owner, entries=[JournalEntry(call, in_call=True)], now=now))


def extend_leases(*, owner: str, job_ids: list[int], now: datetime | None = None) -> int:
    """The dialer's heartbeat: its calls in progress stay its own for LEASE_SECONDS more."""
    if not job_ids:
        return 0
    now = now or timezone.now()
    # The lease owner is set only on active jobs (see journal_calls for why no state here).
    return CallJob.objects.filter(pk__in=job_ids, lease_owner=owner).update(
        lease_expires_at=now + timedelta(seconds=LEASE_SECONDS)
    )


def _target_ref(call: ClaimedCall) -> CampaignTarget:
    # record_attempt needs only the key and the path of the target: no query for it.
    return CampaignTarget(pk=call.target_id, area_path=call.area_path)


@dataclass(frozen=True)
class JournalEntry:
    """What a call in progress said since its last entry: that it is about to be placed
    (`dialled`: from then on a crash closes it as interrupted, before it the job goes back to
    the queue untouched), that it was answered (`in_call`, with its SIP `dialog` for the BYE a
    crash would leave unsent) and/or answers just given (question key → value as the dialogue
    read it)."""

    call: ClaimedCall
    answers: dict = field(default_factory=dict)
    in_call: bool = False
    dialled: bool = False
    dialog: dict | None = None


def journal_calls(*, owner: str, entries: list[JournalEntry], now: datetime | None = None) -> int:
    """Journals, in one statement (one commit), what calls in progress said: the answered mark
    (a crash from then on closes the attempt as hung up) and each answer as it was given (a
    crash loses none: the recovery records the journal). Many calls' entries share the write
    (group commit); no validation or risk work happens here, that is done once per call when
    its attempt is recorded. Only the dialer's own attempts still in progress are written.
    Returns how many jobs were written."""
    if not entries:
        return 0
    now = now or timezone.now()
    merged: dict[tuple[int, str], list] = {}
    for entry in entries:
        row = merged.setdefault((entry.call.job_id, entry.call.call_id), [{}, False, False, ""])
        row[0].update(entry.answers)
        row[1] = row[1] or entry.in_call
        row[2] = row[2] or entry.dialled
        if entry.dialog:
            row[3] = seal_dialog(entry.dialog)
    if connection.vendor != "postgresql":
        return _journal_portable(owner, merged, now)
    values: list[str] = []
    params: list[Any] = []
    for (job_id, call_id), (answers, in_call, dialled, dialog) in merged.items():
        values.append("(%s::bigint, %s::varchar, %s::jsonb, %s::boolean, %s::boolean, %s::text)")
        params += [job_id, call_id, json.dumps(answers, cls=DjangoJSONEncoder), in_call]
        params += [dialled, dialog]
    table = connection.ops.quote_name(CallJob._meta.db_table)
    # Placeholders only; the table name is the model's.
    sql = (
        f"UPDATE {table} AS j SET "  # noqa: S608
        "state = CASE WHEN v.in_call THEN %s ELSE j.state END, "
        "dialled_at = CASE WHEN v.dialled THEN %s ELSE j.dialled_at END, "
        "sip_dialog = CASE WHEN v.dialog <> '' THEN v.dialog ELSE j.sip_dialog END, "
        "answers = j.answers || v.answers, updated_at = %s "
        f"FROM (VALUES {', '.join(values)}) AS v(id, call_id, answers, in_call, dialled, dialog) "
        "WHERE j.id = v.id AND j.call_id = v.call_id AND j.lease_owner = %s"
    )
    # No condition on the state: a lease owner is set only while the job is dialling or in a
    # call (claim sets it; finishing, recovery and release clear it). A state condition would
    # also let the planner pick the partial index of active jobs, which statistics taken
    # before a campaign started call empty, and scan every call in progress per write.
    with connection.cursor() as cursor:
        cursor.execute(sql, [JobState.IN_CALL, now, now, *params, owner])
        return cursor.rowcount


def _journal_portable(owner: str, merged: dict, now: datetime) -> int:
    written = 0
    with transaction.atomic():
        for (job_id, call_id), (answers, in_call, dialled, dialog) in merged.items():
            job = (
                CallJob.objects.select_for_update()
                .filter(pk=job_id, call_id=call_id, lease_owner=owner, state__in=ACTIVE_STATES)
                .only("id", "state", "answers", "dialled_at", "sip_dialog")
                .first()
            )
            if job is None:
                continue
            job.answers = {**job.answers, **json.loads(json.dumps(answers, cls=DjangoJSONEncoder))}
            job.state = JobState.IN_CALL if in_call else job.state
            job.dialled_at = now if dialled else job.dialled_at
            job.sip_dialog = dialog or job.sip_dialog
            job.updated_at = now
            job.save(update_fields=["answers", "state", "dialled_at", "sip_dialog", "updated_at"])
            written += 1
    return written


def seal_dialog(dialog: dict) -> str:
    """Returns a SIP dialog's description encrypted for CallJob.sip_dialog."""
    return identifiers.encrypt(json.dumps(dialog))


def open_dialog(sealed: str) -> dict | None:
    """Returns the SIP dialog sealed in CallJob.sip_dialog, None when there is none or it
    cannot be read (then no BYE can be sent: the far end's own timers end the call)."""
    if not sealed:
        return None
    try:
        dialog = json.loads(identifiers.decrypt(sealed))
    except Exception:  # a key rotated since, a truncated value: nothing to send a BYE with
        log.warning("a SIP dialog left open could not be read")
        return None
    return dialog if isinstance(dialog, dict) else None


def save_answer(
    *, call: ClaimedCall, owner: str, key: str, value: object, at: datetime | None = None
) -> bool:
    """Journals one answer given on the call the moment it is given (a crash loses nothing
    said); the attempt recorded at the end of the call carries it. Returns whether it was
    written (False: the attempt is no longer this dialer's)."""
    return bool(
        journal_calls(owner=owner, entries=[JournalEntry(call, answers={key: value})], now=at)
    )


def next_step(
    rules: dict,
    counts: dict[str, int],
    outcome: str,
    now: datetime,
    *,
    complete: bool = False,
    counts_as: str = "",
) -> tuple[str, datetime | None]:
    """Returns the job's next state and when the next attempt is due, from the outcome just
    recorded (`counts` already includes it, under `counts_as` when given): answered, refused
    or a complete questionnaire end it; a wrong number gives up; other outcomes retry after
    their interval until their `max` attempts with that outcome are used. An interrupted call
    or a carrier failure (`counts_as` one of OWN_BUDGETS) uses its own budget, never the
    campaign's rules: it is not the resident's doing."""
    if outcome in (AttemptOutcome.ANSWERED, AttemptOutcome.REFUSED) or complete:
        return JobState.DONE, None
    key = counts_as or outcome
    if key in OWN_BUDGETS:
        rule: dict | None = OWN_BUDGETS[key]
    elif outcome not in RETRYABLE_OUTCOMES:
        return JobState.GIVEN_UP, None
    else:
        rule = (rules or {}).get(outcome)
    if not rule:
        return JobState.GIVEN_UP, None
    if counts.get(key, 0) < int(rule.get("max", 0)):
        return JobState.WAITING_RETRY, now + timedelta(minutes=float(rule["after_minutes"]))
    return JobState.GIVEN_UP, None


@dataclass(frozen=True)
class Finish:
    """How one attempt ended, to record: the outcome, every answer given on the call (by
    question key, as the dialogue read them), whether a family member answered, and carrier
    and dialogue details for the attempt record (never the number)."""

    call: ClaimedCall
    outcome: str
    started_at: datetime
    finished_at: datetime
    answers: dict = field(default_factory=dict)
    by_proxy: bool = False
    detail: dict = field(default_factory=dict)
    wants_person: bool = False  # pressed 0: a worker must visit (the robot calls no more)
    # The outcome_counts key the attempt counts under when not its outcome's (OWN_BUDGETS).
    counts_as: str = ""


@dataclass(frozen=True)
class FinishedCall:
    outcome: str  # as recorded (a replayed key keeps the outcome stored first)
    state: str
    next_at: datetime | None
    recorded: bool  # an attempt was stored now (False: it was already, or could not be)
    answers: int = 0  # answers the stored attempt carries


def finish_call(
    *,
    call: ClaimedCall,
    owner: str | None,
    outcome: str,
    started_at: datetime,
    finished_at: datetime,
    answers: dict | None = None,
    by_proxy: bool = False,
    detail: dict | None = None,
) -> FinishedCall:
    """Records one attempt and moves its job on: finish_calls for a single call."""
    finish = Finish(call, outcome, started_at, finished_at, answers or {}, by_proxy, detail or {})
    result = finish_calls(owner=owner, finishes=[finish])[0]
    if result is None:
        raise RuntimeError(f"attempt {call.call_id} could not be recorded")
    return result


def finish_calls(*, owner: str | None, finishes: list[Finish]) -> list[FinishedCall | None]:
    """Records the attempts of calls that ended, and moves their jobs on (retry per the
    campaign's rules, done, or given up), in one transaction for them all (group commit).

    Each attempt is one ContactAttempt through the robot's PhoneChannel (record_attempt: the
    same attempt, outcome and answer records as every channel; risk, follow-ups and the
    target's status from the answers), keyed by the call id, so an attempt closed twice counts
    once and keeps the outcome stored first. An answer record_attempt refuses is left out (and
    logged) rather than losing the others. `owner` None: a recovery, which takes the job
    whoever leased it. Returns one FinishedCall per finish, in order; None where the attempt
    could not be written (its lease will expire and the recovery record it)."""
    if not finishes:
        return []
    try:
        with transaction.atomic():
            return list(_finish_batch(owner, finishes))
    except DB_LOST:
        raise  # the connection, not an attempt: the caller retries the whole batch
    except Exception:
        if len(finishes) == 1:
            raise
        log.exception("recording %s attempts together failed; one by one", len(finishes))
    results: list[FinishedCall | None] = []
    for finish in finishes:
        try:
            with transaction.atomic():
                results.extend(_finish_batch(owner, [finish]))
        except DB_LOST:
            raise
        except Exception:
            log.exception("attempt %s not recorded", finish.call.call_id)
            results.append(None)
    return results


def _finish_batch(owner: str | None, finishes: list[Finish]) -> list[FinishedCall]:
    jobs = {
        job.pk: job
        for job in CallJob.objects.select_for_update()
        .filter(pk__in={f.call.job_id for f in finishes})
        .order_by("pk")
        .only("id", "call_id", "state", "lease_owner", "outcome_counts", "next_at")
    }
    channel = get_channel(ChannelCode.PHONE)
    results: dict[int, FinishedCall] = {}
    changed: list[tuple[CallJob, str, str, datetime | None, datetime]] = []
    # Targets are locked in job order, as another dialer finishing with us would lock them.
    for index, finish in sorted(enumerate(finishes), key=lambda item: item[1].call.job_id):
        call = finish.call
        job = jobs.get(call.job_id)
        ours = _held(job, call, owner)
        recorded = _record(channel, finish)
        if recorded is None:
            # The campaign closed under the call: nothing more to record or to retry.
            if ours is not None:
                changed.append((ours, finish.outcome, JobState.GIVEN_UP, None, finish.finished_at))
                ours.state = JobState.GIVEN_UP
            results[index] = FinishedCall(finish.outcome, JobState.GIVEN_UP, None, False)
            continue
        outcome, created, complete, answered = recorded
        if finish.wants_person:
            # Same transaction as the attempt: the request for a person is never lost to a
            # crash between the two. The target leaves the robot's queue for the door list.
            followup_services.request_visit(
                target=_target_ref(call),
                reason=DoorKnockReason.NEED_HELP,
                now=finish.finished_at,
                note=str(WANTS_PERSON_NOTE),
            )
            complete = True
        if ours is None:
            state, next_at = (job.state, job.next_at) if job else (JobState.DONE, None)
            results[index] = FinishedCall(outcome, state, next_at, created, answered)
            continue
        key = finish.counts_as or outcome
        counts = dict(ours.outcome_counts)
        counts[key] = counts.get(key, 0) + 1
        ours.outcome_counts = counts
        state, next_at = next_step(
            call.retry_rules,
            counts,
            outcome,
            finish.finished_at,
            complete=complete,
            counts_as=finish.counts_as,
        )
        changed.append((ours, outcome, state, next_at, finish.finished_at))
        ours.state = state  # a second finish of this attempt in the batch is not ours
        results[index] = FinishedCall(outcome, state, next_at, created, answered)
    _set_jobs(changed)
    return [results[index] for index in range(len(finishes))]


def _held(job: CallJob | None, call: ClaimedCall, owner: str | None) -> CallJob | None:
    """Returns the job when the call is still its attempt in progress (and, given an owner,
    that owner's); None when the attempt was closed or taken over meanwhile."""
    if job is None or job.call_id != call.call_id or job.state not in ACTIVE_STATES:
        return None
    if owner is not None and job.lease_owner != owner:
        return None
    return job


def _record(channel: Channel, finish: Finish) -> tuple[str, bool, bool, int] | None:
    """Stores the attempt; returns (outcome as stored, created now, questionnaire complete,
    answers stored), or None when the campaign no longer takes answers."""
    answers = dict(finish.answers)
    outcome = finish.outcome
    if answers and outcome not in ANSWER_BEARING:
        # Answers were given, so the call was answered: it ended mid-way.
        outcome = AttemptOutcome.HUNG_UP
    while True:
        try:
            result = channel.collect(
                target=_target_ref(finish.call),
                outcome=outcome,
                answers=answers,
                idempotency_key=finish.call.call_id,
                by_proxy=finish.by_proxy and bool(answers),
                started_at=finish.started_at,
                finished_at=finish.finished_at,
                detail=finish.detail,
            )
        except InvalidAnswers as error:
            refused = set(error.answer_errors) & set(answers)
            if not refused:
                raise
            log.warning(
                "answers %s of %s not stored: %s",
                sorted(refused),
                finish.call.call_id,
                error.messages,
            )
            answers = {k: v for k, v in answers.items() if k not in refused}
            continue
        except ValidationError as error:
            log.info("attempt %s not stored: %s", finish.call.call_id, error.messages)
            return None
        attempt = result.attempt
        return attempt.outcome, result.created, result.target.complete, len(attempt.answers)


def _set_jobs(changed: list[tuple[CallJob, str, str, datetime | None, datetime]]) -> None:
    """Moves the jobs on in one statement, emptying their journals (the attempt holds the
    answers now)."""
    if not changed:
        return
    now = timezone.now()
    if connection.vendor != "postgresql":
        for job, outcome, state, next_at, finished_at in changed:
            CallJob.objects.filter(pk=job.pk).update(
                state=state,
                last_outcome=outcome,
                outcome_counts=job.outcome_counts,
                next_at=next_at or job.next_at,
                lease_owner="",
                lease_expires_at=None,
                finished_at=finished_at,
                answers={},
                sip_dialog="",
                updated_at=now,
            )
        return
    values: list[str] = []
    params: list[Any] = []
    for job, outcome, state, next_at, finished_at in changed:
        values.append(
            "(%s::bigint, %s::varchar, %s::varchar, %s::jsonb, %s::timestamptz, %s::timestamptz)"
        )
        params += [job.pk, state, outcome, json.dumps(job.outcome_counts), next_at, finished_at]
    table = connection.ops.quote_name(CallJob._meta.db_table)
    # Placeholders only; the table name is the model's.
    sql = (
        f"UPDATE {table} AS j SET state = v.state, last_outcome = v.outcome, "  # noqa: S608
        "outcome_counts = v.counts, next_at = COALESCE(v.next_at, j.next_at), "
        "lease_owner = '', lease_expires_at = NULL, finished_at = v.finished_at, "
        "answers = '{}'::jsonb, sip_dialog = '', updated_at = %s "
        f"FROM (VALUES {', '.join(values)}) AS v(id, state, outcome, counts, next_at, finished_at) "
        "WHERE j.id = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, *params])


@dataclass(frozen=True)
class LeftDialog:
    """A SIP dialog a dead dialer left open: the line it was on and what a BYE needs."""

    line_id: int
    dialog: dict = field(repr=False)


@dataclass(frozen=True)
class Recovery:
    """What recover_expired did: attempts closed as interrupted, jobs given back untouched
    (claimed but never dialled), and the dialogs left open that still want a BYE."""

    closed: int = 0
    released: int = 0
    dialogs: list[LeftDialog] = field(default_factory=list)


def recover_expired(*, now: datetime | None = None, limit: int = 500) -> Recovery:
    """Takes back the jobs whose dialer's lease expired (it died or lost the database).

    A job it claimed but never dialled (no dialled_at: it waited for the line's pace) goes
    back to the queue untouched: no attempt recorded, its attempt number given back. A call
    that was placed is recorded as interrupted, with every answer its journal holds, and is
    retried on the interrupted budget (OWN_BUDGETS), never the resident's retries, never
    redialled under the same attempt. The dialogs of answered calls come back for a BYE."""
    now = now or timezone.now()
    with transaction.atomic():
        jobs = list(
            CallJob.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state__in=ACTIVE_STATES, lease_expires_at__lte=now)
            .select_related("campaign__robot")
            .order_by("lease_expires_at")[:limit]
        )
        undialled = [j.pk for j in jobs if j.state == JobState.DIALLING and j.dialled_at is None]
        if undialled:
            CallJob.objects.filter(pk__in=undialled).update(
                state=JobState.QUEUED,
                attempt=F("attempt") - 1,
                call_id="",
                lease_owner="",
                lease_expires_at=None,
                updated_at=now,
            )
        finishes, dialogs = [], []
        for job in jobs:
            if job.pk in undialled:
                continue
            dialog = open_dialog(job.sip_dialog)
            if dialog is not None and job.line_id:
                dialogs.append(LeftDialog(line_id=job.line_id, dialog=dialog))
            call = ClaimedCall(
                job_id=job.pk,
                call_id=job.call_id,
                attempt=job.attempt,
                target_id=job.target_id,
                campaign_id=job.campaign_id,
                person_id=job.person_id,
                area_path=job.area_path,
                version_id=0,
                line_id=job.line_id or 0,
                masked_name="",
                retry_rules=_rules_of(job),
                number="",
            )
            finishes.append(
                Finish(
                    call=call,
                    outcome=AttemptOutcome.INTERRUPTED,
                    started_at=job.dialled_at or job.started_at or now,
                    finished_at=now,
                    answers=dict(job.answers or {}),
                    detail={
                        "attempt": job.attempt,
                        "recovered": True,
                        "dialer": job.lease_owner,
                        "answered": job.state == JobState.IN_CALL,
                    },
                    counts_as=INTERRUPTED,
                )
            )
        for finish, result in zip(
            finishes, finish_calls(owner=None, finishes=finishes), strict=True
        ):
            if result is None:
                raise RuntimeError(f"attempt {finish.call.call_id} could not be recovered")
    return Recovery(closed=len(finishes), released=len(undialled), dialogs=dialogs)


def _rules_of(job: CallJob) -> dict:
    robot = getattr(job.campaign, "robot", None)
    return robot.retry_rules if robot is not None else default_retry_rules()


def sweep_jobs(*, now: datetime | None = None) -> int:
    """Takes out of the queue the jobs that will never be dialled: the target was reached,
    refused or escalated by another channel (done), the campaign closed, or the number is on
    the do-not-call list (given up). Returns how many."""
    now = now or timezone.now()
    due = CallJob.objects.filter(state__in=DUE_STATES)
    count = due.filter(campaign__status=CampaignStatus.CLOSED).update(
        state=JobState.GIVEN_UP, last_outcome="closed", updated_at=now
    )
    blocked = DoNotCall.objects.filter(phone_hash=OuterRef("person__phone_hash"))
    count += due.filter(Exists(blocked)).update(
        state=JobState.GIVEN_UP, last_outcome="do_not_call", updated_at=now
    )
    count += due.exclude(dialable("target__")).update(
        state=JobState.DONE, last_outcome="skipped", updated_at=now
    )
    return count


def release_jobs(*, owner: str, job_ids: list[int]) -> int:
    """Gives back jobs a stopping dialer claimed but never dialled (no attempt was made):
    they are due again under their attempt number minus one."""
    if not job_ids:
        return 0
    return CallJob.objects.filter(
        pk__in=job_ids, lease_owner=owner, state=JobState.DIALLING, dialled_at__isnull=True
    ).update(
        state=JobState.QUEUED,
        attempt=F("attempt") - 1,
        call_id="",
        lease_owner="",
        lease_expires_at=None,
    )


def upcoming_calls(
    *, line_id: int, limit: int, now: datetime | None = None
) -> list[tuple[int, str]]:
    """The next `limit` due calls of a line, in the order claim_jobs takes them, as
    (questionnaire version id, masked name): read only, nothing is claimed. The dialer has
    their identity prompts made before it claims them."""
    now = now or timezone.now()
    rows = (
        _due_jobs(now, line_id)
        .order_by("priority", "next_at", "id")
        .values_list("campaign__questionnaire_version_id", "person__name")[:limit]
    )
    return [(version_id, mask_name(name)) for version_id, name in rows]
