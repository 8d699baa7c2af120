"""The audit actions each app records, registered by the app itself.

Audit sits low in the layers and knows nothing of the apps above it: an app declares the
actions it records as `TextChoices` (code and label) and registers them from its
`AppConfig.ready()`:

    register_actions(ScreeningAction)

`record_event` refuses a code nobody registered, so a typo cannot write an unreadable row, and
the audit log page, its filter and the admin read labels from here. Adding an app adds no
audit migration: the database stores the code.
"""

from collections.abc import Iterable

from django.db import models

_LABELS: dict[str, object] = {}


def register_actions(*choices: type[models.TextChoices]) -> None:
    """Registers each choice class's codes and labels.

    Raises ValueError when a code is already registered with another label (two apps may not
    share a code: the log could not tell them apart)."""
    for choice_class in choices:
        for member in choice_class:
            known = _LABELS.get(member.value)
            if known is not None and str(known) != str(member.label):
                raise ValueError(f"audit action {member.value!r} is registered twice")
            _LABELS[member.value] = member.label


def is_registered(code: str) -> bool:
    """Returns whether some app registered this action code."""
    return code in _LABELS


def action_label(code: str) -> str:
    """Returns the (translated) label of an action code; the code itself if unknown."""
    label = _LABELS.get(code)
    return str(label) if label is not None else code


def action_choices() -> list[tuple[str, str]]:
    """Returns (code, label) for every registered action, ordered by label."""
    return sorted(((code, str(label)) for code, label in _LABELS.items()), key=lambda c: c[1])


def registered_codes() -> Iterable[str]:
    """Returns every registered action code."""
    return tuple(_LABELS)
