"""The 12345 integration's API: raising idempotently on the external reference, refusing
bad input in both languages with nothing stored, reading scoped and masked."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from linli.audit.models import AuditEvent
from linli.workorders.kinds import WorkOrderKind, register_kind
from linli.workorders.models import RaisedVia, WorkOrder, WorkOrderAction, WorkOrderState
from linli.workorders.services import orders
from linli.workorders.tests.builders import dispatched, raised

pytestmark = pytest.mark.django_db
URL = "/api/work-orders"
# A kind that lists its categories, as the needs app's will.
register_kind(WorkOrderKind("api_test_need", "need", categories=("medicine", "food")))


def body(world, **overrides) -> dict:
    data = {
        "source": "12345",
        "external_reference": "BJ20261208-0001",
        "kind": "general",
        "area": world.a.grid.pk,
        "priority": "p1",
        "text": "老人独居，需要送药",
        "contact_name": "张女士",
    }
    return {**data, **overrides}


def post(client, data):
    return client.post(URL, json.dumps(data), content_type="application/json")


def test_raise_then_same_reference_returns_the_same_order(world, client):
    client.force_login(world.grid_a)
    first = post(client, body(world))
    assert first.status_code == 201, first.content
    order = WorkOrder.objects.get()
    assert first.json()["id"] == order.pk
    assert first.json()["external_reference"] == "BJ20261208-0001"
    assert order.raised_via == RaisedVia.API and order.external_source == "12345"
    again = post(client, body(world, text="重复推送"))
    assert again.status_code == 200
    assert again.json()["id"] == order.pk
    assert WorkOrder.objects.count() == 1
    assert AuditEvent.objects.filter(action=WorkOrderAction.RAISE).count() == 1


def test_a_listed_category_is_taken(world, client):
    client.force_login(world.grid_a)
    response = post(client, body(world, kind="api_test_need", category="medicine"))
    assert response.status_code == 201
    assert response.json()["category"] == "medicine"


def test_due_by_shortens_the_deadline(world, client):
    client.force_login(world.grid_a)
    due = timezone.now() + timedelta(hours=2)
    response = post(client, body(world, due_by=due.isoformat()))
    assert response.status_code == 201
    order = WorkOrder.objects.get()
    assert abs((order.done_by - due).total_seconds()) < 1


@pytest.mark.parametrize(
    ("overrides", "field", "chinese"),
    [
        ({"kind": "spaceship"}, "kind", "未知"),
        ({"kind": "api_test_need", "category": "rocket"}, "category", "未知"),
        ({"priority": "p9"}, "priority", "未知"),
        ({"due_by": "2020-01-01T00:00:00+08:00"}, "due_by", "期限"),
    ],
)
def test_bad_input_is_refused_in_both_languages(world, client, overrides, field, chinese):
    client.force_login(world.grid_a)
    response = post(client, body(world, **overrides))
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "invalid"
    message = answer["fields"][field]
    assert chinese in message and " / " in message  # Chinese, then English
    assert WorkOrder.objects.count() == 0
    assert not AuditEvent.objects.filter(action=WorkOrderAction.RAISE).exists()


def test_area_outside_the_jurisdiction_is_refused(world, client):
    client.force_login(world.grid_a)
    response = post(client, body(world, area=world.b.grid.pk))
    assert response.status_code == 400
    assert "area" in response.json()["fields"]
    assert " / " in response.json()["fields"]["area"]
    assert WorkOrder.objects.count() == 0


def test_missing_fields_are_named(world, client):
    client.force_login(world.grid_a)
    data = body(world)
    del data["external_reference"], data["area"]
    response = post(client, data)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "external_reference" in detail and "area" in detail and " / " in detail
    assert WorkOrder.objects.count() == 0


def test_reference_used_in_another_community_is_not_revealed(world, client):
    client.force_login(world.grid_b)
    assert post(client, body(world, area=world.b.grid.pk)).status_code == 201
    client.force_login(world.grid_a)
    response = post(client, body(world))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "id" not in response.json()
    assert WorkOrder.objects.count() == 1


def test_get_is_scoped_and_masked(world, client):
    order = raised(world)
    client.force_login(world.grid_b)
    assert client.get(f"{URL}/{order.pk}").status_code == 404
    client.force_login(world.grid_a)
    shown = client.get(f"{URL}/{order.pk}").json()
    assert shown["id"] == order.pk and shown["text"] == "需要送药"
    # A volunteer not assigned sees a queued order's facts but not its description.
    client.force_login(world.volunteer_a)
    masked = client.get(f"{URL}/{order.pk}").json()
    assert masked["text"] != "需要送药"


def test_list_filters_by_state_and_scope(world, client):
    waiting = raised(world, category="")
    taken = dispatched(world, category="x")
    orders.raise_work_order(kind="general", area=world.b.grid, by=world.grid_b)
    client.force_login(world.grid_a)
    everything = client.get(URL).json()
    assert {r["id"] for r in everything["results"]} == {waiting.pk, taken.pk}
    only = client.get(URL, {"state": WorkOrderState.DISPATCHED}).json()
    assert [r["id"] for r in only["results"]] == [taken.pk]
    assert client.get(URL, {"state": "nonsense"}).status_code == 422
