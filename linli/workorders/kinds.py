"""Kinds of work order: the apps above the engine register theirs in AppConfig.ready().

    register_kind(WorkOrderKind("need", _("Need"), merge_duplicates=True))

The engine stores the code and refuses a code nobody registered (raise_work_order), as the
audit log does with actions, so it never learns what a need or a plan step is. It registers
one kind itself, `general`, so that the engine works (and is tested) alone.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class WorkOrderKind:
    code: str
    label: str | Promise
    # A second open order of the same household, kind and category is merged into the first
    # when raised (two family members asking for the same insulin).
    merge_duplicates: bool = False


_KINDS: dict[str, WorkOrderKind] = {}


def register_kind(*kinds: WorkOrderKind) -> None:
    """Registers kinds by code. Raises ValueError for a code registered twice with another
    definition (two apps claiming one code)."""
    for kind in kinds:
        known = _KINDS.get(kind.code)
        if known is not None and known != kind:
            raise ValueError(f"work-order kind {kind.code!r} is registered twice")
        _KINDS[kind.code] = kind


def get_kind(code: str) -> WorkOrderKind:
    """Returns the registered kind. Raises LookupError for an unknown code."""
    try:
        return _KINDS[code]
    except KeyError:
        raise LookupError(f"no work-order kind {code!r}") from None


def kind_label(code: str) -> str:
    """Returns a kind's label in the active language (the code if nobody registered it)."""
    kind = _KINDS.get(code)
    return str(kind.label) if kind is not None else code


def registered_kinds() -> list[WorkOrderKind]:
    return sorted(_KINDS.values(), key=lambda kind: kind.code)


GENERAL = WorkOrderKind("general", _("General matter"), merge_duplicates=True)
register_kind(GENERAL)
