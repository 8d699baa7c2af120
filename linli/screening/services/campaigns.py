"""Writes of screening: questionnaires and their versions, campaigns, contact attempts,
escalation to the door-knock lists, and the follow-up tasks risky answers raise.

Every function takes keyword-only arguments, checks the acting user's role and jurisdiction,
and writes in one transaction. Errors are ValidationError with Chinese and English text,
keyed by field (or by question key for answers).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone

from linli.areas.models import Area
from linli.core.bulkload import BULK_BATCH, insert_rows
from linli.core.jurisdiction import path_within
from linli.core.permissions import require
from linli.core.roles import Role
from linli.registry.models import Person
from linli.registry.services import record_person_event
from linli.screening import channels as channel_registry
from linli.screening import questionnaires as definitions
from linli.screening.models import (
    AttemptOutcome,
    Campaign,
    CampaignStatus,
    CampaignTarget,
    ChannelCode,
    ContactAttempt,
    DoorKnockReason,
    FollowUpTask,
    Questionnaire,
    QuestionnaireVersion,
    ScreeningAction,
    TargetStatus,
    TaskStatus,
)
from linli.screening.questionnaires import (
    RISK_ORDER,
    TEMPLATES,
    AnswerError,
    DefinitionError,
    FollowUp,
    RiskLevel,
    evaluate_risk,
    is_complete,
    next_question,
    template_definition,
    validate_answers,
    validate_definition,
)
from linli.screening.targeting import TargetFilters, matching_people

# Who organises campaigns: a community lead for their community, officials for everything
# below them (a street-wide 全员排查).
CAMPAIGN_MANAGERS = (
    Role.COMMUNITY_LEAD,
    Role.STREET_OFFICER,
    Role.DISTRICT_OFFICER,
    Role.CITY_OFFICER,
)
# Who records contact attempts for residents (door knocks, calls made by hand).
SCREENERS = (Role.GRID_WORKER, Role.COMMUNITY_LEAD)

# Outcomes that may carry answers: a call can end in a hang-up after three questions, and a
# resident can answer some questions and refuse the rest.
ANSWER_BEARING = {AttemptOutcome.ANSWERED, AttemptOutcome.HUNG_UP, AttemptOutcome.REFUSED}
# Statuses of targets nobody has reached yet.
UNREACHED = (
    TargetStatus.PENDING,
    TargetStatus.NO_ANSWER,
    TargetStatus.REFUSED,
    TargetStatus.UNREACHABLE,
)


class InvalidDefinition(ValidationError):
    """A questionnaire definition with problems; `errors` keeps them located by key/field."""

    def __init__(self, errors: list[DefinitionError]):
        super().__init__([str(error) for error in errors], code="invalid_definition")
        self.definition_errors = errors


class InvalidAnswers(ValidationError):
    """Answers that do not fit their questions, by question key (nothing was stored)."""

    def __init__(self, errors: dict[str, AnswerError]):
        super().__init__({key: str(error) for key, error in errors.items()})
        self.answer_errors = errors


def _require_manager(by, *paths: str) -> None:
    require(by, roles=CAMPAIGN_MANAGERS, paths=paths)


def _require_visible_questionnaire(by, questionnaire: Questionnaire) -> None:
    if getattr(by, "is_superuser", False):
        return
    if not Questionnaire.objects.visible_to(by).filter(pk=questionnaire.pk).exists():
        raise PermissionDenied("outside your jurisdiction / 不在管辖范围内")


def _check_definition(definition: dict) -> None:
    errors = validate_definition(definition)
    if errors:
        raise InvalidDefinition(errors)


# ---------------------------------------------------------------------------------------------
# Questionnaires


@transaction.atomic
def create_questionnaire(
    *,
    name: str,
    area: Area,
    by,
    from_template: str | None = None,
    definition: dict | None = None,
) -> Questionnaire:
    """Creates a questionnaire owned by `area` with version 1, from a ready template
    (questionnaires.TEMPLATES) or a given definition.

    Raises PermissionDenied outside the user's role or jurisdiction; ValidationError for an
    unknown template, a missing name, or an invalid definition (InvalidDefinition).
    """
    _require_manager(by, area.path)
    if from_template is not None:
        if from_template not in TEMPLATES:
            raise ValidationError({"from_template": "未知的问卷模板 / unknown template"})
        definition = template_definition(from_template)
    if definition is None:
        raise ValidationError({"definition": "请选择模板或提供问卷 / a template or definition"})
    name = name.strip()
    if not name:
        raise ValidationError({"name": "请填写名称 / a name is required"})
    _check_definition(definition)
    questionnaire = Questionnaire.objects.create(
        name=name,
        area=area,
        area_path=area.path,
        template=from_template or "",
        created_by=by,
    )
    QuestionnaireVersion.objects.create(
        questionnaire=questionnaire,
        number=1,
        definition=definition,
        area_path=area.path,
        created_by=by,
    )
    return questionnaire


@transaction.atomic
def save_questionnaire_version(
    *, questionnaire: Questionnaire, definition: dict, by
) -> QuestionnaireVersion:
    """Saves an edited definition and returns the version holding it.

    The latest version is updated in place while no campaign has been launched with it (a
    draft campaign on it sees the edit); once frozen by a launch, the edit becomes the next
    version and running campaigns keep theirs. Saving an unchanged definition changes nothing.
    Raises PermissionDenied, or InvalidDefinition (nothing saved).
    """
    _require_manager(by, questionnaire.area_path)
    _check_definition(definition)
    # Lock the questionnaire so two editors cannot both create version n+1.
    Questionnaire.objects.select_for_update().filter(pk=questionnaire.pk).first()
    latest = questionnaire.versions.order_by("-number").first()
    if latest is not None and latest.definition == definition:
        return latest
    if latest is not None and not latest.is_frozen:
        latest.definition = definition
        latest.save(update_fields=["definition", "updated_at"])
        version = latest
    else:
        version = QuestionnaireVersion.objects.create(
            questionnaire=questionnaire,
            number=(latest.number + 1) if latest else 1,
            definition=definition,
            area_path=questionnaire.area_path,
            created_by=by,
        )
    questionnaire.save(update_fields=["updated_at"])
    return version


@transaction.atomic
def rename_questionnaire(*, questionnaire: Questionnaire, name: str, by) -> Questionnaire:
    _require_manager(by, questionnaire.area_path)
    if not name.strip():
        raise ValidationError({"name": "请填写名称 / a name is required"})
    questionnaire.name = name.strip()
    questionnaire.save(update_fields=["name", "updated_at"])
    return questionnaire


# ---------------------------------------------------------------------------------------------
# Campaigns


def _clean_channels(channels: Iterable[str]) -> list[str]:
    codes = list(dict.fromkeys(channels))  # drop repeats, keep order
    if not codes:
        raise ValidationError({"channels": "至少选择一种渠道 / choose at least one channel"})
    for code in codes:
        if code not in ChannelCode.values:
            raise ValidationError({"channels": f"未知的渠道 / unknown channel {code!r}"})
        try:
            channel_registry.get_channel(code)
        except LookupError:
            raise ValidationError(
                {"channels": f"渠道尚不可用 / channel {code!r} is not available"}
            ) from None
    return codes


def _check_deadline(deadline: datetime | None, now: datetime) -> None:
    if deadline is not None and deadline <= now:
        raise ValidationError({"deadline": "截止时间须晚于现在 / the deadline must be later"})


@transaction.atomic
def create_campaign(
    *,
    name: str,
    questionnaire_version: QuestionnaireVersion,
    area: Area,
    by,
    channels: Iterable[str],
    filters: TargetFilters | dict | None = None,
    deadline: datetime | None = None,
    emergency: str = "",
) -> Campaign:
    """Creates a draft campaign over the area's subtree.

    Raises PermissionDenied when the area is outside the user's jurisdiction or the
    questionnaire is not visible to them; ValidationError (by field) for a missing name,
    unknown channels or filters, or a past deadline.
    """
    _require_manager(by, area.path)
    _require_visible_questionnaire(by, questionnaire_version.questionnaire)
    if not name.strip():
        raise ValidationError({"name": "请填写名称 / a name is required"})
    if not isinstance(filters, TargetFilters):
        filters = TargetFilters.from_json(filters)
    _check_deadline(deadline, timezone.now())
    return Campaign.objects.create(
        name=name.strip(),
        questionnaire_version=questionnaire_version,
        area=area,
        area_path=area.path,
        target_filters=filters.to_json(),
        channels=_clean_channels(channels),
        deadline=deadline,
        emergency=emergency.strip(),
        created_by=by,
    )


_UNSET = object()


@transaction.atomic
def update_campaign(
    *,
    campaign: Campaign,
    by,
    name: str | None = None,
    questionnaire_version: QuestionnaireVersion | None = None,
    area: Area | None = None,
    channels: Iterable[str] | None = None,
    filters: TargetFilters | dict | None = None,
    deadline: datetime | object | None = _UNSET,
    emergency: str | None = None,
) -> Campaign:
    """Changes a campaign. A draft may change anything; a running or paused campaign only its
    name and deadline (its targets and version are fixed at launch). Raises PermissionDenied
    or ValidationError."""
    _require_manager(by, campaign.area_path)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    structural = (questionnaire_version, area, channels, filters, emergency)
    if campaign.status != CampaignStatus.DRAFT and any(v is not None for v in structural):
        raise ValidationError(
            "已启动的排查只能修改名称和截止时间 / "
            "a launched campaign only changes its name and deadline"
        )
    if campaign.status == CampaignStatus.CLOSED:
        raise ValidationError("排查已结束 / the campaign is closed")
    fields = ["updated_at"]
    if name is not None:
        if not name.strip():
            raise ValidationError({"name": "请填写名称 / a name is required"})
        campaign.name = name.strip()
        fields.append("name")
    if questionnaire_version is not None:
        _require_visible_questionnaire(by, questionnaire_version.questionnaire)
        campaign.questionnaire_version = questionnaire_version
        fields.append("questionnaire_version")
    if area is not None:
        _require_manager(by, area.path)
        campaign.area, campaign.area_path = area, area.path
        fields += ["area", "area_path"]
    if channels is not None:
        campaign.channels = _clean_channels(channels)
        fields.append("channels")
    if filters is not None:
        if not isinstance(filters, TargetFilters):
            filters = TargetFilters.from_json(filters)
        campaign.target_filters = filters.to_json()
        fields.append("target_filters")
    if deadline is not _UNSET:
        _check_deadline(deadline, timezone.now())  # type: ignore[arg-type]
        campaign.deadline = deadline
        fields.append("deadline")
    if emergency is not None:
        campaign.emergency = emergency.strip()
        fields.append("emergency")
    campaign.save(update_fields=fields)
    return campaign


def _choose_targets(rows: Iterable[tuple], per_household: bool) -> list[tuple]:
    """Returns the (person, household, path) rows to target; per household, the head when the
    head matches, otherwise the matching member registered first (rows come in id order)."""
    if not per_household:
        return [(pid, hid, path) for pid, hid, path, _head in rows]
    chosen: dict[int, tuple] = {}
    alone: list[tuple] = []
    for pid, hid, path, head in rows:
        if hid is None:
            alone.append((pid, hid, path))
        elif hid not in chosen or pid == head:
            chosen[hid] = (pid, hid, path)
    return sorted([*chosen.values(), *alone])


@transaction.atomic
def launch_campaign(*, campaign: Campaign, by, now: datetime | None = None) -> Campaign:
    """Launches a draft: freezes its questionnaire version, materialises one CampaignTarget
    for every current (not merged) person of the area's subtree matching the filters (COPY
    on PostgreSQL), and puts the people no remote channel of the campaign can reach straight
    on the door-knock list. Returns the running campaign.

    Raises PermissionDenied outside the user's role or jurisdiction; ValidationError when the
    campaign is not a draft, its definition is invalid, its deadline has passed, or nobody
    matches.
    """
    now = now or timezone.now()
    _require_manager(by, campaign.area_path)
    campaign = (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("questionnaire_version", "area")
        .get(pk=campaign.pk)
    )
    if campaign.status != CampaignStatus.DRAFT:
        raise ValidationError("只能启动草稿状态的排查 / only a draft can be launched")
    version = campaign.questionnaire_version
    _check_definition(version.definition)
    _check_deadline(campaign.deadline, now)
    filters = TargetFilters.from_json(campaign.target_filters)
    rows = (
        matching_people(Person.objects.all(), campaign.area, filters)
        .order_by("id")
        .values_list("id", "household_id", "area_path", "household__head_id")
    )
    chosen = _choose_targets(rows.iterator(chunk_size=BULK_BATCH), filters.per_household)
    if not chosen:
        raise ValidationError("没有符合条件的居民 / nobody matches the target")
    for start in range(0, len(chosen), BULK_BATCH):
        insert_rows(
            CampaignTarget,
            [
                CampaignTarget(campaign=campaign, person_id=pid, household_id=hid, area_path=path)
                for pid, hid, path in chosen[start : start + BULK_BATCH]
            ],
        )
    if version.frozen_at is None:
        version.frozen_at = now
        version.save(update_fields=["frozen_at"])
    campaign.status = CampaignStatus.RUNNING
    campaign.launched_at = now
    campaign.target_count = len(chosen)
    campaign.household_count = len({hid for _pid, hid, _path in chosen if hid is not None})
    campaign.save(
        update_fields=["status", "launched_at", "target_count", "household_count", "updated_at"]
    )
    _escalate_unreachable(campaign, now)
    # Sending (H5 links by SMS, queueing robot calls) belongs to the channels' send(); the
    # pages session schedules it with transaction.on_commit once the targets exist.
    return campaign


def _set_status(campaign: Campaign, by, allowed_from: set[str], to: str, now: datetime):
    _require_manager(by, campaign.area_path)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in allowed_from:
            raise ValidationError(
                f"排查当前状态为{campaign.status}，不能变为{to} / "
                f"a {campaign.status} campaign cannot become {to}"
            )
        campaign.status = to
        fields = ["status", "updated_at"]
        if to == CampaignStatus.PAUSED:
            campaign.paused_at = now
            fields.append("paused_at")
        if to == CampaignStatus.CLOSED:
            campaign.closed_at = now
            fields.append("closed_at")
        campaign.save(update_fields=fields)
    return campaign


def pause_campaign(*, campaign: Campaign, by, now: datetime | None = None) -> Campaign:
    """Pauses a running campaign: channels stop sending, answers to links already out are
    still taken. Raises PermissionDenied or ValidationError."""
    return _set_status(
        campaign, by, {CampaignStatus.RUNNING}, CampaignStatus.PAUSED, now or timezone.now()
    )


def resume_campaign(*, campaign: Campaign, by, now: datetime | None = None) -> Campaign:
    return _set_status(
        campaign, by, {CampaignStatus.PAUSED}, CampaignStatus.RUNNING, now or timezone.now()
    )


def close_campaign(*, campaign: Campaign, by, now: datetime | None = None) -> Campaign:
    """Closes a running or paused campaign for good: no more attempts are taken."""
    return _set_status(
        campaign,
        by,
        {CampaignStatus.RUNNING, CampaignStatus.PAUSED},
        CampaignStatus.CLOSED,
        now or timezone.now(),
    )


# ---------------------------------------------------------------------------------------------
# Contact attempts


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
    by=None,
    idempotency_key: str | None = None,
    by_proxy: bool = False,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    detail: dict | None = None,
    request: HttpRequest | None = None,
) -> RecordedAttempt:
    """Records one contact attempt and brings the target up to date.

    Raw answers are validated against the campaign's questionnaire version and merged into the
    target's answers (answer-by-answer saving: each save adds or replaces only its questions,
    in any order), with their provenance; risk, follow-ups and completeness are re-evaluated.
    The status follows the outcome (see `_apply_outcome`); an answer saying the person needs
    help puts them on the door-knock list at once.

    Idempotent on `idempotency_key`: a second call with a key already stored changes nothing
    and returns the stored attempt with created=False, also when two retries race. Without a
    key a fresh one is generated (server-side attempts are not retried).

    `by` is the worker recording the attempt (role and jurisdiction are checked, and an audit
    event is written); None for a resident's own H5 submission or the robot, whose caller has
    already authenticated the signed link or the call. A door knock always has a worker.

    Raises PermissionDenied; InvalidAnswers (by question key, nothing stored); ValidationError
    for an unknown channel or outcome, answers with an outcome that cannot carry them, a key
    already used for another target, or a campaign that is not running or paused.
    """
    if not isinstance(answers or {}, dict) or not isinstance(detail or {}, dict):
        raise ValidationError({"answers": "回答格式错误 / answers must be an object"})
    key = (idempotency_key or uuid4().hex).strip()
    if not key or len(key) > 100:
        raise ValidationError({"idempotency_key": "提交编号无效 / bad idempotency key"})
    try:
        channel_obj = channel_registry.get_channel(channel)
    except LookupError:
        raise ValidationError({"channel": f"未知的渠道 / unknown channel {channel!r}"}) from None
    if outcome not in channel_obj.outcomes:
        raise ValidationError(
            {"outcome": f"该渠道没有此结果 / outcome {outcome!r} not possible on {channel}"}
        )
    if not channel_obj.remote and by is None:
        raise ValidationError(
            {"by": "入户记录须由工作人员提交 / a door knock is recorded by a worker"}
        )
    if by is not None:
        require(by, roles=SCREENERS, paths=[target.area_path])
    try:
        return _record_attempt(
            target_id=target.pk,
            channel=channel_obj,
            outcome=outcome,
            answers=answers or {},
            by=by,
            key=key,
            by_proxy=by_proxy,
            started_at=started_at,
            finished_at=finished_at,
            detail=detail or {},
            request=request,
        )
    except IntegrityError:
        # A retry of the same submission committed between our check and our insert.
        existing = ContactAttempt.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return _replayed(existing, target.pk)


def _replayed(attempt: ContactAttempt, target_id: int) -> RecordedAttempt:
    if attempt.target_id != target_id:
        raise ValidationError(
            {"idempotency_key": "提交编号已用于其他居民 / key already used for another person"}
        )
    target = CampaignTarget.objects.select_related("campaign__questionnaire_version").get(
        pk=target_id
    )
    definition = target.campaign.questionnaire_version.definition
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
    channel: channel_registry.Channel,
    outcome: str,
    answers: dict[str, object],
    by,
    key: str,
    by_proxy: bool,
    started_at: datetime | None,
    finished_at: datetime | None,
    detail: dict,
    request: HttpRequest | None,
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
        return _replayed(ContactAttempt.objects.get(pk=target.stored_attempt_id), target_id)
    campaign = target.campaign
    if not campaign.accepts_answers:
        raise ValidationError("本次排查未在进行中 / the campaign is not running")
    finished_at = finished_at or timezone.now()
    started_at = started_at or finished_at
    today = timezone.localdate(finished_at)
    definition = campaign.questionnaire_version.definition
    values, errors = validate_answers(definition, answers, today=today)
    if errors:
        raise InvalidAnswers(errors)
    if values and outcome not in ANSWER_BEARING:
        raise ValidationError(
            {"answers": f"“{outcome}”的记录不能带回答 / a {outcome} attempt carries no answers"}
        )
    attempt = ContactAttempt.objects.create(
        target=target,
        campaign=campaign,
        area_path=target.area_path,
        channel=channel.code,
        outcome=outcome,
        started_at=started_at,
        finished_at=finished_at,
        answers=values,
        by=by,
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
        follow_ups_called_for(target)
        or (target.risk_level, target.risk_reasons, target.follow_ups) != risk_before
    ):
        # In this transaction, under the target's row lock: a risky answer and its task are
        # stored together or not at all. Answers that leave the risk as it was and call for
        # nothing have nothing to raise or bring up to date (the tasks were when it was set).
        raise_follow_up_tasks(target=target)
    if by is not None:
        record_person_event(
            ScreeningAction.SCREENING_ANSWER,
            person=target.person,
            by=by,
            request=request,
            # Which questions, never the answers themselves: the log is read more widely.
            detail={
                "campaign": campaign.pk,
                "attempt": attempt.pk,
                "channel": channel.code,
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
    target: CampaignTarget, attempt: ContactAttempt, values: dict, definition: dict, today
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


# ---------------------------------------------------------------------------------------------
# Escalation to the door-knock lists


def _targets(campaign: Campaign) -> QuerySet[CampaignTarget]:
    return CampaignTarget.objects.filter(campaign=campaign)


def _to_door_update(targets: QuerySet[CampaignTarget], reason: str, now: datetime) -> int:
    return targets.update(
        status=TargetStatus.NEEDS_DOOR_KNOCK,
        door_knock_reason=reason,
        escalated_at=now,
        updated_at=now,
    )


def _escalate_unreachable(campaign: Campaign, now: datetime) -> int:
    """Puts on the door-knock list the unreached targets no remote channel of the campaign
    can reach (no phone, no smartphone for an H5-only campaign, a wrong number, or a
    door-knock-only campaign). Returns how many."""
    fresh = _targets(campaign).filter(reached_at__isnull=True, escalated_at__isnull=True)
    reach = channel_registry.remote_reach(campaign.channels)
    if reach is None:
        return _to_door_update(
            fresh.filter(status__in=UNREACHED), DoorKnockReason.DOOR_KNOCK_ONLY, now
        )
    count = _to_door_update(
        fresh.filter(status=TargetStatus.UNREACHABLE), DoorKnockReason.UNREACHABLE, now
    )
    reachable = Person.objects.filter(reach, pk=OuterRef("person_id"))
    count += _to_door_update(
        fresh.filter(status__in=UNREACHED).exclude(Exists(reachable)),
        DoorKnockReason.NO_PHONE,
        now,
    )
    return count


def escalate_unreached(*, campaign: Campaign, now: datetime | None = None) -> int:
    """Moves to the door-knock lists, once each, the targets that need a worker at the door:
    those no remote channel can reach (no phone, wrong number), those not reached by the
    deadline once it has passed, and those who answered that they need help and have not
    been visited. Returns how many targets were moved.

    Safe to run repeatedly (a periodic task does) and concurrently with incoming answers; a
    draft or closed campaign is left alone (returns 0).
    """
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if not campaign.accepts_answers:
            return 0
        count = _escalate_unreachable(campaign, now)
        if campaign.deadline is not None and now >= campaign.deadline:
            count += _to_door_update(
                _targets(campaign).filter(
                    reached_at__isnull=True, escalated_at__isnull=True, status__in=UNREACHED
                ),
                DoorKnockReason.DEADLINE,
                now,
            )
        count += _to_door_update(
            _targets(campaign).filter(
                needs_help=True, door_knocked_at__isnull=True, status=TargetStatus.REACHED
            ),
            DoorKnockReason.NEED_HELP,
            now,
        )
        campaign.last_escalated_at = now
        campaign.save(update_fields=["last_escalated_at"])
    return count


def request_visit(
    *,
    target: CampaignTarget,
    reason: str,
    now: datetime | None = None,
    note: str = "",
) -> bool:
    """Puts a target on its grid's door-knock list for `reason` (a DoorKnockReason) outside
    the answers: a resident who asked the phone robot for a person. Returns whether anything
    changed.

    Idempotent: a target already on the list stays there with its first escalation time, and
    a second request changes nothing. "Said they need help" outranks the reason it was on the
    list for (as an answer asking for help does in `_apply_outcome`) and also raises the
    target's need-help follow-up task (once per target, like every task), with `note` as its
    reason. A campaign that no longer takes answers is left alone (False).
    """
    if reason not in DoorKnockReason.values:
        raise ValidationError({"reason": f"未知的原因 / unknown reason {reason!r}"})
    now = now or timezone.now()
    with transaction.atomic():
        target = (
            CampaignTarget.objects.select_for_update(of=("self",))
            .select_related("campaign", "person")
            .get(pk=target.pk)
        )
        if not target.campaign.accepts_answers:
            return False
        changed = False
        if target.status != TargetStatus.NEEDS_DOOR_KNOCK:
            target.status = TargetStatus.NEEDS_DOOR_KNOCK
            target.door_knock_reason = reason
            target.escalated_at = target.escalated_at or now
            changed = True
        elif reason == DoorKnockReason.NEED_HELP and target.door_knock_reason != reason:
            target.door_knock_reason = reason
            changed = True
        if changed:
            target.updated_at = now
            target.save(update_fields=["status", "door_knock_reason", "escalated_at", "updated_at"])
        if reason == DoorKnockReason.NEED_HELP:
            changed = _raise_task(target, FollowUp.NEED_HELP, note) or changed
    return changed


def _raise_task(target: CampaignTarget, kind: str, note: str) -> bool:
    """Raises one follow-up task of `kind` for the target unless it has one (ever)."""
    if FollowUpTask.objects.filter(target=target, kind=kind).exists():
        return False
    reasons = [*target.risk_reasons, *([note] if note else [])]
    # ignore_conflicts: a task raised concurrently by an answer's transaction is kept.
    FollowUpTask.objects.bulk_create(
        [
            FollowUpTask(
                campaign_id=target.campaign_id,
                target=target,
                person_id=target.person_id,
                area_path=target.person.area_path or target.area_path,
                kind=kind,
                risk_level=target.risk_level,
                reasons=reasons,
            )
        ],
        ignore_conflicts=True,
    )
    return True


def may_record_for(user, target: CampaignTarget) -> bool:
    """Returns whether the user may record attempts for this target (door-knock form)."""
    if getattr(user, "is_superuser", False):
        return True
    return getattr(user, "role", "") in SCREENERS and path_within(target.area_path, user)


def escalate_running_campaigns(*, now: datetime | None = None) -> dict[int, int]:
    """Runs escalate_unreached on every running or paused campaign. Returns {campaign id:
    targets moved} for those that moved any. Meant for a periodic task (tasks.py)."""
    now = now or timezone.now()
    moved = {}
    for campaign in Campaign.objects.filter(
        status__in=[CampaignStatus.RUNNING, CampaignStatus.PAUSED]
    ).order_by("id"):
        count = escalate_unreached(campaign=campaign, now=now)
        if count:
            moved[campaign.pk] = count
    return moved


# ---------------------------------------------------------------------------------------------
# Follow-up tasks

# Who closes follow-up tasks: those who go to the door. Officials above see the tasks and the
# flags on people's files, but the visit is the grid's work.
TASK_CLOSERS = SCREENERS
TASK_NOTE_MAX_LENGTH = 500
# From this level on a person needs someone to look at them even when the questionnaire's
# rules named no follow-up for it.
FLAGGED_RISK_LEVELS = frozenset(RISK_ORDER[RISK_ORDER.index(RiskLevel.MEDIUM) :])


def follow_ups_called_for(target: CampaignTarget) -> list[str]:
    """Returns the follow-up kinds the target's current answers call for: the follow-ups its
    risk rules named, or a door visit for a medium or high risk that named none."""
    kinds = [kind for kind in target.follow_ups if kind in FollowUp.values]
    if not kinds and target.risk_level in FLAGGED_RISK_LEVELS:
        kinds = [FollowUp.DOOR_VISIT.value]
    return kinds


def raise_follow_up_tasks(*, target: CampaignTarget) -> list[str]:
    """Creates the follow-up tasks the target's answers call for that it does not have yet,
    and brings the risk level and reasons of its open tasks up to date. Returns the kinds
    raised now.

    One task per target and kind, ever: a task done or dismissed is not raised again by a
    later answer in the same campaign. A later answer that lowers the risk leaves open tasks
    open (a worker reviews them and closes them) with the new level recorded.

    Meant for the transaction that changed the target's answers (record_attempt calls it with
    the target's row locked). A concurrent raise for the same target cannot duplicate a task:
    the insert skips a (target, kind) already stored (ON CONFLICT DO NOTHING).
    """
    existing = {task.kind: task for task in FollowUpTask.objects.filter(target=target)}
    # The task lies where the person lives now, so it reaches the grid worker in charge today
    # even if they moved since the campaign's launch.
    area_path = target.person.area_path or target.area_path
    reasons = list(target.risk_reasons)
    raised = [kind for kind in follow_ups_called_for(target) if kind not in existing]
    if raised:
        FollowUpTask.objects.bulk_create(
            [
                FollowUpTask(
                    campaign_id=target.campaign_id,
                    target=target,
                    person_id=target.person_id,
                    area_path=area_path,
                    kind=kind,
                    risk_level=target.risk_level,
                    reasons=reasons,
                )
                for kind in raised
            ],
            ignore_conflicts=True,
        )
    stale = [
        task.pk
        for task in existing.values()
        if task.status == TaskStatus.OPEN
        and (task.risk_level != target.risk_level or task.reasons != reasons)
    ]
    if stale:
        FollowUpTask.objects.filter(pk__in=stale).update(
            risk_level=target.risk_level, reasons=reasons, updated_at=timezone.now()
        )
    return raised


def may_close_tasks(user) -> bool:
    """Returns whether the user's role closes follow-up tasks (in their own areas)."""
    return getattr(user, "is_superuser", False) or getattr(user, "role", "") in TASK_CLOSERS


