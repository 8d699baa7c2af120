"""Follow-up tasks risky answers raise, their closing, and door visits requested outside the
answers (a resident who asked the phone robot for a person)."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.core.actors import Actor, AuditContext
from linli.core.permissions import require
from linli.registry.services.people import record_person_event
from linli.screening.models import (
    CampaignTarget,
    DoorKnockReason,
    FollowUpTask,
    ScreeningAction,
    TargetStatus,
    TaskStatus,
)
from linli.screening.questionnaires.schema import RISK_ORDER, FollowUp, RiskLevel
from linli.screening.roles import TASK_CLOSERS


def request_visit(
    *,
    target: CampaignTarget,
    reason: str,
    now: datetime | None = None,
    note: str = "",
    by: Actor | None = None,
    context: AuditContext | None = None,
) -> bool:
    """Puts a target on its grid's door-knock list for `reason` (a DoorKnockReason) outside
    the answers: a resident who asked the phone robot for a person. Returns whether anything
    changed.

    Idempotent: a target already on the list stays there with its first escalation time, and
    a second request changes nothing. "Said they need help" outranks the reason it was on the
    list for (as an answer asking for help does in `_apply_outcome`) and also raises the
    target's need-help follow-up task (once per target, like every task), with `note` as its
    reason. A campaign that no longer takes answers is left alone (False). A change is
    recorded in the audit log (`by` None: the phone robot, on the resident's request).
    """
    if reason not in DoorKnockReason.values:
        raise ValidationError({"reason": _("Unknown reason %(reason)s") % {"reason": reason}})
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
        if changed:
            record_person_event(
                ScreeningAction.VISIT_REQUEST,
                person=target.person,
                by=by,
                context=context,
                detail={"campaign": target.campaign_id, "target": target.pk, "reason": reason},
            )
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
    if raised:
        # The system raised them (the answers were recorded, with their own event, by whoever
        # took them); the log says which kinds, never the answers.
        record_person_event(
            ScreeningAction.FOLLOW_UP_RAISE,
            person=target.person,
            by=None,
            context=None,
            detail={"campaign": target.campaign_id, "target": target.pk, "follow_ups": raised},
        )
    return raised


def close_follow_up_task(
    *,
    task: FollowUpTask,
    status: str,
    note: str = "",
    by: Actor,
    context: AuditContext | None = None,
) -> FollowUpTask:
    """Closes an open follow-up task: `done` (the visit, proposal or help happened) or
    `dismissed` (not needed; the note says why), and records an audit event on the person
    (which task and how it was closed, never the note). Returns the task as stored.

    Raises PermissionDenied unless `by` is a grid worker or community lead whose areas hold
    the task; ValidationError for another status, a note over 500 characters, a dismissal
    without a note, or a task already closed (a second click of the same button, or two
    workers at once: one wins, the other's refusal is recorded too).
    """
    require(by, roles=TASK_CLOSERS, paths=[task.area_path])
    if status not in (TaskStatus.DONE, TaskStatus.DISMISSED):
        raise ValidationError({"status": _("Status must be done or dismissed")})
    note = (note or "").strip()
    if len(note) > TASK_NOTE_MAX_LENGTH:
        raise ValidationError(
            {
                "note": _("At most %(limit_value)s characters")
                % {"limit_value": TASK_NOTE_MAX_LENGTH}
            }
        )
    if status == TaskStatus.DISMISSED and not note:
        raise ValidationError({"note": _("Say why no follow-up is needed")})
    with transaction.atomic():
        closed = _close(task=task, status=status, note=note, by=by, context=context)
    if closed is None:
        # Recorded after the transaction so the refusal stays in the log.
        _record_close(task, status, by=by, context=context, refused=True)
        raise ValidationError(_("This follow-up is already closed"))
    return closed


def _close(
    *, task: FollowUpTask, status: str, note: str, by: Actor, context: AuditContext | None
) -> FollowUpTask | None:
    """Closes the task if it is still open, in the caller's transaction. Returns it, or None
    when it was closed already (the decision is a conditional update: of two at once, one
    changes the row and the other finds it closed)."""
    now = timezone.now()
    claimed = FollowUpTask.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
        status=status, note=note, done_at=now, done_by_id=by.pk, updated_at=now
    )
    if not claimed:
        return None
    task = FollowUpTask.objects.select_related("person").get(pk=task.pk)
    _record_close(task, status, by=by, context=context)
    return task


def _record_close(
    task: FollowUpTask,
    status: str,
    *,
    by: Actor,
    context: AuditContext | None,
    refused: bool = False,
) -> None:
    detail = {
        "campaign": task.campaign_id,
        "task": task.pk,
        "follow_up": task.kind,
        "status": status,
    }
    if refused:
        detail["refused"] = "already decided"
    record_person_event(
        ScreeningAction.FOLLOW_UP_CLOSE, person=task.person, by=by, context=context, detail=detail
    )
