"""Reading the audit log, scoped to the reader's jurisdiction."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from linli.audit.models import AuditEvent
from linli.core.actors import Actor
from linli.core.roles import policy_for


def audit_events_for(user: Actor, *, action: str = "", actor: str = "") -> QuerySet[AuditEvent]:
    """Returns the events inside the user's jurisdiction, newest first.

    Raises PermissionDenied for roles that may not read the audit log.
    """
    if not policy_for(user).may_read_audit_log:
        raise PermissionDenied(_("The audit log is for data stewards."))
    events = AuditEvent.objects.visible_to(user)
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_username__icontains=actor)
    return events.order_by("-at", "-id")
