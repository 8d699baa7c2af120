"""The do-not-call list: numbers the robot never dials (the dialer's claim skips them and its
sweep gives their jobs up). A number is kept only as its keyed hash, and never written to the
audit log; campaign managers add and remove entries, each change audited.
"""

from django.db import transaction

from linli.audit.services import record_event
from linli.core import identifiers
from linli.core.actors import Actor, AuditContext
from linli.core.permissions import require
from linli.core.phones import normalise_phone
from linli.registry.services.people import PHONE_KIND
from linli.screening.roles import CAMPAIGN_MANAGERS
from linli.voice.models import DoNotCall, VoiceAction


def phone_hash(number: str) -> str:
    return identifiers.keyed_hash(PHONE_KIND, number)


def _audit_do_not_call(
    action: str, *, entry_id: object, by: Actor, context: AuditContext | None, detail: dict
) -> None:
    # The number is never written to the log: the entry's id and its keyed hash identify it.
    record_event(
        action=action,
        actor=by,
        context=context,
        object_type="do_not_call",
        object_id=entry_id,
        detail=detail,
    )


@transaction.atomic
def add_do_not_call(
    *, number: str, by: Actor, reason: str = "", context: AuditContext | None = None
) -> DoNotCall:
    """Puts a number on the do-not-call list (stored as its keyed hash); audited as
    do_not_call_add. Returns the entry (the existing one when the number is listed already).
    Raises PermissionDenied; InvalidPhone when `number` is not a phone number."""
    require(by, roles=CAMPAIGN_MANAGERS)
    entry, created = DoNotCall.objects.get_or_create(
        phone_hash=phone_hash(normalise_phone(number)),
        defaults={"reason": reason[:200], "added_by_id": by.pk},
    )
    _audit_do_not_call(
        VoiceAction.DO_NOT_CALL_ADD,
        entry_id=entry.pk,
        by=by,
        context=context,
        detail={"created": created, "reason": entry.reason},
    )
    return entry


@transaction.atomic
def remove_do_not_call(*, number: str, by: Actor, context: AuditContext | None = None) -> bool:
    """Takes a number off the do-not-call list; audited as do_not_call_remove when it was
    listed. Returns whether it was. Raises PermissionDenied; InvalidPhone when `number` is not
    a phone number."""
    require(by, roles=CAMPAIGN_MANAGERS)
    entry = DoNotCall.objects.filter(phone_hash=phone_hash(normalise_phone(number))).first()
    if entry is None:
        return False
    entry_id = entry.pk
    entry.delete()
    _audit_do_not_call(
        VoiceAction.DO_NOT_CALL_REMOVE, entry_id=entry_id, by=by, context=context, detail={}
    )
    return True