@transaction.atomic
def close_follow_up_task(
    *,
    task: FollowUpTask,
    status: str,
    note: str = "",
    by,
    request: HttpRequest | None = None,
) -> FollowUpTask:
    """Closes an open follow-up task: `done` (the visit, proposal or help happened) or
    `dismissed` (not needed; the note says why), and records an audit event on the person
    (which task and how it was closed, never the note). Returns the task as stored.

    Raises PermissionDenied unless `by` is a grid worker or community lead whose areas hold
    the task; ValidationError for another status, a note over 500 characters, a dismissal
    without a note, or a task already closed (a second click of the same button).
    """
    require(by, roles=TASK_CLOSERS, paths=[task.area_path])
    if status not in (TaskStatus.DONE, TaskStatus.DISMISSED):
        raise ValidationError({"status": "无效的处理结果 / status must be done or dismissed"})
    note = (note or "").strip()
    if len(note) > TASK_NOTE_MAX_LENGTH:
        raise ValidationError(
            {"note": f"备注最多{TASK_NOTE_MAX_LENGTH}字 / at most {TASK_NOTE_MAX_LENGTH} chars"}
        )
    if status == TaskStatus.DISMISSED and not note:
        raise ValidationError({"note": "请说明为何无需跟进 / say why no follow-up is needed"})
    task = (
        FollowUpTask.objects.select_for_update(of=("self",))
        .select_related("person")
        .get(pk=task.pk)
    )
    if task.status != TaskStatus.OPEN:
        raise ValidationError("该任务已处理 / this follow-up is already closed")
    task.status = status
    task.note = note
    task.done_at = timezone.now()
    task.done_by = by
    task.save(update_fields=["status", "note", "done_at", "done_by", "updated_at"])
    record_person_event(
        ScreeningAction.SCREENING_ANSWER,
        person=task.person,
        by=by,
        request=request,
        detail={
            "campaign": task.campaign_id,
            "task": task.pk,
            "follow_up": task.kind,
            "status": status,
        },
    )
    return task


