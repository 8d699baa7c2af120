"""A search by a full ID number or phone is audited, on the page and in the API (finding 9
of issue 11): who looked up whose number, without the number."""

import json
from datetime import date

import pytest
from django.urls import reverse

from linli.audit.models import AuditEvent
from linli.core import identifiers
from linli.core.idnumbers import make_id_number
from linli.registry.models import RegistryAction
from linli.registry.services.people import ID_KIND, PHONE_KIND

ID_A = make_id_number("610113", date(1980, 5, 17), 123)
PHONE_A = "13812345678"


def search_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=RegistryAction.SEARCH_IDENTIFIER))


def assert_no_identifier(event: AuditEvent) -> None:
    stored = json.dumps([event.detail, event.object_label, event.object_id], ensure_ascii=False)
    for secret in (
        ID_A,
        PHONE_A,
        identifiers.keyed_hash(ID_KIND, ID_A),
        identifiers.keyed_hash(PHONE_KIND, PHONE_A),
    ):
        assert secret not in stored, stored


def test_a_page_search_by_full_id_number_is_audited_without_the_number(world, client_for):
    client = client_for(world.grid_a)
    response = client.post(reverse("registry:people"), {"id_number": ID_A}, follow=True)
    assert response.status_code == 200
    assert "张三丰" in response.content.decode()
    [event] = search_events()
    assert event.actor == world.grid_a
    assert event.detail["fields"] == ["id_number"]
    assert event.detail["matches"] == 1
    assert event.area_path == world.a.grid.path  # the community sees it in its audit log
    assert_no_identifier(event)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"phone": PHONE_A}, ["phone"]),
        ({"id_number": ID_A, "phone": PHONE_A}, ["id_number", "phone"]),
    ],
)
def test_an_api_search_by_full_identifier_is_audited(world, client_for, body, fields):
    client = client_for(world.lead_a)
    response = client.post("/api/people/search", body, content_type="application/json")
    assert response.status_code == 200
    [event] = search_events()
    assert event.actor == world.lead_a
    assert event.detail["fields"] == fields
    assert_no_identifier(event)


@pytest.mark.parametrize(
    "params", [{"q": "张"}, {"phone": PHONE_A[-4:]}, {"id_number": ID_A[-4:]}, {}]
)
def test_other_searches_are_not_audited(world, client_for, params):
    """Names, last four digits and masked IDs are not full identifiers: no event."""
    client = client_for(world.grid_a)
    assert client.get("/api/people", params).status_code == 200
    assert client.get(reverse("registry:people"), params).status_code == 200
    assert search_events() == []


def test_the_search_shows_on_the_communitys_audit_log(world, client_for):
    client_for(world.grid_a).post(
        "/api/people/search", {"phone": PHONE_A}, content_type="application/json"
    )
    page = client_for(world.steward_a).get(reverse("audit:events"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "按完整身份证号或手机号查询" in text
    assert PHONE_A not in text
