"""The JSON API is scoped and masked exactly like the pages, and its docs work offline."""

import json
import re
from datetime import date

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db import connection
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.test.utils import CaptureQueriesContext

from linli.audit.models import AuditAction, AuditEvent
from linli.core.idnumbers import make_id_number
from linli.registry.models import RegistryAction, VulnerableTag
from linli.registry.services.people import create_household, register_person

# The personas' full identifiers (conftest.world): never in a response unless revealed.
ID_A = make_id_number("610113", date(1980, 5, 17), 123)
PHONE_A = "13812345678"


def add_resident(dwelling, name: str, sequence: int, phone: str = "", tags=()):
    """Registers a resident in a household of their own, through the registry's services
    (linli.demo's factories sit above registry in the layers)."""
    return register_person(
        name=name,
        id_number=make_id_number("610113", date(1985, 1, 1), sequence),
        phone=phone,
        dwelling=dwelling,
        household=create_household(dwelling=dwelling, by=None),
        tags=list(tags),
        by=None,
    )


CHINESE = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z]{3,}")


def text_of(response) -> str:
    """Returns the JSON body with non-ASCII characters unescaped, for substring checks."""
    return json.dumps(response.json(), ensure_ascii=False)


def assert_bilingual_error(response, status: int) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["detail"], str)
    assert CHINESE.search(body["detail"]), body
    assert ENGLISH.search(body["detail"]), body


def names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


# --- Masking -------------------------------------------------------------------------------


def test_grid_worker_sees_own_residents_with_identifiers_masked(world, client_for):
    """A grid worker lists their residents; ID and phone are masked, never in full."""
    response = client_for(world.grid_a).get("/api/people")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    row = next(r for r in body["results"] if r["id"] == world.resident_a.pk)
    assert row["name"] == "张三丰"
    assert row["id_number"] == "6101**********" + ID_A[-4:]
    assert row["phone"] == "138****5678"
    assert ID_A not in response.content.decode()
    assert PHONE_A not in response.content.decode()


