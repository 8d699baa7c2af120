"""What an event is about, read back from the models themselves.

A model the audit log speaks of declares `audit_type` (the code stored in
`AuditEvent.object_type`) and, if its page may be linked from the log, a classmethod
`audit_url(object_id) -> str`. The log page names the object by the model's verbose name, so
audit knows nothing of the apps that record events.
"""

from functools import cache

from django.apps import apps
from django.db import models


@cache
def _models_by_type() -> dict[str, type[models.Model]]:
    return {
        model.audit_type: model  # type: ignore[attr-defined]  # declared by the model, checked
        for model in apps.get_models()
        if isinstance(getattr(model, "audit_type", None), str)
    }


def subject_label(object_type: str) -> str:
    """Returns the translated name of an object type (the type code itself if unknown)."""
    model = _models_by_type().get(object_type)
    return str(model._meta.verbose_name) if model is not None else object_type


def subject_url(object_type: str, object_id: str) -> str:
    """Returns the page of the object an event is about, or "" when it has none."""
    model = _models_by_type().get(object_type)
    audit_url = getattr(model, "audit_url", None)
    if audit_url is None or not object_id.isdigit():
        return ""
    return audit_url(int(object_id))
