"""Staff from a sheet: accounts, an SMS code, the first sign-in, and the end of a deployment."""

import io
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from linli.accounts import services
from linli.accounts.models import AccountAction, SignInCode, StaffImportBatch, User
from linli.accounts.staff_sheet import STAFF_COLUMNS, read_staff
from linli.adapters import sms
from linli.audit.models import AuditEvent
from linli.core.roles import Role
from linli.core.sheets import Sheet, workbook


def staff_sheet(rows):
    return [
        Sheet(
            "人员",
            STAFF_COLUMNS,
            [(i + 2, dict(zip(STAFF_COLUMNS, r, strict=False))) for i, r in enumerate(rows)],
        )
    ]


def code_in(text: str) -> str:
    return re.search(r"(?<!\d)(\d{6})(?!\d)", text)[1]


ROWS = [
    ["王小明", "138 0000 1111", "网格员", "610113001001/第一网格", ""],
    ["李红", "13800002222", "Community lead", "长延堡社区", "lihong"],
]


@pytest.mark.django_db
def test_import_creates_accounts_and_texts_each_a_code(world, django_capture_on_commit_callbacks):
    rows = read_staff(staff_sheet(ROWS), by=world.steward_a)
    assert [r.error for r in rows] == ["", ""]
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.import_staff(rows=rows, file_name="人员.xlsx", by=world.steward_a)
    wang = User.objects.get(username="13800001111")
    assert wang.role == Role.GRID_WORKER and wang.display_name == "王小明"
    assert list(wang.areas.all()) == [world.a.grid]
    assert not wang.has_usable_password() and wang.import_batch == batch
    assert User.objects.get(username="lihong").role == Role.COMMUNITY_LEAD
    assert sorted(m.to for m in sms.outbox) == ["13800001111", "13800002222"]
    text = next(m.text for m in sms.outbox if m.to == "13800001111")
    assert "13800001111" in text and "/accounts/first-sign-in/" in text
    assert AuditEvent.objects.filter(action=AccountAction.STAFF_IMPORTED).count() == 1
    assert AuditEvent.objects.filter(action=AccountAction.SIGN_IN_CODE_SENT).count() == 2
    # The same sheet again creates nobody and sends nothing.
    again = read_staff(staff_sheet(ROWS), by=world.steward_a)
    assert all(r.exists for r in again)
    sms.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.import_staff(rows=again, file_name="人员.xlsx", by=world.steward_a)
    assert sms.outbox == []


@pytest.mark.django_db
def test_rows_outside_the_importers_jurisdiction_are_refused(world):
    rows = read_staff(
        staff_sheet(
            [
                ["赵六", "13800003333", "网格员", "610113001002", ""],  # community B
                ["钱七", "13800004444", "巡逻员", "610113001001", ""],  # no such role
                ["孙八", "12345", "网格员", "610113001001", ""],  # not a mobile
            ]
        ),
        by=world.steward_a,
    )
    assert "outside your jurisdiction" in rows[0].error_both
    assert "大雁塔社区" in rows[0].error_both
    assert "巡逻员" in rows[1].error_both
    assert rows[2].error
    with pytest.raises(ValidationError):
        services.import_staff(rows=rows, file_name="x.xlsx", by=world.steward_a)
    assert not User.objects.filter(display_name="赵六").exists()


@pytest.mark.django_db
def test_first_sign_in_with_the_sms_code(world, client, django_capture_on_commit_callbacks):
    rows = read_staff(staff_sheet(ROWS[:1]), by=world.steward_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.import_staff(rows=rows, file_name="人员.xlsx", by=world.steward_a)
    code = code_in(sms.outbox[0].text)
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(
        "/accounts/first-sign-in/",
        {
            "username": "13800001111",
            "code": wrong,
            "password": "a long pass phrase 9",
            "password_again": "a long pass phrase 9",
        },
    )
    assert response.status_code == 400
    assert SignInCode.objects.get().attempts == 1
    response = client.post(
        "/accounts/first-sign-in/",
        {
            "username": "13800001111",
            "code": code,
            "password": "a long pass phrase 9",
            "password_again": "a long pass phrase 9",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="13800001111")
    assert user.check_password("a long pass phrase 9")
    assert AuditEvent.objects.filter(
        action=AccountAction.FIRST_SIGN_IN, object_id=str(user.pk)
    ).exists()
    client.logout()
    # The code works once.
    with pytest.raises(services.SignInRefused):
        services.redeem_sign_in_code(
            username="13800001111", code=code, password="another long one 7"
        )
    response = client.post(
        "/accounts/login/", {"username": "13800001111", "password": "a long pass phrase 9"}
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_a_code_stops_after_five_wrong_tries(world, django_capture_on_commit_callbacks):
    rows = read_staff(staff_sheet(ROWS[:1]), by=world.steward_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.import_staff(rows=rows, file_name="人员.xlsx", by=world.steward_a)
    code = code_in(sms.outbox[0].text)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(services.SignInRefused):
            services.redeem_sign_in_code(
                username="13800001111", code=wrong, password="x long pass 1234"
            )
    with pytest.raises(services.SignInRefused):
        services.redeem_sign_in_code(username="13800001111", code=code, password="x long pass 1234")


@pytest.mark.django_db
def test_bulk_deactivation_by_batch_and_by_area(world):
    rows = read_staff(staff_sheet(ROWS), by=world.street_officer)
    batch = services.import_staff(rows=rows, file_name="人员.xlsx", by=world.street_officer)
    assert services.deactivate_staff(batch=batch, by=world.street_officer) == 2
    assert not User.objects.filter(import_batch=batch, is_active=True).exists()
    assert StaffImportBatch.objects.get(pk=batch.pk).deactivated_at is not None
    assert AuditEvent.objects.filter(action=AccountAction.STAFF_DEACTIVATED).count() == 3
    # By area: everyone working only inside community B (its grid worker), not the street officer.
    assert services.deactivate_staff(area=world.b.community, by=world.street_officer) == 1
    assert not User.objects.get(pk=world.grid_b.pk).is_active
    assert User.objects.get(pk=world.street_officer.pk).is_active
    # A community's steward cannot end community B's accounts.
    with pytest.raises(PermissionDenied):
        services.deactivate_staff(area=world.b.community, by=world.steward_a)


@pytest.mark.django_db
def test_the_staff_page_previews_then_creates(world, client, django_capture_on_commit_callbacks):
    client.force_login(world.lead_a)
    upload = io.BytesIO(workbook([("人员", STAFF_COLUMNS, ROWS[:1])]))
    upload.name = "人员.xlsx"
    response = client.post("/accounts/staff/", {"file": upload})
    body = response.content.decode()
    assert response.status_code == 200 and "confirm-staff" in body
    assert "13800001111" not in body  # masked in the list
    assert not User.objects.filter(username="13800001111").exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/staff/confirm/")
    assert response.status_code == 302
    assert User.objects.filter(username="13800001111").exists()
    assert len(sms.outbox) == 1
    page = client.get("/accounts/staff/").content.decode()
    assert "人员.xlsx" in page


@pytest.mark.django_db
def test_a_grid_worker_may_not_import_staff(world, client):
    client.force_login(world.grid_a)
    assert client.get("/accounts/staff/").status_code == 403