def test_person_file_masks_identifiers_and_lists_members(world, client_for):
    """The person file shows masked identifiers, the household members and what may be
    revealed, and never the full values."""
    response = client_for(world.grid_a).get(f"/api/people/{world.resident_a.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["id_number"] == "6101**********" + ID_A[-4:]
    assert body["phone"] == "138****5678"
    assert body["birth_date"] == "1980-05-17"
    assert [m["name"] for m in body["members"]] == ["李秀英"]
    assert set(body["revealable"]) == {"id_number", "phone"}
    assert len(body["tags"]) == 1
    content = response.content.decode()
    assert ID_A not in content and PHONE_A not in content


def test_street_officer_sees_names_masked(world, client_for):
    """Officials above the community see names masked (张*丰) across both communities."""
    response = client_for(world.street_officer).get("/api/people")
    assert response.status_code == 200
    assert sorted(names(response)) == sorted(["张*丰", "李*英", "王*"])
    assert "张三丰" not in text_of(response)

    detail = client_for(world.street_officer).get(f"/api/people/{world.resident_a.pk}")
    assert detail.json()["name"] == "张*丰"
    assert "张三丰" not in text_of(detail)


# --- Jurisdiction --------------------------------------------------------------------------


def test_outsider_rows_are_not_found(world, client_for):
    """A grid worker of A gets 404 for B's resident, area and household, and B's rows are not
    in their lists."""
    client = client_for(world.grid_a)
    household_b = world.resident_b.household_id
    for url in (
        f"/api/people/{world.resident_b.pk}",
        f"/api/areas/{world.b.community.pk}",
        f"/api/areas/{world.b.dwellings[0].pk}",
        f"/api/households/{household_b}",
        f"/api/people?area={world.b.community.pk}",
        f"/api/households?area={world.b.community.pk}",
    ):
        assert_bilingual_error(client.get(url), 404)
    assert "王五" not in names(client.get("/api/people"))
    assert household_b not in [r["id"] for r in client.get("/api/households").json()["results"]]


def test_not_found_does_not_say_whether_the_row_exists(world, client_for):
    """Someone else's person and a missing id give the same 404 body."""
    client = client_for(world.grid_a)
    outsider = client.get(f"/api/people/{world.resident_b.pk}")
    missing = client.get("/api/people/999999")
    assert outsider.status_code == missing.status_code == 404
    assert outsider.json() == missing.json()


def test_volunteer_may_not_browse_people_or_households(world, client_for):
    """Volunteers get a bilingual 403 on every people and household endpoint."""
    client = client_for(world.volunteer_a)
    for url in (
        "/api/people",
        f"/api/people/{world.resident_a.pk}",
        "/api/households",
        f"/api/households/{world.resident_a.household_id}",
    ):
        response = client.get(url)
        assert_bilingual_error(response, 403)
        assert response.json()["code"] == "permission_denied"
    reveal = client.post(
        f"/api/people/{world.resident_a.pk}/reveal",
        {"field": "id_number", "purpose": "verify_identity"},
        content_type="application/json",
    )
    assert_bilingual_error(reveal, 403)
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_anonymous_caller_is_told_to_log_in(world, client):
    """Without a session the API answers 401 in both languages."""
    assert_bilingual_error(client.get("/api/people"), 401)
    assert client.get("/api/people").json()["code"] == "not_authenticated"


# --- Reveal --------------------------------------------------------------------------------


def reveal(client, person, **body):
    return client.post(f"/api/people/{person.pk}/reveal", body, content_type="application/json")


def test_reveal_with_a_listed_purpose_returns_the_value_and_audits(world, client_for):
    """Revealing with a listed purpose returns the full ID and records field and purpose."""
    response = reveal(
        client_for(world.grid_a), world.resident_a, field="id_number", purpose="verify_identity"
    )
    assert response.status_code == 200
    assert response.json() == {"value": ID_A}
    event = AuditEvent.objects.get(action=AuditAction.REVEAL)
    assert event.actor == world.grid_a
    assert event.field == "id_number"
    assert event.purpose == "verify_identity"
    assert event.object_id == str(world.resident_a.pk)

    phone = reveal(
        client_for(world.grid_a), world.resident_a, field="phone", purpose="contact_resident"
    )
    assert phone.json() == {"value": PHONE_A}


@pytest.mark.parametrize("purpose", ["", "curiosity"])
def test_reveal_without_a_listed_purpose_is_refused_and_not_logged(world, client_for, purpose):
    """A purpose that is not one of LINLI_REVEAL_PURPOSES is a 422 naming the purpose, and
    writes nothing; the document lists the purposes as an enum."""
    client = client_for(world.grid_a)  # logging in is itself audited
    before = AuditEvent.objects.count()
    response = reveal(client, world.resident_a, field="id_number", purpose=purpose)
    assert_bilingual_error(response, 422)
    assert "body.purpose" in response.json()["detail"]
    document = client.get("/api/openapi.json").json()
    listed = document["components"]["schemas"]["RevealIn"]["properties"]["purpose"]["enum"]
    assert listed == [key for key, _label in settings.LINLI_REVEAL_PURPOSES]
    assert ID_A not in response.content.decode()
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    "body",
    [
        {"field": "name", "purpose": "verify_identity"},
        {"field": "id_number_encrypted", "purpose": "verify_identity"},
        {"purpose": "verify_identity"},
        {"field": "id_number"},
    ],
)
def test_reveal_with_a_bad_field_or_no_purpose_is_a_clear_422(world, client_for, body):
    """A missing or unknown field, or no purpose, is a bilingual 422 naming the field."""
    response = reveal(client_for(world.grid_a), world.resident_a, **body)
    assert_bilingual_error(response, 422)
    assert response.json()["code"] == "validation_error"
    assert "body." in response.json()["detail"]
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_reveal_of_an_unrecorded_value_is_a_400(world, client_for):
    """Revealing a field the person has no value for is a bilingual 400."""
    person = add_resident(world.a.dwellings[1], "赵六", sequence=9)  # no phone recorded
    response = reveal(client_for(world.grid_a), person, field="phone", purpose="verify_identity")
    assert_bilingual_error(response, 400)


