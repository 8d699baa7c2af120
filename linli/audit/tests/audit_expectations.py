"""The audit app's one service is the log itself (tests/test_audit_coverage.py)."""

from linli.audit.models import AuditAction
from linli.audit.services import record_event

AUDITED = {
    "record_event": (
        AuditAction.EXPORT,
        lambda w: record_event(action=AuditAction.EXPORT, actor=w.lead_a, object_type="test"),
    ),
}

NOT_AUDITED: dict[str, str] = {}
