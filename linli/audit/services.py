"""Writing the audit log. Events are only ever added."""

from django.http import HttpRequest

from linli.audit.models import AuditAction, AuditEvent


def client_address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_event(
    *,
    action: AuditAction,
    actor=None,
    actor_username: str = "",
    request: HttpRequest | None = None,
    object_type: str = "",
    object_id: object = "",
    object_label: str = "",
    field: str = "",
    purpose: str = "",
    area_path: str = "",
    detail: dict | None = None,
) -> AuditEvent:
    """Appends one event to the audit log and returns it."""
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if authenticated else None,
        actor_username=actor_username or (actor.get_username() if authenticated else ""),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_label=object_label[:200],
        field=field,
        purpose=purpose,
        area_path=area_path,
        ip_address=client_address(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request else ""),
        detail=detail or {},
    )