def test_reveal_outside_jurisdiction_is_not_found_and_not_logged(world, client_for):
    response = reveal(
        client_for(world.grid_a), world.resident_b, field="id_number", purpose="verify_identity"
    )
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()


def test_reveal_requires_the_csrf_token(world):
    """Session-authenticated writes need the CSRF token, as on the pages."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.grid_a)
    url = f"/api/people/{world.resident_a.pk}/reveal"
    body = {"field": "id_number", "purpose": "verify_identity"}
    refused = client.post(url, body, content_type="application/json")
    assert_bilingual_error(refused, 403)
    assert not AuditEvent.objects.filter(action=AuditAction.REVEAL).exists()

    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    allowed = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert allowed.status_code == 200
    assert allowed.json() == {"value": ID_A}


# --- Audit of views ------------------------------------------------------------------------


def test_opening_files_is_audited(world, client_for):
    """Opening a person's or a household's file writes a view event; lists do not."""
    client = client_for(world.grid_a)
    client.get("/api/people")
    client.get("/api/households")
    views = AuditEvent.objects.filter(
        action__in=[RegistryAction.VIEW_PERSON, RegistryAction.VIEW_HOUSEHOLD]
    )
    assert not views.exists()
    client.get(f"/api/people/{world.resident_a.pk}")
    client.get(f"/api/households/{world.resident_a.household_id}")
    events = {(e.action, e.object_id) for e in views.filter(actor=world.grid_a)}
    assert events == {
        (RegistryAction.VIEW_PERSON, str(world.resident_a.pk)),
        (RegistryAction.VIEW_HOUSEHOLD, str(world.resident_a.household_id)),
    }


# --- Search --------------------------------------------------------------------------------


def search(client, **body):
    return client.post("/api/people/search", body, content_type="application/json")


def test_search_by_full_id_number_finds_the_person(world, client_for):
    assert names(search(client_for(world.grid_a), id_number=ID_A)) == ["张三丰"]


def test_full_identifiers_are_refused_in_the_query_string(world, client_for):
    """A full ID number or phone in a URL would end up in logs: GET refuses it, bilingually."""
    client = client_for(world.grid_a)
    for params in ({"id_number": ID_A}, {"phone": "13812345678"}):
        response = client.get("/api/people", params)
        assert response.status_code == 422
        assert "POST /api/people/search" in response.json()["detail"]


def test_search_by_lower_case_x_or_spaces_is_normalised(world, client_for):
    """The ID number goes through the product's one parser before hashing."""
    spaced = f"{ID_A[:6]} {ID_A[6:14]} {ID_A[14:]}".lower()
    assert names(search(client_for(world.grid_a), id_number=spaced)) == ["张三丰"]


@pytest.mark.parametrize("partial", [ID_A[:10], ID_A[6:14], ID_A[:-1]])
def test_search_by_partial_id_number_finds_nobody(world, client_for, partial):
    """A fragment of the full ID is never matched by LIKE: it finds nobody (only the masked
    form and its last four characters, which are on screen anyway, are matched)."""
    response = client_for(world.grid_a).get("/api/people", {"id_number": partial})
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_search_by_id_last_four_or_masked_form(world, client_for):
    client = client_for(world.grid_a)
    assert names(client.get("/api/people", {"id_number": ID_A[-4:]})) == ["张三丰"]
    masked = ID_A[:4] + "*" * 10 + ID_A[-4:]
    assert names(client.get("/api/people", {"id_number": masked})) == ["张三丰"]