# ---------------------------------------------------------------------------------------------
# Questionnaires started from scratch


def blank_definition(*, name: str, area: Area) -> dict:
    """Returns the definition a questionnaire built from scratch starts with: an intro that
    already says who asks (the area) and on which legal basis (PIPL), a closing, and one
    yes/no question for the lead to rewrite (a definition needs at least one)."""
    return {
        "schema": definitions.SCHEMA_VERSION,
        "title": name.strip() or "排查问卷",
        "intro": (
            f"您好！这里是{area.name}。"
            + definitions.PIPL_BASIS
            + f"我们正在开展“{name.strip()}”。您提供的信息只用于本次防控工作，不会公开，"
            "也不会用于其他用途，工作结束后依法删除。谢谢配合！"
        ),
        "closing": "感谢您的配合！如身体不适或需要帮助，请随时联系社区或您的网格员。",
        "lists": {},
        "questions": [
            {
                "key": "q1",
                "text": "请在这里写第一道题。",
                "kind": definitions.QuestionKind.YES_NO.value,
                "required": True,
            }
        ],
        "risk_rules": [],
    }


# ---------------------------------------------------------------------------------------------
# Door knocks (the grid worker's one-screen form, sent from the phone, maybe hours later)

# What a worker at the door reports; "failed" stays for integrations.
DOOR_KNOCK_OUTCOMES = (
    AttemptOutcome.ANSWERED,
    AttemptOutcome.NOT_AT_HOME,
    AttemptOutcome.REFUSED,
)
DEVICE_MAX_LENGTH = 64


