"""Which accounts services record which audit action (tests/test_audit_coverage.py)."""

from linli.accounts import services
from linli.accounts.models import AccountAction
from linli.core.roles import Role

CHANGE = AccountAction.PERMISSION_CHANGE


def _create(world):
    services.create_staff_user(
        username="new_grid",
        password="a long demo password",
        role=Role.GRID_WORKER,
        areas=[world.a.grid],
        by=world.lead_a,
    )


AUDITED = {
    "create_staff_user": (CHANGE, _create),
    "set_role": (
        CHANGE,
        lambda w: services.set_role(user=w.volunteer_a, role=Role.GRID_WORKER, by=w.lead_a),
    ),
    "assign_area": (
        CHANGE,
        lambda w: services.assign_area(user=w.grid_b, area=w.a.grid, by=w.street_officer),
    ),
    "unassign_area": (
        CHANGE,
        lambda w: services.unassign_area(user=w.grid_a, area=w.a.grid, by=w.lead_a),
    ),
    "record_account_created": (
        CHANGE,
        lambda w: services.record_account_created(user=w.grid_a, by=w.lead_a),
    ),
    "record_flags_changed": (
        CHANGE,
        lambda w: services.record_flags_changed(
            user=w.grid_a, flags={"is_active": False}, by=w.lead_a
        ),
    ),
}

NOT_AUDITED: dict[str, str] = {}
