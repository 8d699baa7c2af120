"""Every state-changing service records the audit action it must, so none is added silently.

The walk finds every public function defined in a `services` module of an app (`services.py`,
or each module of a `services/` package). Each app answers for its own in
`linli/<app>/tests/audit_expectations.py`:

    AUDITED = {
        "launch_campaign": (ScreeningAction.CAMPAIGN_LAUNCH, exercise_launch),
    }
    NOT_AUDITED = {
        "pending_count": "reads only",
    }

where `exercise_launch(world)` makes the call once on the shared personas (conftest.World).
A service found in neither table fails the walk; each AUDITED entry is run and must append an
event with its action.
"""

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from django.apps import apps

from linli.audit.actions import is_registered
from linli.audit.models import AuditEvent


def _linli_apps() -> list[str]:
    return [config.name for config in apps.get_app_configs() if config.name.startswith("linli.")]


def _services_modules(app: str) -> Iterator[ModuleType]:
    try:
        module = importlib.import_module(f"{app}.services")
    except ModuleNotFoundError:
        return
    yield module
    if hasattr(module, "__path__"):  # a package: services/campaigns.py, services/attempts.py …
        for info in pkgutil.iter_modules(module.__path__):
            yield importlib.import_module(f"{module.__name__}.{info.name}")


def _public_services(app: str) -> dict[str, Callable]:
    found = {}
    for module in _services_modules(app):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and function.__module__ == module.__name__:
                found[name] = function
    return found


def _expectations(app: str) -> tuple[dict, dict]:
    try:
        module = importlib.import_module(f"{app}.tests.audit_expectations")
    except ModuleNotFoundError:
        return {}, {}
    return getattr(module, "AUDITED", {}), getattr(module, "NOT_AUDITED", {})


def _audited_cases() -> list:
    cases = []
    for app in _linli_apps():
        audited, _ = _expectations(app)
        for name, (action, exercise) in sorted(audited.items()):
            cases.append(pytest.param(app, name, action, exercise, id=f"{app}.{name}"))
    return cases


@pytest.mark.parametrize("app", _linli_apps())
def test_every_service_is_listed(app):
    """A public service function is either audited (with its action) or says why it is not."""
    audited, not_audited = _expectations(app)
    services = _public_services(app)
    unlisted = sorted(set(services) - set(audited) - set(not_audited))
    assert not unlisted, f"{app}: list these in tests/audit_expectations.py: {unlisted}"
    stale = sorted((set(audited) | set(not_audited)) - set(services))
    assert not stale, f"{app}: no longer services, remove from audit_expectations: {stale}"
    for reason in not_audited.values():
        assert reason.strip(), f"{app}: every unaudited service says why"


@pytest.mark.django_db
@pytest.mark.parametrize(("app", "name", "action", "exercise"), _audited_cases())
def test_audited_service_records_its_action(world, app, name, action, exercise):
    """Running the service once appends an event with its registered action."""
    assert is_registered(action), f"{action!r} is not a registered audit action"
    before = AuditEvent.objects.filter(action=action).count()
    exercise(world)
    assert AuditEvent.objects.filter(action=action).count() > before, (
        f"{app}.{name} recorded no {action!r} event"
    )
