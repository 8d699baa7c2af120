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


def _import_staff(world):
    from linli.accounts.staff_sheet import STAFF_COLUMNS, read_staff
    from linli.core.sheets import Sheet

    row = dict(
        zip(STAFF_COLUMNS, ["王小明", "13800001111", "网格员", "610113001001"], strict=False)
    )
    rows = read_staff([Sheet("人员", STAFF_COLUMNS, [(2, row)])], by=world.lead_a)
    return services.import_staff(rows=rows, file_name="人员.xlsx", by=world.lead_a)


def _redeem(world):
    import re

    from linli.adapters import sms

    world.grid_a.work_phone = "13800009999"
    services.issue_sign_in_code(user=world.grid_a, by=world.lead_a)
    # The SMS leaves after commit; read the code the way the test of the page does.
    from django.db import connection

    for _savepoints, callback, _robust in connection.run_on_commit:
        callback()
    code = re.search(r"(?<!\d)(\d{6})(?!\d)", sms.outbox[-1].text)[1]
    services.redeem_sign_in_code(
        username=world.grid_a.username, code=code, password="a long pass phrase 9"
    )


AUDITED = {
    "import_staff": (AccountAction.STAFF_IMPORTED, _import_staff),
    "issue_sign_in_code": (
        AccountAction.SIGN_IN_CODE_SENT,
        lambda w: services.issue_sign_in_code(user=w.grid_a, by=w.lead_a),
    ),
    "redeem_sign_in_code": (AccountAction.FIRST_SIGN_IN, _redeem),
    "deactivate_staff": (
        AccountAction.STAFF_DEACTIVATED,
        lambda w: services.deactivate_staff(batch=_import_staff(w), by=w.lead_a),
    ),
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

NOT_AUDITED: dict[str, str] = {
    "sign_in_url": "pure helper: the address the SMS gives",
}
