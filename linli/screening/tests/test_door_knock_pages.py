"""The door-knock page (敲门行动): lists scoped to the worker's grid, the one-screen form, and the
JSON endpoint the phone's offline queue sends to (idempotent on the phone's key)."""

import json
import re
from datetime import timedelta

import pytest
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy, ngettext_lazy

from linli.areas.models import Area
from linli.core.roles import Role
from linli.demo.factories import make_staff
from linli.screening.models import CampaignTarget, ContactAttempt, DoorKnockReason, TargetStatus
from linli.screening.services import campaigns as campaign_services
from linli.screening.tests.builders import draft
from linli.screening.views import door_knock as door_knock_views

# Arrivals questionnaire, answered by someone who did not travel: the branch skips to the
# symptoms and "no help needed" ends it.
STAYED_HOME = {
    "arrived_recently": False,
    "symptoms": ["none"],
    "health_code": "green",
    "needs_help": False,
}


@pytest.fixture
def campaign(world, town):
    """A running door-knock-only arrivals campaign over community A: everyone is on a list."""
    return campaign_services.launch_campaign(
        campaign=draft(world, channels=["door_knock"]), by=world.lead_a
    )


def target_of(campaign, person) -> CampaignTarget:
    return CampaignTarget.objects.get(campaign=campaign, person=person)


