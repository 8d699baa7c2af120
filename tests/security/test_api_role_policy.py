"""Every API route applies the role policy of its page: what a role may not see on a page it
may not read from the API either.

The routes are walked from the OpenAPI document, so a new route is covered the day it is
added: it must name its page twin in TWINS (how to ask both, with objects of the persona's
own community, so only the role can make the difference) or be listed in API_ONLY with the
reason it has no page. Then, for every persona, a route whose page refuses (403, 404 or a
redirect to the log-in page) must be refused by the API too (401, 403 or 404).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone

from config.api import api
from linli.areas import selectors as area_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import draft

PERSONAS = ("grid_a", "lead_a", "steward_a", "street_officer", "volunteer_a")


@dataclass(frozen=True)
class Ask:
    """One request: method, URL and what it sends (form data for pages, JSON for the API)."""

    method: str
    url: str
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class Twin:
    page: Callable[[Any], Ask]
    api: Callable[[Any], Ask]


def _work_order(w):
    """Returns an order waiting in grid A's queue (raised once per test by the system)."""
    if getattr(w, "work_order", None) is None:
        from linli.workorders.services import orders

        w.work_order = orders.raise_work_order(kind="general", area=w.a.grid, by=None)
    return w.work_order


def _purpose() -> str:
    return settings.LINLI_REVEAL_PURPOSES[0][0]


# (method, OpenAPI path) → the page that shows the same thing. `w` is conftest's world with
# `campaign`, a running campaign over community A, and `own_area`, the persona's own area.
TWINS: dict[tuple[str, str], Twin] = {
    ("get", "/api/areas"): Twin(
        page=lambda w: Ask("get", reverse("registry:areas")),
        api=lambda w: Ask("get", "/api/areas"),
    ),
    ("get", "/api/areas/{area_id}"): Twin(
        page=lambda w: Ask("get", reverse("registry:area", args=[w.own_area.pk])),
        api=lambda w: Ask("get", f"/api/areas/{w.own_area.pk}"),
    ),
    ("get", "/api/people"): Twin(
        page=lambda w: Ask("get", reverse("registry:people")),
        api=lambda w: Ask("get", "/api/people"),
    ),
    ("post", "/api/people/search"): Twin(
        page=lambda w: Ask("get", reverse("registry:people")),
        api=lambda w: Ask("post", "/api/people/search", {}),
    ),
    ("get", "/api/people/{person_id}"): Twin(
        page=lambda w: Ask("get", reverse("registry:person", args=[w.resident_a.pk])),
        api=lambda w: Ask("get", f"/api/people/{w.resident_a.pk}"),
    ),
    ("post", "/api/people/{person_id}/reveal"): Twin(
        page=lambda w: Ask(
            "post",
            reverse("registry:reveal", args=[w.resident_a.pk]),
            {"field": "phone", "purpose": _purpose()},
        ),
        api=lambda w: Ask(
            "post",
            f"/api/people/{w.resident_a.pk}/reveal",
            {"field": "phone", "purpose": _purpose()},
        ),
    ),
    ("get", "/api/households"): Twin(
        page=lambda w: Ask("get", reverse("registry:households")),
        api=lambda w: Ask("get", "/api/households"),
    ),
    ("get", "/api/households/{household_id}"): Twin(
        page=lambda w: Ask("get", reverse("registry:household", args=[w.resident_a.household_id])),
        api=lambda w: Ask("get", f"/api/households/{w.resident_a.household_id}"),
    ),
    ("post", "/api/screening/campaigns/{campaign_id}/door-knocks"): Twin(
        page=lambda w: Ask("get", reverse("screening:door_knock", args=[w.campaign.pk])),
        # An empty visit: a role let in gets 400 (fix the record), nothing is stored.
        api=lambda w: Ask("post", f"/api/screening/campaigns/{w.campaign.pk}/door-knocks", {}),
    ),
    ("get", "/api/work-orders"): Twin(
        page=lambda w: Ask("get", reverse("workorders:mine")),
        api=lambda w: Ask("get", "/api/work-orders"),
    ),
    ("get", "/api/work-orders/{order_id}"): Twin(
        page=lambda w: Ask("get", reverse("workorders:detail", args=[_work_order(w).pk])),
        api=lambda w: Ask("get", f"/api/work-orders/{_work_order(w).pk}"),
    ),
    # No page raises an order yet: the API answers to whoever has the work-order pages.
    ("post", "/api/work-orders"): Twin(
        page=lambda w: Ask("get", reverse("workorders:mine")),
        api=lambda w: Ask(
            "post",
            "/api/work-orders",
            {
                "source": "12345",
                "external_reference": f"twin-{w.own_area.pk}",
                "kind": "general",
                "area": w.own_area.pk,
            },
        ),
    ),
}

# API routes without a page, and why each needs none.
API_ONLY: dict[tuple[str, str], str] = {}


def api_routes() -> set[tuple[str, str]]:
    """Returns (method, path) of every operation in the OpenAPI document."""
    paths = api.get_openapi_schema()["paths"]
    return {(method.lower(), path) for path, operations in paths.items() for method in operations}


def test_every_api_route_has_a_page_twin_or_a_reason():
    routes = api_routes()
    unmapped = routes - TWINS.keys() - API_ONLY.keys()
    assert not unmapped, (
        f"say which page each route mirrors (TWINS) or why none (API_ONLY): {unmapped}"
    )
    gone = (TWINS.keys() | API_ONLY.keys()) - routes
    assert not gone, f"routes no longer in the API: {gone}"


def page_refused(response) -> bool:
    if response.status_code in (403, 404):
        return True
    return response.status_code == 302 and response["Location"].startswith(
        resolve_url(settings.LOGIN_URL)
    )


def api_refused(response) -> bool:
    return response.status_code in (401, 403, 404)


def send(client, ask: Ask, *, json: bool):
    if ask.method == "get":
        return client.get(ask.url)
    if json:
        return client.post(ask.url, ask.data or {}, content_type="application/json")
    return client.post(ask.url, ask.data or {})


@pytest.fixture
def campaign_world(world):
    questionnaire = questionnaire_services.create_questionnaire(
        name="每日健康监测", area=world.a.community, by=world.lead_a, from_template="daily_symptoms"
    )
    world.campaign = campaign_services.launch_campaign(
        campaign=draft(
            world,
            questionnaire,
            channels=["h5", "phone", "door_knock"],
            deadline=timezone.now() + timedelta(days=1),
        ),
        by=world.lead_a,
    )
    return world


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_api_refuses_what_the_page_refuses(campaign_world, client, persona):
    w = campaign_world
    user = getattr(w, persona)
    w.own_area = area_selectors.root_areas(user)[0]
    client.force_login(user)
    leaks = []
    for (method, path), twin in sorted(TWINS.items()):
        page = send(client, twin.page(w), json=False)
        answer = send(client, twin.api(w), json=True)
        if page_refused(page) and not api_refused(answer):
            leaks.append(
                f"{method.upper()} {path}: page {page.status_code}, API {answer.status_code}"
            )
    assert not leaks, f"{persona} reads from the API what its page refuses: {leaks}"
