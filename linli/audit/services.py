"""Writing the audit log. Events are only ever added."""

from django.db import models

from linli.audit.actions import is_registered
from linli.audit.models import AuditEvent
from linli.core.actors import Actor, AuditContext

# The name an event carries when no one signed in acted (a periodic task, the robot, a resident
# answering by link); the log page shows it translated.
SYSTEM_ACTOR = "system"


def record_event(
    *,
    action: str,
    actor: Actor | None = None,
    actor_username: str = "",
    context: AuditContext | None = None,
    subject: models.Model | None = None,
    object_type: str = "",
    object_id: object = "",
    object_label: str = "",
    field: str = "",
    purpose: str = "",
    area_path: str = "",
    detail: dict | None = None,
) -> AuditEvent:
    """Appends one event to the audit log and returns it.

    `action` is a code some app registered (linli.audit.actions). `subject`, the object the
    event is about, fills what the other arguments leave empty: its model's `audit_type`
    (else the model name), its id, its `audit_label` if the model has one (never str(): that
    may be an address), and its area path (the model's `jurisdiction_path` field).
    Raises ValueError for an unregistered code."""
    if not is_registered(action):
        raise ValueError(f"unregistered audit action {action!r}")
    if subject is not None:
        model = type(subject)
        object_type = object_type or str(getattr(model, "audit_type", model._meta.model_name))
        object_id = object_id or subject.pk
        object_label = object_label or str(getattr(subject, "audit_label", ""))
        area_path = area_path or getattr(subject, getattr(model, "jurisdiction_path", ""), "")
    context = context or AuditContext.none()
    authenticated = actor is not None and actor.is_authenticated
    return AuditEvent.objects.create(
        # By key: an Actor is any user-like object, the column holds a user's id.
        actor_id=actor.pk if actor is not None and authenticated else None,
        actor_username=actor_username
        or (actor.get_username() if actor and authenticated else SYSTEM_ACTOR),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_label=object_label[:200],
        field=field,
        purpose=purpose,
        area_path=area_path,
        ip_address=context.ip_address,
        user_agent=context.user_agent,
        detail=detail or {},
    )
