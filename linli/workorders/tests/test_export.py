"""The Excel export of the work-order list: scoped, masked by role, watermarked, audited."""

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from linli.audit.models import AuditAction, AuditEvent
from linli.workorders.models import WorkOrderState
from linli.workorders.services import orders
from linli.workorders.tests.builders import dispatched, raised

pytestmark = pytest.mark.django_db


def sheet_of(response) -> list[tuple]:
    content = b"".join(response.streaming_content)
    book = load_workbook(io.BytesIO(content), read_only=True)
    return list(book.worksheets[0].iter_rows(values_only=True))


def test_export_is_scoped_watermarked_and_audited(world, client):
    mine = raised(world, external_source="12345", external_reference="BJ-9")
    theirs = orders.raise_work_order(kind="general", area=world.b.grid, by=world.grid_b)
    client.force_login(world.grid_a)
    response = client.get(reverse("workorders:export"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    rows = sheet_of(response)
    assert "grid_a" in rows[0][0]  # the watermark names who exported
    ids = [row[0] for row in rows[2:]]
    assert ids == [mine.pk] and theirs.pk not in ids
    assert "BJ-9" in rows[2]
    event = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert event.detail["rows"] == 1 and event.actor_username == "grid_a"


def test_export_masks_by_role_and_filters_by_state(world, client):
    raised(world, category="a")
    dispatched(world, category="b")
    client.force_login(world.volunteer_a)
    rows = sheet_of(client.get(reverse("workorders:export")))[2:]
    # The volunteer sees the queue's order but neither the resident's name nor the text.
    assert rows and all("张三丰" not in str(row) and "需要送药" not in str(row) for row in rows)
    client.force_login(world.lead_a)
    only = sheet_of(client.get(reverse("workorders:export"), {"state": WorkOrderState.DISPATCHED}))
    assert len(only[2:]) == 1
