"""Which screening services write which audit action (tests/test_audit_coverage.py walks them).

Each exercise calls its service once on the shared personas of conftest.World: community A's
lead organises, its grid worker screens, 张三丰 (resident_a, phone and smartphone) is targeted.
"""

from datetime import timedelta

from django.utils import timezone

from linli.audit.models import AuditAction
from linli.screening.models import CampaignTarget, DoorKnockReason, FollowUpTask, ScreeningAction
from linli.screening.questionnaires.schema import RiskLevel
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.selectors import results as result_selectors
from linli.screening.services import attempts as attempt_services
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import door_knocks as door_knock_services
from linli.screening.services import exports as export_services
from linli.screening.services import followups as followup_services
from linli.screening.services import links as link_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import arrivals_for, draft


def _running(world, **kw):
    return campaign_services.launch_campaign(campaign=draft(world, **kw), by=world.lead_a)


def _target(world, campaign) -> CampaignTarget:
    return CampaignTarget.objects.get(campaign=campaign, person=world.resident_a)


def _create_questionnaire(world):
    arrivals_for(world)


def _save_version(world):
    questionnaire = arrivals_for(world)
    definition = dict(questionnaire_selectors.latest_version(questionnaire).definition)
    definition["title"] = "改过的标题"
    questionnaire_services.save_questionnaire_version(
        questionnaire=questionnaire, definition=definition, by=world.lead_a
    )


def _rename(world):
    questionnaire_services.rename_questionnaire(
        questionnaire=arrivals_for(world), name="新名称", by=world.lead_a
    )


def _create_campaign(world):
    draft(world)


def _update_campaign(world):
    campaign_services.update_campaign(campaign=draft(world), by=world.lead_a, name="改名")


def _launch(world):
    _running(world)


def _pause(world):
    campaign_services.pause_campaign(campaign=_running(world), by=world.lead_a)


def _resume(world):
    campaign = campaign_services.pause_campaign(campaign=_running(world), by=world.lead_a)
    campaign_services.resume_campaign(campaign=campaign, by=world.lead_a)


def _close(world):
    campaign_services.close_campaign(campaign=_running(world), by=world.lead_a)


def _escalate(world):
    campaign = _running(world, deadline=timezone.now() + timedelta(hours=1))
    campaign_services.escalate_unreached(campaign=campaign, now=timezone.now() + timedelta(hours=2))


def _escalate_running(world):
    _running(world, deadline=timezone.now() + timedelta(hours=1))
    campaign_services.escalate_running_campaigns(now=timezone.now() + timedelta(hours=2))


def _record_attempt(world):
    target = _target(world, _running(world))
    attempt_services.record_attempt(
        target=target, channel="door_knock", outcome="not_at_home", by=world.grid_a
    )


def _record_door_knock(world):
    target = _target(world, _running(world))
    door_knock_services.record_door_knock(
        target=target, by=world.grid_a, outcome="not_at_home", idempotency_key="audit-1"
    )


def _request_visit(world):
    target = _target(world, _running(world))
    followup_services.request_visit(target=target, reason=DoorKnockReason.NEED_HELP)


def _raise_tasks(world):
    target = _target(world, _running(world))
    CampaignTarget.objects.filter(pk=target.pk).update(risk_level=RiskLevel.HIGH)
    target.refresh_from_db()
    followup_services.raise_follow_up_tasks(target=target)


def _close_task(world):
    target = _target(world, _running(world))
    followup_services.request_visit(target=target, reason=DoorKnockReason.NEED_HELP)
    task = FollowUpTask.objects.get(target=target)
    followup_services.close_follow_up_task(task=task, status="done", by=world.grid_a)


def _send_links(world):
    link_services.send_links(campaign=_running(world, channels=("h5",)), by=world.lead_a)


def _send_link(world):
    link_services.send_link(_target(world, _running(world, channels=("h5",))))


def _export(world):
    campaign = _running(world)
    results = result_selectors.campaign_results(world.lead_a, campaign, world.a.community)
    export = export_services.export_results(
        results=results, area=world.a.community, by=world.lead_a
    )
    export.file.close()


AUDITED = {
    "create_questionnaire": (ScreeningAction.QUESTIONNAIRE_CREATE, _create_questionnaire),
    "save_questionnaire_version": (ScreeningAction.QUESTIONNAIRE_EDIT, _save_version),
    "rename_questionnaire": (ScreeningAction.QUESTIONNAIRE_EDIT, _rename),
    "create_campaign": (ScreeningAction.CAMPAIGN_CREATE, _create_campaign),
    "update_campaign": (ScreeningAction.CAMPAIGN_EDIT, _update_campaign),
    "launch_campaign": (ScreeningAction.CAMPAIGN_LAUNCH, _launch),
    "pause_campaign": (ScreeningAction.CAMPAIGN_PAUSE, _pause),
    "resume_campaign": (ScreeningAction.CAMPAIGN_RESUME, _resume),
    "close_campaign": (ScreeningAction.CAMPAIGN_CLOSE, _close),
    "escalate_unreached": (ScreeningAction.CAMPAIGN_ESCALATE, _escalate),
    "escalate_running_campaigns": (ScreeningAction.CAMPAIGN_ESCALATE, _escalate_running),
    "record_attempt": (ScreeningAction.SCREENING_ANSWER, _record_attempt),
    "record_door_knock": (ScreeningAction.SCREENING_ANSWER, _record_door_knock),
    "request_visit": (ScreeningAction.VISIT_REQUEST, _request_visit),
    "raise_follow_up_tasks": (ScreeningAction.FOLLOW_UP_RAISE, _raise_tasks),
    "close_follow_up_task": (ScreeningAction.FOLLOW_UP_CLOSE, _close_task),
    "send_links": (ScreeningAction.SEND_LINKS, _send_links),
    "send_link": (ScreeningAction.SEND_LINKS, _send_link),
    "export_results": (AuditAction.EXPORT, _export),
}

NOT_AUDITED = {
    "follow_ups_called_for": "reads only: which follow-ups a target's answers call for",
    "check_sendable": "checks only: raises when a campaign cannot send links",
}
