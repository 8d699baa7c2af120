from django import template
from django.utils.translation import gettext_lazy as _

from linli.audit.models import AuditEvent
from linli.audit.subjects import subject_label, subject_url
from linli.core.roles import Role

register = template.Library()


FIELD_LABELS = {"id_number": _("ID number"), "phone": _("Phone")}
CHANGE_LABELS = {
    "create": _("account created"),
    "role": _("role changed"),
    "assign": _("area assigned"),
    "unassign": _("area removed"),
}


@register.filter
def object_type_label(code: str) -> str:
    return subject_label(code)


@register.filter
def object_url(event: AuditEvent) -> str:
    """Returns the page of the object the event is about ("" when there is none)."""
    return subject_url(event.object_type, event.object_id)


@register.filter
def field_label(code: str) -> str:
    return str(FIELD_LABELS.get(code, code))


@register.filter
def change_summary(detail: dict) -> str:
    """Returns a readable summary of a permission change (what changed, to what)."""
    change = detail.get("change")
    if not change:
        return ""
    parts = [str(CHANGE_LABELS.get(change, change))]
    if detail.get("area"):
        parts.append(detail["area"])
    role = detail.get("to") or detail.get("role")
    if role:
        parts.append(str(dict(Role.choices).get(role, role)))
    return " · ".join(parts)