def test_search_by_phone_tail_and_full_phone(world, client_for):
    client = client_for(world.grid_a)
    assert names(client.get("/api/people", {"phone": "5678"})) == ["张三丰"]
    assert names(search(client, phone="138 1234 5678")) == ["张三丰"]
    assert names(client.get("/api/people", {"phone": "1381234"})) == []


def test_search_does_not_reach_outside_jurisdiction(world, client_for):
    """Grid A searching for B's resident's phone finds nobody."""
    response = search(client_for(world.grid_a), phone="13698765432")
    assert response.json()["count"] == 0


def test_filters_by_name_tag_residency_and_area(world, client_for):
    client = client_for(world.lead_a)
    assert names(client.get("/api/people", {"q": "秀英"})) == ["李秀英"]
    assert names(client.get("/api/people", {"tag": VulnerableTag.DIALYSIS})) == ["张三丰"]
    assert client.get("/api/people", {"residency": "floating"}).json()["count"] == 0
    assert client.get("/api/people", {"area": world.a.building.pk}).json()["count"] == 2


def test_empty_filters_from_a_search_form_are_ignored(world, client_for):
    """A form that sends every field, empty ones as "", lists everyone."""
    response = client_for(world.grid_a).get(
        "/api/people?q=&id_number=&phone=&tag=&residency=&area=&page="
    )
    assert response.status_code == 200
    assert response.json()["count"] == 2
    households = client_for(world.grid_a).get("/api/households?q=&area=&page=")
    assert households.json()["count"] == 1


def test_unknown_tag_is_a_clear_422(world, client_for):
    response = client_for(world.grid_a).get("/api/people", {"tag": "vip"})
    assert_bilingual_error(response, 422)
    assert "query.tag" in response.json()["detail"]


# --- Pagination and query counts -----------------------------------------------------------


def add_residents(world, n: int) -> None:
    for i in range(n):
        add_resident(
            world.a.dwellings[1 + i % 3],
            f"居民{i}",
            sequence=300 + i,
            phone=f"1390000{i:04d}",
            tags=[VulnerableTag.ELDERLY_ALONE, VulnerableTag.DISABLED],
        )


def test_pages_carry_count_and_links(world, client_for, settings):
    settings.LINLI_PAGE_SIZE = 1
    client = client_for(world.grid_a)
    first = client.get("/api/people").json()
    assert (first["count"], first["page"], first["pages"], first["page_size"]) == (2, 1, 2, 1)
    assert (first["next"], first["previous"]) == (2, None)
    second = client.get("/api/people", {"page": 2}).json()
    assert (second["next"], second["previous"]) == (None, 1)
    assert {first["results"][0]["id"], second["results"][0]["id"]} == {
        world.resident_a.pk,
        world.resident_a2.pk,
    }
    assert_bilingual_error(client.get("/api/people", {"page": 3}), 404)


def test_page_size_is_fifty(world, client_for):
    add_residents(world, 55)
    body = client_for(world.grid_a).get("/api/people").json()
    assert (body["count"], body["pages"], len(body["results"])) == (57, 2, 50)


@pytest.mark.parametrize("url", ["/api/people", "/api/households", "/api/areas/{grid}"])
def test_list_query_count_does_not_grow_with_rows(world, client_for, url):
    """Lists load rows, tags and counts in a fixed number of queries (no N+1)."""
    client = client_for(world.grid_a)
    url = url.format(grid=world.a.grid.pk)
    client.get(url)  # warm the session

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = queries()
    add_residents(world, 12)
    assert queries() == few


# --- Areas ---------------------------------------------------------------------------------


def test_root_areas_are_the_callers_assignments(world, client_for):
    assert [a["id"] for a in client_for(world.grid_a).get("/api/areas").json()] == [world.a.grid.pk]
    roots = client_for(world.street_officer).get("/api/areas").json()
    assert [(a["name"], a["level"], a["code"]) for a in roots] == [
        ("小寨路街道", "street", "610113001000")
    ]


