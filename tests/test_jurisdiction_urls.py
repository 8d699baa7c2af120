"""Walks every URL pattern of the project and proves community A cannot reach community B.

The walk is exhaustive on purpose: a new app's URL is covered the day it is added. A URL
parameter this test does not know fails the test, so whoever adds one must say which object
of community B to try it with (KWARG_VALUES below).
"""

from collections.abc import Iterator

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver

# Markers of community B's data that must never reach a user of community A.
B_MARKERS = ("王五", "大雁塔社区", "曲江花园", "5432")

# URLs that hold no data of anybody: nothing to leak.
DATA_FREE_ROUTES = {"accounts/login/", "accounts/logout/", "i18n/setlang/"}


def walk(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


@pytest.fixture
def world_b(world):
    """Adds community B's lead and one object of every registry kind to community B."""
    from linli.core.roles import Role
    from linli.demo import factories as f
    from linli.registry.models import (
        BatchStatus,
        ImportBatch,
        ImportSource,
        MatchReview,
        PersonMerge,
    )

    b = world.b.community
    world.lead_b = f.make_staff(username="lead_b", role=Role.COMMUNITY_LEAD, areas=[b])
    other = f.make_resident(dwelling=world.b.dwellings[1], name="王六", sequence=556)
    source = ImportSource.objects.create(name="物业", kind="property", area=b, area_path=b.path)
    world.batch_b = ImportBatch.objects.create(
        source=source,
        area=b,
        area_path=b.path,
        file_name="物业.csv",
        file_sha256="0" * 64,
        stored_file="imports/none.csv",
        status=BatchStatus.COMMITTED,
    )
    world.review_b = MatchReview.objects.create(
        left=world.resident_b, right=other, area_path=b.path, probability=0.9
    )
    world.merge_b = PersonMerge.objects.create(
        survivor=world.resident_b, merged=other, area_path=b.path
    )
    _add_screening_b(world)
    _add_work_order_b(world)
    _add_passes_b(world)
    return world


def _add_work_order_b(world) -> None:
    """An urgent work order about 王五 in community B, escalated to B's lead."""
    from datetime import timedelta

    from django.utils import timezone

    from linli.workorders.services import escalation as escalation_services
    from linli.workorders.services import orders as order_services

    world.work_order_b = order_services.raise_work_order(
        kind="general",
        area=world.b.grid,
        by=world.lead_b,
        person=world.resident_b,
        priority="p0",
        text="大雁塔社区 需要透析",
    )
    escalation_services.sweep_escalations(now=timezone.now() + timedelta(minutes=6))


def _add_passes_b(world) -> None:
    """A household pass policy of community B and 王五's pass."""
    from linli.passes.services import issuing
    from linli.passes.tests.builders import household_policy

    world.pass_policy_b = household_policy(world, area=world.b.community, by=world.lead_b)
    world.pass_b = issuing.issue_pass(
        policy=world.pass_policy_b, holder=world.resident_b, by=world.lead_b
    )


def _add_screening_b(world) -> None:
    """A running campaign of community B over 王五, with a follow-up task for him."""
    from linli.screening.models import CampaignTarget, FollowUpTask
    from linli.screening.selectors import questionnaires as questionnaire_selectors
    from linli.screening.services import campaigns as campaign_services
    from linli.screening.services import questionnaires as questionnaire_services

    b = world.b.community
    world.questionnaire_b = questionnaire_services.create_questionnaire(
        name="大雁塔社区排查", area=b, by=world.lead_b, from_template="daily_symptoms"
    )
    world.campaign_b = campaign_services.create_campaign(
        name="大雁塔社区每日监测",
        questionnaire_version=questionnaire_selectors.latest_version(world.questionnaire_b),
        area=b,
        by=world.lead_b,
        channels=["h5", "door_knock"],
    )
    campaign_services.launch_campaign(campaign=world.campaign_b, by=world.lead_b)
    target = CampaignTarget.objects.get(campaign=world.campaign_b, person=world.resident_b)
    world.task_b = FollowUpTask.objects.create(
        campaign=world.campaign_b,
        target=target,
        person=world.resident_b,
        area_path=target.area_path,
        kind="door_visit",
        risk_level="high",
    )


def kwarg_values(world) -> dict[str, str]:
    """Returns, per URL parameter name, an object of community B to try."""
    person_type = ContentType.objects.get(app_label="registry", model="person")
    return {
        "batch_id": str(world.batch_b.pk),
        "review_id": str(world.review_b.pk),
        "merge_id": str(world.merge_b.pk),
        "area_id": str(world.b.grid.pk),
        "person_id": str(world.resident_b.pk),
        "household_id": str(world.resident_b.household_id),
        "questionnaire_id": str(world.questionnaire_b.pk),
        "campaign_id": str(world.campaign_b.pk),
        "task_id": str(world.task_b.pk),
        "order_id": str(world.work_order_b.pk),
        "verb": "accept",
        "policy_id": str(world.pass_policy_b.pk),
        "pass_id": str(world.pass_b.pk),
        # An H5 link is its own credential (a resident opens it without logging in), so the
        # walk tries a forged one; tests/test_h5_links.py proves a genuine link of B shows
        # staff of A nothing but what its resident would see.
        "token": FORGED_TOKEN,
        # Django admin
        "id": str(world.grid_b.pk),
        "object_id": str(world.resident_b.pk),
        "app_label": "registry",
        "content_type_id": str(person_type.pk),
        "url": "registry/person/",
    }


def build_path(route: str, pattern: URLPattern, values: dict[str, str]) -> str | None:
    """Returns a concrete path for a route, or None for regex routes we cannot fill."""
    names = list(pattern.pattern.converters) if hasattr(pattern.pattern, "converters") else []
    path = route
    import re

    if route.startswith("^") or "(?P<" in route:
        # Regex routes (Django admin's app index): fill named groups.
        for name in re.findall(r"\(\?P<(\w+)>", route):
            names.append(name)
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], route)
        path = path.lstrip("^").rstrip("$").replace("\\", "")
        return "/" + path
    for name in names:
        path = re.sub(r"<(?:\w+:)?" + name + ">", values[name], path)
    return "/" + path


