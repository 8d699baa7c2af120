"""Writing the audit log. Events are only ever added."""

from linli.audit.actions import is_registered
from linli.audit.models import AuditEvent
from linli.core.actors import Actor, AuditContext


def record_event(
    *,
    action: str,
    actor: Actor | None = None,
    actor_username: str = "",
    context: AuditContext | None = None,
    object_type: str = "",
    object_id: object = "",
    object_label: str = "",
    field: str = "",
    purpose: str = "",
    area_path: str = "",
    detail: dict | None = None,
) -> AuditEvent:
    """Appends one event to the audit log and returns it.

    `action` is a code some app registered (linli.audit.actions). Raises ValueError for an
    unregistered code."""
    if not is_registered(action):
        raise ValueError(f"unregistered audit action {action!r}")
    context = context or AuditContext.none()
    authenticated = actor is not None and actor.is_authenticated
    return AuditEvent.objects.create(
        # By key: an Actor is any user-like object, the column holds a user's id.
        actor_id=actor.pk if actor is not None and authenticated else None,
        actor_username=actor_username or (actor.get_username() if actor and authenticated else ""),
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