def _blank(raw: object) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, list | tuple):
        return all(_blank(item) for item in raw)
    return False


def door_knock_answers(
    definition: dict, raw_answers: dict[str, object], *, today
) -> tuple[dict[str, object], dict[str, AnswerError]]:
    """Returns (canonical answers, errors by key) for a one-screen form holding every question.

    Only the questions on the path the answers take count: a question the branching skips is
    ignored whatever it holds (the phone hides it, a form without script shows it). On the
    path, a required question left blank is an error; a blank optional one stays unanswered
    rather than "skipped", so it never overwrites an answer given earlier through a link.
    """
    questions = definitions.question_map(definition)
    values: dict[str, object] = {}
    errors: dict[str, AnswerError] = {}
    for key, raw in raw_answers.items():
        question = questions.get(key)
        if question is None:
            errors[key] = AnswerError(
                key=key, code="unknown_question", zh="问卷中没有这道题", en="no such question"
            )
        elif not _blank(raw):
            result = definitions.validate_answer(question, raw, today=today)
            if isinstance(result, AnswerError):
                errors[key] = result
            elif result is not None and result != []:
                values[key] = result
    path = definitions.route(definition, values, today=today)
    errors = {key: error for key, error in errors.items() if key in path or key not in questions}
    for key in path:
        if questions[key].get("required") and key not in values and key not in errors:
            errors[key] = AnswerError(
                key=key, code="required", zh="此题必答", en="this question is required"
            )
    return {key: value for key, value in values.items() if key in path}, errors


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
    by,
    outcome: str,
    answers: dict[str, object] | None = None,
    by_proxy: bool = False,
    idempotency_key: str,
    recorded_at: datetime | None = None,
    started_at: datetime | None = None,
    device: str = "",
    offline: bool = False,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> RecordedAttempt:
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
        raise PermissionDenied("outside your jurisdiction / 不在管辖范围内")
    channel = channel_registry.get_channel(ChannelCode.DOOR_KNOCK)
    key = (idempotency_key or "").strip() if isinstance(idempotency_key, str) else ""
    detail = {"device": str(device or "")[:DEVICE_MAX_LENGTH], "offline": bool(offline)}
    if key and ContactAttempt.objects.filter(idempotency_key=key, target=target).exists():
        # A resend of a submission already stored: hand back what it stored.
        return channel.collect(
            target=target, outcome=outcome, by=by, idempotency_key=key, detail=detail
        )
    errors: dict[str, str] = {}
    if outcome not in DOOR_KNOCK_OUTCOMES:
        errors["outcome"] = "请选择敲门结果 / choose what happened at the door"
    if not key or len(key) > 100:
        errors["idempotency_key"] = "提交编号无效 / bad idempotency key"
    now = now or timezone.now()
    campaign = target.campaign
    finished_at = _clamp(recorded_at, campaign.launched_at, now)
    started_at = _clamp(started_at or finished_at, campaign.launched_at, finished_at)
    values: dict[str, object] = {}
    if outcome == AttemptOutcome.ANSWERED:
        if not isinstance(answers or {}, dict):
            errors["answers"] = "回答格式错误 / answers must be an object"
        else:
            values, answer_errors = door_knock_answers(
                campaign.questionnaire_version.definition,
                answers or {},
                today=timezone.localdate(finished_at),
            )
            errors.update({k: str(error) for k, error in answer_errors.items()})
    if errors:
        raise ValidationError(errors)
    return channel.collect(
        target=target,
        outcome=outcome,
        answers=values,
        by=by,
        idempotency_key=key,
        by_proxy=bool(by_proxy) and outcome == AttemptOutcome.ANSWERED,
        started_at=started_at,
        finished_at=finished_at,
        detail=detail,
        request=request,
    )
