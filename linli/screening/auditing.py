"""How screening's services write their audit events: one shape per kind of object, so the
log reads the same whichever service wrote it. Never the answers themselves: the log is read
more widely than the answers are."""

from linli.audit.services import record_event
from linli.core.actors import Actor, AuditContext
from linli.registry.models import Person
from linli.screening.models import Campaign, Questionnaire


def record_person_event(
    action: str,
    *,
    person: Person,
    by: Actor | None,
    context: AuditContext | None,
    detail: dict,
) -> None:
    """Appends an event about a person (labelled by their masked identifier)."""
    record_event(
        action=action,
        actor=by,
        actor_username="" if by is not None else "system",
        context=context,
        object_type="person",
        object_id=person.pk,
        object_label=person.id_number_masked or person.phone_masked,
        area_path=person.area_path,
        detail=detail,
    )


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
        actor_username="" if by is not None else "system",
        context=context,
        object_type="screening_campaign",
        object_id=campaign.pk,
        object_label=campaign.name,
        area_path=area_path or campaign.area_path,
        detail=detail or {},
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
        object_type="screening_questionnaire",
        object_id=questionnaire.pk,
        object_label=questionnaire.name,
        area_path=questionnaire.area_path,
        detail=detail or {},
    )
