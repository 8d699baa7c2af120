"""Which accounts services record which audit action (tests/test_audit_coverage.py)."""

from django.contrib.auth.models import Group, Permission

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


def _group_permissions(world):
    group = Group.objects.create(name="auditors")
    group.user_set.add(world.grid_a)
    services.set_group_permissions(
        group=group,
        permissions=[Permission.objects.get(codename="view_auditevent")],
        by=world.street_officer,
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
    "move_assignment": (
        CHANGE,
        lambda w: services.move_assignment(
            user=w.grid_a, from_area=w.a.grid, to_area=w.a.community, by=w.lead_a
        ),
    ),
    "rename_user": (
        AccountAction.USER_RENAMED,
        lambda w: services.rename_user(user=w.grid_a, username="grid_a2", by=w.lead_a),
    ),
    "set_password": (
        AccountAction.PASSWORD_SET,
        lambda w: services.set_password(user=w.grid_a, password="a new long password", by=w.lead_a),
    ),
    "store_password": (
        AccountAction.PASSWORD_SET,
        lambda w: services.store_password(user=w.grid_a, by=w.lead_a),
    ),
    "set_permissions": (
        CHANGE,
        lambda w: services.set_permissions(
            user=w.grid_a,
            groups=[],
            permissions=[Permission.objects.get(codename="view_auditevent")],
            by=w.street_officer,
        ),
    ),
    "set_group_permissions": (CHANGE, _group_permissions),
}

NOT_AUDITED: dict[str, str] = {}
