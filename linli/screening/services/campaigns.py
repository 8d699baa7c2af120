"""Campaigns: create, change, launch (targets materialised), pause, resume, close; and
escalation of the unreached to the door-knock lists."""

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.areas.models import Area
from linli.core.actors import Actor, AuditContext
from linli.core.bulkload import BULK_BATCH, insert_rows
from linli.registry.models import Person
from linli.screening.auditing import record_campaign_event
from linli.screening.contact import remote_reach
from linli.screening.models import (
    Campaign,
    CampaignStatus,
    CampaignTarget,
    ChannelCode,
    DoorKnockReason,
    Questionnaire,
    QuestionnaireVersion,
    ScreeningAction,
    TargetStatus,
)
from linli.screening.questionnaires.schema import check_definition
from linli.screening.roles import require_manager
from linli.screening.targeting import TargetFilters, matching_people

# Statuses of targets nobody has reached yet.
UNREACHED = (
    TargetStatus.PENDING,
    TargetStatus.NO_ANSWER,
    TargetStatus.REFUSED,
    TargetStatus.UNREACHABLE,
)


def _require_visible_questionnaire(by: Actor, questionnaire: Questionnaire) -> None:
    if getattr(by, "is_superuser", False):
        return
    if not Questionnaire.objects.visible_to(by).filter(pk=questionnaire.pk).exists():
        raise PermissionDenied(_("Outside your jurisdiction"))


# ---------------------------------------------------------------------------------------------
# Campaigns


def _clean_channels(channels: Iterable[str]) -> list[str]:
    codes = list(dict.fromkeys(channels))  # drop repeats, keep order
    if not codes:
        raise ValidationError({"channels": _("Choose at least one channel")})
    for code in codes:
        if code not in ChannelCode.values:
            raise ValidationError(
                {"channels": _("Unknown channel %(channel)s") % {"channel": code}}
            )
    return codes


def _check_deadline(deadline: datetime | None, now: datetime) -> None:
    if deadline is not None and deadline <= now:
        raise ValidationError({"deadline": _("The deadline must be later")})


@transaction.atomic
def create_campaign(
    *,
    name: str,
    questionnaire_version: QuestionnaireVersion,
    area: Area,
    by: Actor,
    channels: Iterable[str],
    filters: TargetFilters | dict | None = None,
    deadline: datetime | None = None,
    emergency: str = "",
    context: AuditContext | None = None,
) -> Campaign:
    """Creates a draft campaign over the area's subtree.

    Raises PermissionDenied when the area is outside the user's jurisdiction or the
    questionnaire is not visible to them; ValidationError (by field) for a missing name,
    unknown channels or filters, or a past deadline.
    """
    require_manager(by, area.path)
    _require_visible_questionnaire(by, questionnaire_version.questionnaire)
    if not name.strip():
        raise ValidationError({"name": _("A name is required")})
    if not isinstance(filters, TargetFilters):
        filters = TargetFilters.from_json(filters)
    _check_deadline(deadline, timezone.now())
    campaign = Campaign.objects.create(
        name=name.strip(),
        questionnaire_version=questionnaire_version,
        area=area,
        area_path=area.path,
        target_filters=filters.to_json(),
        channels=_clean_channels(channels),
        deadline=deadline,
        emergency=emergency.strip(),
        created_by_id=by.pk,
    )
    record_campaign_event(
        ScreeningAction.CAMPAIGN_CREATE, campaign=campaign, by=by, context=context
    )
    return campaign


_UNSET = object()