def test_area_detail_has_ancestors_children_counts_and_staff(world, client_for):
    world.lead_a.work_phone = "029-88886666"
    world.lead_a.save(update_fields=["work_phone"])
    body = client_for(world.lead_a).get(f"/api/areas/{world.a.community.pk}").json()
    assert (body["name"], body["level"], body["code"]) == (
        "长延堡社区",
        "community",
        "610113001001",
    )
    assert body["ancestors"] == ["西安市", "雁塔区", "小寨路街道"]
    assert [(c["name"], c["residents"], c["households"]) for c in body["children"]] == [
        ("第一网格", 2, 1)
    ]
    assert [s["display_name"] for s in body["children"][0]["staff"]] == ["grid_a"]
    staff = {s["display_name"]: s for s in body["staff"]}
    assert set(staff) == {"lead_a"}  # stewards and volunteers work here but are not in charge
    assert staff["lead_a"]["role"] == "community_lead"
    assert staff["lead_a"]["work_phone"] == "029-88886666"


def test_street_area_counts_each_community(world, client_for):
    body = client_for(world.street_officer).get(f"/api/areas/{world.street.pk}").json()
    assert {c["name"]: c["residents"] for c in body["children"]} == {
        "长延堡社区": 2,
        "大雁塔社区": 1,
    }


# --- Households ----------------------------------------------------------------------------


def test_household_list_and_detail(world, client_for):
    client = client_for(world.grid_a)
    listed = client.get("/api/households").json()
    assert [(h["id"], h["head"], h["size"]) for h in listed["results"]] == [
        (world.resident_a.household_id, "张三丰", 2)
    ]
    detail = client.get(f"/api/households/{world.resident_a.household_id}").json()
    assert [m["name"] for m in detail["members"]] == ["张三丰", "李秀英"]
    assert PHONE_A not in json.dumps(detail)

    officer = client_for(world.street_officer).get(
        f"/api/households/{world.resident_a.household_id}"
    )
    assert officer.json()["head"] == "张*丰"


# --- OpenAPI and docs ----------------------------------------------------------------------


def test_openapi_document_lists_the_endpoints(db, client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths) >= {
        "/api/areas",
        "/api/areas/{area_id}",
        "/api/people",
        "/api/people/{person_id}",
        "/api/people/{person_id}/reveal",
        "/api/households",
        "/api/households/{household_id}",
    }
    assert "post" in paths["/api/people/{person_id}/reveal"]


def test_openapi_documents_the_422_for_a_non_integer_id_and_the_400_for_a_bad_body(
    world, client_for
):
    """Every answer the API gives is in its document: a non-integer id is a documented 422,
    an unparsable body a documented 400 whose message is in both languages."""
    client = client_for(world.grid_a)
    paths = client.get("/api/openapi.json").json()["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in operation["responses"], (method, path)
            if "requestBody" in operation:
                assert "400" in operation["responses"], (method, path)
    assert client.get("/api/people/abc").status_code == 422
    response = client.post("/api/people/search", "{not json", content_type="application/json")
    assert_bilingual_error(response, 400)
    assert response.json()["code"] == "unparsable_body"


def test_docs_page_loads_only_the_apps_own_assets(db, client):
    """The Swagger page works air-gapped: no external host, bundled assets that exist, and
    no online validator."""
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "http://" not in html and "https://" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), asset
    settings_json = re.search(r'id="swagger-settings">(.*?)</script>', html, re.S).group(1)
    swagger = json.loads(settings_json)
    assert swagger["validatorUrl"] is None
    assert swagger["url"] == "/api/openapi.json"


def test_people_carry_codes_beside_labels(world, client_for):
    """Integrations get codes (dialysis, registered, head) whatever the display language."""
    rows = client_for(world.grid_a).get("/api/people", {"q": "张三丰"}).json()["results"]
    assert rows[0]["tag_codes"] == ["dialysis"]
    assert rows[0]["residency_code"] == "registered"
    assert rows[0]["relation_code"] == "head"