def all_routes(world) -> list[tuple[str, str, bool]]:
    """Returns (route, concrete path, has parameters) for every pattern of the project."""
    import re

    values = kwarg_values(world)
    routes = []
    for route, pattern in walk(get_resolver().url_patterns):
        params = re.findall(r"<(?:\w+:)?(\w+)>", route) + re.findall(r"\(\?P<(\w+)>", route)
        unknown = [p for p in params if p not in values]
        assert not unknown, f"{route}: add a community-B value for {unknown} to kwarg_values"
        routes.append((route, build_path(route, pattern, values), bool(params)))
    return routes


REFUSED = {302, 400, 401, 403, 404, 405, 410}
FORGED_TOKEN = "1.ZZZZZZ.AAAAAAAAAAAAAAAAAAAAAA"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["grid_a", "lead_a", "steward_a", "volunteer_a"])
def test_every_url_refuses_or_hides_community_b(world_b, client, persona):
    """For every URL pattern, staff of A (a grid worker, the lead, the steward, a volunteer)
    get 403/404 (or a redirect to log in) for B's objects, and lists and their area filter
    never show B."""
    world = world_b
    client.force_login(getattr(world, persona))
    checked = 0
    for route, path, has_params in all_routes(world):
        if route in DATA_FREE_ROUTES:
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(path, follow=not has_params)
            body = response.content.decode(errors="replace")
            if has_params:
                assert response.status_code in REFUSED, (method, path, response.status_code)
            leaked = [m for m in B_MARKERS if m in body]
            assert not leaked, (method, path, leaked)
            if response.status_code == 302:
                assert "login" in response["Location"], (method, path, response["Location"])
        if not has_params:
            filtered = client.get(path, {"area": world.b.grid.pk})
            assert filtered.status_code in REFUSED or not any(
                m in filtered.content.decode(errors="replace") for m in B_MARKERS
            ), path
        checked += 1
    assert checked > 10


@pytest.mark.django_db
def test_b_objects_are_reachable_by_their_own_lead(world_b, client):
    """Control: the same URLs work for community B's own lead, so the refusals above come
    from jurisdiction, not from broken URLs."""
    world = world_b
    client.force_login(world.lead_b)
    product_routes = [
        (route, path)
        for route, path, has_params in all_routes(world)
        if has_params and not route.startswith("admin/") and "<str:token>" not in route
    ]
    assert product_routes
    for route, path in product_routes:
        response = client.get(path)
        # 302: undoing B's merge redirects to B's person page (the view did its work).
        assert response.status_code in {200, 302, 405}, (route, response.status_code)


def door_knock_query_values(world) -> dict[str, str]:
    """Returns, per query parameter of the door-knock list (views.door_knock.ListScope, and
    ?target=), an object of community B to try on community A's own campaign. A new query
    parameter of that page joins here."""
    from linli.screening.models import CampaignTarget

    return {
        "area": str(world.b.grid.pk),
        "building": str(world.b.building.pk),
        "unit": str(world.b.unit.pk),
        "target": str(
            CampaignTarget.objects.get(campaign=world.campaign_b, person=world.resident_b).pk
        ),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["grid_a", "lead_a"])
def test_door_knock_query_parameters_refuse_community_b(world_b, client, persona):
    """The door-knock list of community A's campaign, narrowed by community B's grid,
    building, unit or target, is not found for A's screeners and shows nothing of B."""
    from linli.screening.selectors import questionnaires as questionnaire_selectors
    from linli.screening.services import campaigns as campaign_services
    from linli.screening.services import questionnaires as questionnaire_services

    world = world_b
    questionnaire_a = questionnaire_services.create_questionnaire(
        name="长延堡社区排查",
        area=world.a.community,
        by=world.lead_a,
        from_template="daily_symptoms",
    )
    campaign_a = campaign_services.create_campaign(
        name="长延堡社区每日监测",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire_a),
        area=world.a.community,
        by=world.lead_a,
        channels=["door_knock"],
    )
    campaign_services.launch_campaign(campaign=campaign_a, by=world.lead_a)
    client.force_login(getattr(world, persona))
    path = f"/screening/campaigns/{campaign_a.pk}/door-knock/"
    assert client.get(path).status_code == 200
    for name, value in door_knock_query_values(world).items():
        params = {name: value}
        if name == "unit":
            params["building"] = str(world.a.building.pk)  # A's building, B's unit
        response = client.get(path, params)
        assert response.status_code == 404, (name, response.status_code)
        body = response.content.decode(errors="replace")
        assert not [m for m in B_MARKERS if m in body], name