@transaction.atomic
def update_campaign(
    *,
    campaign: Campaign,
    by: Actor,
    name: str | None = None,
    questionnaire_version: QuestionnaireVersion | None = None,
    area: Area | None = None,
    channels: Iterable[str] | None = None,
    filters: TargetFilters | dict | None = None,
    deadline: datetime | object | None = _UNSET,
    emergency: str | None = None,
    context: AuditContext | None = None,
) -> Campaign:
    """Changes a campaign. A draft may change anything; a running or paused campaign only its
    name and deadline (its targets and version are fixed at launch). Raises PermissionDenied
    or ValidationError."""
    require_manager(by, campaign.area_path)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    structural = (questionnaire_version, area, channels, filters, emergency)
    if campaign.status != CampaignStatus.DRAFT and any(v is not None for v in structural):
        raise ValidationError(_("A launched campaign only changes its name and deadline"))
    if campaign.status == CampaignStatus.CLOSED:
        raise ValidationError(_("The campaign is closed"))
    fields = ["updated_at"]
    if name is not None:
        if not name.strip():
            raise ValidationError({"name": _("A name is required")})
        campaign.name = name.strip()
        fields.append("name")
    if questionnaire_version is not None:
        _require_visible_questionnaire(by, questionnaire_version.questionnaire)
        campaign.questionnaire_version = questionnaire_version
        fields.append("questionnaire_version")
    if area is not None:
        require_manager(by, area.path)
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
        assert deadline is None or isinstance(deadline, datetime)  # _UNSET is the only other
        _check_deadline(deadline, timezone.now())
        campaign.deadline = deadline
        fields.append("deadline")
    if emergency is not None:
        campaign.emergency = emergency.strip()
        fields.append("emergency")
    campaign.save(update_fields=fields)
    record_campaign_event(
        ScreeningAction.CAMPAIGN_EDIT,
        campaign=campaign,
        by=by,
        context=context,
        detail={"fields": sorted(set(fields) - {"updated_at"})},
    )
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
def launch_campaign(
    *,
    campaign: Campaign,
    by: Actor,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> Campaign:
    """Launches a draft: freezes its questionnaire version, materialises one CampaignTarget
    for every current (not merged) person of the area's subtree matching the filters (COPY
    on PostgreSQL), and puts the people no remote channel of the campaign can reach straight
    on the door-knock list. Returns the running campaign.

    Raises PermissionDenied outside the user's role or jurisdiction; ValidationError when the
    campaign is not a draft, its definition is invalid, its deadline has passed, or nobody
    matches.
    """
    now = now or timezone.now()
    require_manager(by, campaign.area_path)
    campaign = (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("questionnaire_version", "area")
        .get(pk=campaign.pk)
    )
    if campaign.status != CampaignStatus.DRAFT:
        raise ValidationError(_("Only a draft can be launched"))
    version = campaign.questionnaire_version
    check_definition(version.definition)
    _check_deadline(campaign.deadline, now)
    filters = TargetFilters.from_json(campaign.target_filters)
    rows = (
        matching_people(Person.objects.all(), campaign.area, filters)
        .order_by("id")
        .values_list("id", "household_id", "area_path", "household__head_id")
    )
    chosen = _choose_targets(rows.iterator(chunk_size=BULK_BATCH), filters.per_household)
    if not chosen:
        raise ValidationError(_("Nobody matches the target"))
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
    to_door = _escalate_unreachable(campaign, now)
    record_campaign_event(
        ScreeningAction.CAMPAIGN_LAUNCH,
        campaign=campaign,
        by=by,
        context=context,
        detail={
            "version": version.number,
            "targets": campaign.target_count,
            "to_door_knock": to_door,
        },
    )
    # Sending (H5 links by SMS, queueing robot calls) belongs to the channels' send(); the
    # pages session schedules it with transaction.on_commit once the targets exist.
    return campaign


# Where a campaign may go, from which statuses, and the action that records it.
_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    CampaignStatus.PAUSED: (frozenset({CampaignStatus.RUNNING}), ScreeningAction.CAMPAIGN_PAUSE),
    CampaignStatus.RUNNING: (frozenset({CampaignStatus.PAUSED}), ScreeningAction.CAMPAIGN_RESUME),
    CampaignStatus.CLOSED: (
        frozenset({CampaignStatus.RUNNING, CampaignStatus.PAUSED}),
        ScreeningAction.CAMPAIGN_CLOSE,
    ),
}


def _set_status(
    campaign: Campaign,
    by: Actor,
    to: str,
    now: datetime | None,
    context: AuditContext | None,
) -> Campaign:
    allowed_from, action = _TRANSITIONS[to]
    now = now or timezone.now()
    require_manager(by, campaign.area_path)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        refused = campaign.status not in allowed_from
        if not refused:
            _change_status(campaign, to, now, action=action, by=by, context=context)
    if refused:
        # Recorded outside the transaction so that it stays: e.g. a pause that lost to a
        # close made at the same moment (the row's lock let the close decide first).
        record_campaign_event(
            action,
            campaign=campaign,
            by=by,
            context=context,
            detail={"refused": "already decided", "status": campaign.status},
        )
        raise ValidationError(
            _("A %(status)s campaign cannot become %(to)s")
            % {
                "status": CampaignStatus(campaign.status).label,
                "to": CampaignStatus(to).label,
            }
        )
    return campaign


def _change_status(
    campaign: Campaign,
    to: str,
    now: datetime,
    *,
    action: str,
    by: Actor,
    context: AuditContext | None,
) -> None:
    """Moves the locked campaign to `to` and records `action`, in the caller's transaction."""
    campaign.status = to
    fields = ["status", "updated_at"]
    if to == CampaignStatus.PAUSED:
        campaign.paused_at = now
        fields.append("paused_at")
    if to == CampaignStatus.CLOSED:
        campaign.closed_at = now
        fields.append("closed_at")
    campaign.save(update_fields=fields)
    record_campaign_event(action, campaign=campaign, by=by, context=context)


def pause_campaign(
    *,
    campaign: Campaign,
    by: Actor,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> Campaign:
    """Pauses a running campaign: channels stop sending, answers to links already out are
    still taken. Raises PermissionDenied or ValidationError."""
    return _set_status(campaign, by, CampaignStatus.PAUSED, now, context)


def resume_campaign(
    *,
    campaign: Campaign,
    by: Actor,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> Campaign:
    return _set_status(campaign, by, CampaignStatus.RUNNING, now, context)


def close_campaign(
    *,
    campaign: Campaign,
    by: Actor,
    now: datetime | None = None,
    context: AuditContext | None = None,
) -> Campaign:
    """Closes a running or paused campaign for good: no more attempts are taken."""
    return _set_status(campaign, by, CampaignStatus.CLOSED, now, context)


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
    reach = remote_reach(campaign.channels)
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
        if count:
            record_campaign_event(
                ScreeningAction.CAMPAIGN_ESCALATE,
                campaign=campaign,
                by=None,
                detail={"moved": count},
            )
    return count


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