def page_url(campaign, **params) -> str:
    url = reverse("screening:door_knock", args=[campaign.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def submit_url(campaign) -> str:
    return reverse("screening:door_knock_submit", args=[campaign.pk])


def api_url(campaign) -> str:
    return reverse("api:screening_door_knock", args=[campaign.pk])


def post_json(client, campaign, **body):
    return client.post(api_url(campaign), data=json.dumps(body), content_type="application/json")


def knock(client, campaign, target, key="phone-key-1", **extra):
    body = {
        "target": target.pk,
        "outcome": "answered",
        "answers": STAYED_HOME,
        "by_proxy": False,
        "idempotency_key": key,
        "recorded_at": timezone.now().isoformat(),
    }
    body.update(extra)
    return post_json(client, campaign, **body)


def zh(text) -> str:
    """The text as the page shows it (Chinese is the default language)."""
    with translation.override("zh-hans"):
        return str(text)


def member_positions(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-testid="member-(\d+)"', html)]


# --- The list ---------------------------------------------------------------------------------


def test_a_grid_worker_walks_their_grid_building_by_building_floor_by_floor(
    world, town, campaign, grid2_worker, client_for
):
    response = client_for(grid2_worker).get(page_url(campaign))
    assert response.status_code == 200
    html = response.content.decode()
    expected = [
        target_of(campaign, town.no_phone).pk,  # 2号楼, floor 2
        target_of(campaign, town.floating_head).pk,  # 2号楼, floor 5: head first
        target_of(campaign, town.floating_child).pk,
        target_of(campaign, town.no_smartphone).pk,  # 3号楼, floor 1
    ]
    assert member_positions(html) == expected
    assert "赵大爷" in html and "钱阿姨" in html
    assert "张三丰" not in html  # grid 1
    assert f'data-testid="household-{town.floating_head.household_id}"' in html
    # The reason for the visit and the form the script clones are on the page.
    assert zh(DoorKnockReason.DOOR_KNOCK_ONLY.label) in html
    assert 'id="dk-form-template"' in html
    assert 'data-testid="outbox-count"' in html
    assert 'id="dk-config"' in html


def test_the_worker_of_grid_1_sees_nothing_of_grid_2(world, town, campaign, client_for):
    client = client_for(world.grid_a)
    html = client.get(page_url(campaign)).content.decode()
    assert set(member_positions(html)) == {
        target_of(campaign, world.resident_a).pk,
        target_of(campaign, world.resident_a2).pk,
    }
    assert "赵大爷" not in html and "王小明" not in html
    # Asking for grid 2's list by its id is not a way in.
    assert client.get(page_url(campaign, area=town.grid2.pk)).status_code == 404
    target = target_of(campaign, town.no_phone)
    assert client.get(page_url(campaign, target=target.pk)).status_code == 404


def test_a_lead_sees_the_community_and_narrows_it_to_a_grid(world, town, campaign, client_for):
    client = client_for(world.lead_a)
    html = client.get(page_url(campaign)).content.decode()
    assert len(member_positions(html)) == 6
    assert 'data-testid="area-select"' in html
    assert "第二网格" in html
    narrowed = client.get(page_url(campaign, area=town.grid2.pk)).content.decode()
    assert len(member_positions(narrowed)) == 4
    assert "张三丰" not in narrowed


def test_a_large_area_opens_on_its_buildings_and_a_building_is_paged_by_unit_and_floor(
    world, town, campaign, grid2_worker, client_for, monkeypatch
):
    """Above DIRECT_LIST_MAX households left, the landing page lists the buildings with the
    households left in each, and no household; a building's page lists its households, narrowed
    to a floor and paged."""
    monkeypatch.setattr(door_knock_views, "DIRECT_LIST_MAX", 2)
    client = client_for(grid2_worker)
    html = client.get(page_url(campaign)).content.decode()
    assert member_positions(html) == []
    assert 'data-testid="places"' in html
    assert f'data-testid="building-{town.building2.pk}"' in html
    assert (
        zh(ngettext_lazy("%(counter)s household left", "%(counter)s households left", 2))
        % {"counter": 2}
        in html
    )
    assert 'data-households="3" data-people="4"' in html  # the whole grid's counter
    assert 'id="dk-form-template"' not in html  # nothing to record on the buildings page

    building = client.get(page_url(campaign, building=town.building2.pk)).content.decode()
    assert member_positions(building) == [
        target_of(campaign, town.no_phone).pk,
        target_of(campaign, town.floating_head).pk,
        target_of(campaign, town.floating_child).pk,
    ]
    assert 'data-testid="floor-select"' in building
    floor5 = client.get(page_url(campaign, building=town.building2.pk, floor=5)).content.decode()
    assert member_positions(floor5) == [
        target_of(campaign, town.floating_head).pk,
        target_of(campaign, town.floating_child).pk,
    ]
    assert 'data-households="1" data-people="2"' in floor5
    # Back to the list from a member's form returns to the same building and floor.
    assert f"building={town.building2.pk}&amp;floor=5" in floor5

    # Everybody of grid 2 lives in a building: nobody is listed outside one.
    outside = client.get(page_url(campaign, building="none"))
    assert outside.status_code == 200 and member_positions(outside.content.decode()) == []

    monkeypatch.setattr(door_knock_views, "PAGE_SIZE", 1)
    second = client.get(page_url(campaign, building=town.building2.pk, page=2)).content.decode()
    assert 'data-testid="pager"' in second
    assert member_positions(second) == [
        target_of(campaign, town.floating_head).pk,
        target_of(campaign, town.floating_child).pk,
    ]


def test_a_building_outside_the_area_is_not_found(world, town, campaign, client_for):
    client = client_for(world.grid_a)
    assert client.get(page_url(campaign, building=town.building2.pk)).status_code == 404
    unit = Area.objects.filter(path__startswith=town.building2.path, level="unit").first()
    assert (
        client.get(page_url(campaign, building=world.a.building.pk, unit=unit.pk)).status_code
        == 404
    )
    # A malformed value is dropped, not an error.
    assert client.get(page_url(campaign, building="1;drop", floor="x")).status_code == 200


def test_each_member_s_button_says_what_the_next_visit_is(
    world, town, campaign, grid2_worker, client_for
):
    """Nobody visited yet: "record visit"; not at home: "visit again" (still to visit, in
    orange); answered: "record again" (with visited households shown)."""
    client = client_for(grid2_worker)
    head, child = target_of(campaign, town.floating_head), target_of(campaign, town.floating_child)
    assert (
        knock(client, campaign, head, key="k1", outcome="not_at_home", answers={}).status_code
        == 200
    )
    assert knock(client, campaign, child, key="k2").status_code == 200
    html = client.get(page_url(campaign, all=1)).content.decode()

    def button(target) -> str:
        return re.search(rf'data-testid="record-{target.pk}">([^<]*)<', html).group(1)

    assert button(target_of(campaign, town.no_phone)) == zh(gettext_lazy("Record visit"))
    assert button(head) == zh(gettext_lazy("Visit again"))
    assert button(child) == zh(gettext_lazy("Record again"))
    assert f'data-target="{head.pk}" data-status="needs_door_knock"' in html
    assert f'data-target="{child.pk}" data-status="reached"' in html


def test_the_service_worker_is_served_by_the_app_with_the_door_knock_scope(client):
    """The offline worker is a script of the app (no CDN), allowed to control every campaign's
    door-knock pages, naming the page's static files; it needs no log-in and holds no data."""
    response = client.get(reverse("screening:door_knock_worker"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == door_knock_views.OFFLINE_SCOPE
    assert reverse("screening:door_knock", args=[1]).startswith(door_knock_views.OFFLINE_SCOPE)
    body = response.content.decode()
    assert static("screening/door_knock.js") in body
    assert "__VERSION__" not in body and "{{" not in body and "{%" not in body


def test_the_log_in_page_forgets_the_pages_kept_offline(client):
    html = client.get(reverse("accounts:login")).content.decode()
    assert static("linli/forget_offline_pages.js") in html


def test_community_b_campaign_is_not_found_for_staff_of_a(world, client_for):
    from tests.test_jurisdiction_urls import _add_screening_b

    world.lead_b = make_staff(
        username="lead_b", role=Role.COMMUNITY_LEAD, areas=[world.b.community]
    )
    _add_screening_b(world)
    client = client_for(world.grid_a)
    assert client.get(page_url(world.campaign_b)).status_code == 404
    target_b = CampaignTarget.objects.get(campaign=world.campaign_b)
    response = knock(client, world.campaign_b, target_b)
    assert response.status_code == 404
    assert not ContactAttempt.objects.filter(target=target_b).exists()
    # Community B's own grid worker gets the list.
    assert client_for(world.grid_b).get(page_url(world.campaign_b)).status_code == 200


@pytest.mark.parametrize("persona", ["volunteer_a", "street_officer", "steward_a"])
def test_roles_that_do_not_knock_are_refused(world, campaign, client_for, persona):
    client = client_for(getattr(world, persona))
    assert client.get(page_url(campaign)).status_code == 403
    response = knock(client, campaign, target_of(campaign, world.resident_a))
    assert response.status_code == 403
    assert "errors" in response.json()
    assert not ContactAttempt.objects.exists()


def test_visited_households_leave_the_list_and_come_back_with_the_toggle(
    world, town, campaign, grid2_worker, client_for
):
    client = client_for(grid2_worker)
    visited = target_of(campaign, town.no_phone)
    assert knock(client, campaign, visited).status_code == 200
    html = client.get(page_url(campaign)).content.decode()
    assert visited.pk not in member_positions(html)
    everything = client.get(page_url(campaign, all=1)).content.decode()
    assert visited.pk in member_positions(everything)
    assert f'data-testid="household-done-{town.no_phone.household_id}">' in everything


def test_not_at_home_stays_on_the_list_with_the_last_visit(
    world, town, campaign, grid2_worker, client_for
):
    client = client_for(grid2_worker)
    target = target_of(campaign, town.no_smartphone)
    assert knock(client, campaign, target, outcome="not_at_home", answers={}).status_code == 200
    html = client.get(page_url(campaign)).content.decode()
    assert target.pk in member_positions(html)
    assert zh(gettext_lazy("Last visit")) in html


def test_a_closed_campaign_shows_its_list_but_takes_no_visit(world, campaign, client_for):
    campaign_services.close_campaign(campaign=campaign, by=world.lead_a)
    client = client_for(world.grid_a)
    html = client.get(page_url(campaign)).content.decode()
    assert 'data-testid="campaign-closed"' in html
    assert 'id="dk-form-template"' not in html
    response = knock(client, campaign, target_of(campaign, world.resident_a))
    assert response.status_code == 400
    assert "__all__" in response.json()["errors"]
    assert not ContactAttempt.objects.exists()


# --- The JSON endpoint ------------------------------------------------------------------------


def test_an_answered_visit_is_recorded_with_the_phone_details(world, campaign, client_for):
    target = target_of(campaign, world.resident_a2)
    response = knock(
        client_for(world.grid_a),
        campaign,
        target,
        by_proxy=True,
        device="phone-7",
        offline=True,
        answers={**STAYED_HOME, "temperature": "37.8"},
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["saved"] is True and data["created"] is True
    assert data["status"] == TargetStatus.REACHED
    assert data["risk_level"] == "high"  # a fever
    target.refresh_from_db()
    assert target.status == TargetStatus.REACHED
    assert target.door_knocked_at is not None
    assert target.answers["temperature"] == 37.8
    assert target.answered_by_proxy is True
    attempt = ContactAttempt.objects.get(target=target)
    assert attempt.channel == "door_knock" and attempt.by == world.grid_a
    assert attempt.detail == {"device": "phone-7", "offline": True}
    assert attempt.by_proxy is True


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("not_at_home", TargetStatus.NEEDS_DOOR_KNOCK), ("refused", TargetStatus.REFUSED)],
)
def test_not_at_home_and_refused_move_the_status(world, campaign, client_for, outcome, status):
    target = target_of(campaign, world.resident_a)
    # Answers sent with an outcome that carries none are ignored, as the phone hides them.
    response = knock(client_for(world.grid_a), campaign, target, outcome=outcome)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == status
    target.refresh_from_db()
    assert target.status == status
    assert target.answers == {}
    assert ContactAttempt.objects.get(target=target).outcome == outcome


def test_a_resent_submission_is_stored_once(world, campaign, client_for):
    client = client_for(world.grid_a)
    target = target_of(campaign, world.resident_a)
    first = knock(client, campaign, target, key="offline-queue-1")
    again = knock(client, campaign, target, key="offline-queue-1")
    assert first.json()["created"] is True
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert ContactAttempt.objects.filter(target=target).count() == 1
    target.refresh_from_db()
    assert target.attempt_count == 1


def test_invalid_answers_are_refused_at_the_field_and_nothing_is_stored(
    world, campaign, client_for
):
    target = target_of(campaign, world.resident_a)
    answers = {"arrived_recently": False, "symptoms": ["none"], "health_code": "purple"}
    response = knock(client_for(world.grid_a), campaign, target, answers=answers)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"health_code", "needs_help"}  # a bad option, a required one missing
    assert "选项" in errors["health_code"] and "必答" in errors["needs_help"]
    assert not ContactAttempt.objects.exists()
    target.refresh_from_db()
    assert target.status == TargetStatus.NEEDS_DOOR_KNOCK and target.answers == {}


def test_questions_the_branching_skips_are_ignored(world, campaign, client_for):
    target = target_of(campaign, world.resident_a)
    answers = {**STAYED_HOME, "came_from": "武汉市", "arrival_date": "not a date"}
    response = knock(client_for(world.grid_a), campaign, target, answers=answers)
    assert response.status_code == 200, response.content
    target.refresh_from_db()
    assert "came_from" not in target.answers and "arrival_date" not in target.answers
    assert target.complete


def test_missing_outcome_and_key_are_field_errors(world, campaign, client_for):
    target = target_of(campaign, world.resident_a)
    response = knock(client_for(world.grid_a), campaign, target, outcome="", key="")
    assert response.status_code == 400
    assert {"outcome", "idempotency_key"} <= set(response.json()["errors"])
    bad_time = knock(client_for(world.grid_a), campaign, target, recorded_at="yesterday")
    assert bad_time.status_code == 400
    assert "recorded_at" in bad_time.json()["errors"]
    assert not ContactAttempt.objects.exists()


def test_the_phone_clock_is_clamped_between_launch_and_now(world, campaign, client_for):
    client = client_for(world.grid_a)
    early, late = target_of(campaign, world.resident_a), target_of(campaign, world.resident_a2)
    before_launch = campaign.launched_at - timedelta(days=3)
    knock(client, campaign, early, key="k-early", recorded_at=before_launch.isoformat())
    future = timezone.now() + timedelta(days=2)
    knock(client, campaign, late, key="k-late", recorded_at=future.isoformat())
    early_attempt = ContactAttempt.objects.get(target=early)
    assert early_attempt.finished_at == campaign.launched_at
    assert early_attempt.started_at == campaign.launched_at
    assert ContactAttempt.objects.get(target=late).finished_at <= timezone.now()
    # A visit queued an hour ago keeps its own time.
    hour_ago = timezone.now() - timedelta(hours=1)
    third = target_of(campaign, world.resident_a)
    knock(client, campaign, third, key="k-queued", recorded_at=hour_ago.isoformat())
    kept = ContactAttempt.objects.get(idempotency_key="k-queued").finished_at
    assert abs(kept - max(hour_ago, campaign.launched_at)) < timedelta(seconds=1)


def test_a_target_of_another_grid_is_refused(world, town, campaign, client_for):
    target = target_of(campaign, town.no_phone)  # grid 2
    response = knock(client_for(world.grid_a), campaign, target)
    assert response.status_code in (403, 404)
    assert not ContactAttempt.objects.filter(target=target).exists()
    target.refresh_from_db()
    assert target.status == TargetStatus.NEEDS_DOOR_KNOCK


def test_a_target_of_another_campaign_is_not_found(world, campaign, client_for):
    other = campaign_services.launch_campaign(
        campaign=draft(world, channels=["door_knock"]), by=world.lead_a
    )
    response = knock(client_for(world.grid_a), campaign, target_of(other, world.resident_a))
    assert response.status_code == 404
    assert not ContactAttempt.objects.exists()


def test_a_logged_out_phone_gets_401_and_a_malformed_body_400(world, campaign, client_for):
    target = target_of(campaign, world.resident_a)
    assert knock(Client(), campaign, target).status_code == 401
    client = client_for(world.grid_a)
    response = client.post(api_url(campaign), data="[1, 2]", content_type="application/json")
    assert response.status_code == 400, response.content
    assert client.get(api_url(campaign)).status_code == 405


def test_the_json_endpoint_checks_the_csrf_header(world, campaign):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.grid_a)
    target = target_of(campaign, world.resident_a)
    assert knock(client, campaign, target).status_code == 403
    assert not ContactAttempt.objects.exists()
    client.get(page_url(campaign))  # sets the CSRF cookie, as the page does for the phone
    token = client.cookies["csrftoken"].value
    response = client.post(
        api_url(campaign),
        data=json.dumps(
            {
                "target": target.pk,
                "outcome": "not_at_home",
                "idempotency_key": "csrf-ok",
                "recorded_at": timezone.now().isoformat(),
            }
        ),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200, response.content


# --- Without script ---------------------------------------------------------------------------


def test_a_member_form_renders_every_question_server_side(world, campaign, client_for):
    target = target_of(campaign, world.resident_a)
    response = client_for(world.grid_a).get(page_url(campaign, target=target.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="question-arrived_recently"' in html
    assert 'data-testid="answer-symptoms-none"' in html
    assert 'data-testid="outcome-not_at_home"' in html
    assert 'name="idempotency_key"' in html
    assert "张三丰" in html
    assert re.search(rf'data-testid="where">{world.a.building.name}', html)


def test_a_plain_form_post_records_and_returns_to_the_list(world, campaign, client_for):
    client = client_for(world.grid_a)
    target = target_of(campaign, world.resident_a)
    form = {
        "target": target.pk,
        "outcome": "answered",
        "idempotency_key": "form-key-1",
        "q_arrived_recently": "no",
        "q_symptoms": ["none"],
        "q_temperature": "",
        "q_health_code": "green",
        "q_needs_help": "no",
        "q_came_from": "",
        "by_proxy": "1",
        "area": str(world.a.grid.pk),
    }
    response = client.post(submit_url(campaign), form)
    assert response.status_code == 302
    assert response["Location"].startswith(page_url(campaign))
    assert f"#member-{target.pk}" in response["Location"]
    target.refresh_from_db()
    assert target.status == TargetStatus.REACHED
    assert target.answers["needs_help"] is False and target.answered_by_proxy
    followed = client.get(response["Location"])
    assert "张三丰" in followed.content.decode()  # the saved message names them
    # Pressing "back" and sending the same form again stores nothing more.
    assert client.post(submit_url(campaign), form).status_code == 302
    assert ContactAttempt.objects.filter(target=target).count() == 1


def test_a_plain_form_with_errors_comes_back_with_them_at_the_fields(world, campaign, client_for):
    client = client_for(world.grid_a)
    target = target_of(campaign, world.resident_a)
    response = client.post(
        submit_url(campaign),
        {
            "target": target.pk,
            "outcome": "answered",
            "idempotency_key": "form-key-2",
            "q_arrived_recently": "no",
            "q_temperature": "99",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'data-error-for="symptoms"[^>]*>此题必答', html)
    assert re.search(r'data-error-for="temperature"[^>]*>请填写34到43之间的数', html)
    assert 'value="form-key-2"' in html  # the same key, so a corrected resend counts once
    assert not ContactAttempt.objects.exists()
