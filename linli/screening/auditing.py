"""How screening's services write their audit events about campaigns and questionnaires (events
about a person go through the registry's record_person_event). Never the answers themselves:
the log is read more widely than the answers are."""

from linli.audit.services import record_event
from linli.core.actors import Actor, AuditContext
from linli.screening.models import Campaign, Questionnaire


def record_campaign_event(
    action: str,
    *,
    campaign: Campaign,
    by: Actor | None,
    context: AuditContext | None = None,
    detail: dict | None = None,
    area_path: str = "",
) -> None:
    """Appends an event about a campaign; `by` None is the system (a periodic task)."""
    record_event(
        action=action,
        actor=by,
        context=context,
        subject=campaign,
        area_path=area_path,
        detail=detail,
    )


def record_questionnaire_event(
    action: str,
    *,
    questionnaire: Questionnaire,
    by: Actor,
    context: AuditContext | None = None,
    detail: dict | None = None,
) -> None:
    """Appends an event about a questionnaire."""
    record_event(
        action=action,
        actor=by,
        context=context,
        subject=questionnaire,
        detail=detail,
    )
