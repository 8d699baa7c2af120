"""The live coverage dashboard: scoped to the user's part of the campaign, masked by role,
refreshed through its live endpoint, and keeping escalation running while watched."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from linli.core.roles import Role
from linli.demo import factories as f
from linli.registry.models import Person
from linli.screening import channels, tasks
from linli.screening.management.commands.escalate_screening import Command
from linli.screening.models import Campaign, CampaignTarget, DoorKnockReason, TargetStatus
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import attempts as attempt_services
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import arrivals_for, draft


@pytest.fixture(autouse=True)
def fresh_escalation_clock(db):
    """The once-a-minute enqueue guard lives in the (database) cache, whose table is not
    emptied between transactional tests."""
    cache.clear()
    yield
    cache.clear()


def answered_campaign(world, town) -> Campaign:
    """An arrivals campaign over community A with answers: 张三丰 (grid 1) high risk,
    王小明 (grid 2) reached with no risk, 王小红 (grid 2) no answer, 赵大爷 (grid 2, no phone)
    on the door-knock list since launch. 6 targets: 2 in grid 1, 4 in grid 2."""
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, arrivals_for(world), channels=["h5", "phone", "door_knock"]),
        by=world.lead_a,
    )
    h5 = channels.get_channel("h5")
    h5.collect(
        target=CampaignTarget.objects.get(campaign=campaign, person=world.resident_a),
        outcome="answered",
        answers={"arrived_recently": False, "temperature": "38.2"},
    )
    h5.collect(
        target=CampaignTarget.objects.get(campaign=campaign, person=town.floating_head),
        outcome="answered",
        answers={"arrived_recently": False, "symptoms": ["none"], "health_code": "green"},
    )
    channels.get_channel("phone").collect(
        target=CampaignTarget.objects.get(campaign=campaign, person=town.floating_child),
        outcome="no_answer",
    )
    return Campaign.objects.get(pk=campaign.pk)


@pytest.fixture
def campaign(world, town):
    return answered_campaign(world, town)


def street_campaign(world) -> Campaign:
    """A street-wide daily screening by the street officer over communities A and B."""
    questionnaire = questionnaire_services.create_questionnaire(
        name="街道每日监测", area=world.street, by=world.street_officer, from_template="arrivals"
    )
    return campaign_services.launch_campaign(
        campaign=campaign_services.create_campaign(
            name="街道全员排查",
            questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
            area=world.street,
            by=world.street_officer,
            channels=["h5", "door_knock"],
        ),
        by=world.street_officer,
    )


def b_campaign(world) -> Campaign:
    lead_b = f.make_staff(username="lead_b", role=Role.COMMUNITY_LEAD, areas=[world.b.community])
    questionnaire = questionnaire_services.create_questionnaire(
        name="大雁塔排查", area=world.b.community, by=lead_b, from_template="daily_symptoms"
    )
    return campaign_services.launch_campaign(
        campaign=campaign_services.create_campaign(
            name="大雁塔每日监测",
            questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
            area=world.b.community,
            by=lead_b,
            channels=["h5", "door_knock"],
        ),
        by=lead_b,
    )


def page(client, campaign, area=None, name="screening:coverage", **params):
    if area is not None:
        params["area"] = getattr(area, "pk", area)
    return client.get(reverse(name, args=[campaign.pk]), params)


def figure(response, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', response.content.decode())
    assert match, testid
    return match.group(1).replace(",", "")


def row_names(response) -> list[str]:
    return re.findall(r'data-testid="coverage-row" data-area="([^"]*)"', response.content.decode())


def test_the_lead_sees_community_a_by_grid(client_for, world, campaign):
    response = page(client_for(world.lead_a), campaign)
    assert response.status_code == 200
    body = response.content.decode()
    assert row_names(response) == ["第一网格", "第二网格"]
    assert figure(response, "total-targets") == "6"
    assert figure(response, "total-reached-percent") == "33.3"
    assert figure(response, "total-unreached") == "4"
    assert figure(response, "total-high") == "1"
    assert figure(response, "total-door-knock") == "1"
    # A reached-% bar per area, no inline style (CSP), and the figures' time.
    assert body.count("<meter") == 2
    assert 'style="' not in body
    assert "<script>" not in body
    assert 'data-testid="coverage-as-of"' in body
    assert 'id="coverage-data"' in body and 'id="coverage-titles"' in body
    # The lead sees names in clear: the unreached include 王小红 and 赵大爷; the risk list 张三丰.
    unreached = body.split('data-testid="coverage-unreached"')[1].split("coverage-risks")[0]
    assert "王小红" in unreached and "赵大爷" in unreached and "王小明" not in unreached
    risks = body.split('data-testid="coverage-risks"')[1]
    assert "张三丰" in risks and "王小明" not in risks
    assert "13900001111" not in body and "139****1111" in unreached


def test_the_lead_drills_down_to_buildings_with_a_breadcrumb(client_for, world, town, campaign):
    client = client_for(world.lead_a)
    compound = town.building2.parent
    response = page(client, campaign, compound)
    assert response.status_code == 200
    assert row_names(response) == ["2号楼", "3号楼"]
    assert figure(response, "total-targets") == "4"
    trail = response.content.decode().split('data-testid="coverage-trail"')[1].split("</nav>")[0]
    assert [n in trail for n in ("长延堡社区", "第二网格", "幸福小区")] == [True] * 3
    # Units are the last level shown: the building's rows link no further.
    building = page(client, campaign, town.building2)
    assert building.status_code == 200
    assert "?area=" not in building.content.decode().split('data-testid="coverage-rows"')[1]


def test_a_grid_worker_sees_only_their_grid(client_for, world, campaign):
    response = page(client_for(world.grid_a), campaign)
    assert response.status_code == 200
    body = response.content.decode()
    assert figure(response, "total-targets") == "2"
    assert figure(response, "total-high") == "1"
    assert "第二网格" not in body and "王小红" not in body and "赵大爷" not in body
    trail = body.split('data-testid="coverage-trail"')[1].split("</nav>")[0]
    assert "第一网格" in trail and "长延堡社区" not in trail


def test_the_street_officer_sees_every_community_with_names_masked(client_for, world):
    campaign = street_campaign(world)
    response = page(client_for(world.street_officer), campaign)
    assert response.status_code == 200
    body = response.content.decode()
    assert row_names(response) == ["长延堡社区", "大雁塔社区"]
    assert figure(response, "total-targets") == "3"
    unreached = body.split('data-testid="coverage-unreached"')[1]
    assert "张*丰" in unreached and "李*英" in unreached and "王*" in unreached
    assert "张三丰" not in body and "李秀英" not in body and "王五" not in body


def test_a_community_lead_sees_their_community_of_a_street_campaign(client_for, world):
    campaign = street_campaign(world)
    response = page(client_for(world.lead_a), campaign)
    assert response.status_code == 200
    assert figure(response, "total-targets") == "2"
    assert "大雁塔社区" not in response.content.decode()


def test_b_campaign_and_areas_outside_are_404(client_for, world, town, campaign):
    other = b_campaign(world)
    client = client_for(world.lead_a)
    for name in ("screening:coverage", "screening:coverage_live", "screening:export"):
        assert page(client, other, name=name).status_code == 404
        assert page(client, campaign, world.b.grid, name=name).status_code == 404
    assert page(client, campaign, "abc").status_code == 404
    grid_worker = client_for(world.grid_a)
    for area in (world.a.community, town.grid2):
        assert page(grid_worker, campaign, area).status_code == 404
        assert page(grid_worker, campaign, area, name="screening:coverage_live").status_code == 404


def test_volunteers_are_refused(client_for, world, campaign):
    client = client_for(world.volunteer_a)
    for name in ("screening:coverage", "screening:coverage_live", "screening:export"):
        assert page(client, campaign, name=name).status_code == 403


def test_the_live_part_follows_new_attempts(client_for, world, town, campaign):
    client = client_for(world.lead_a)
    before = page(client, campaign, name="screening:coverage_live")
    assert before.status_code == 200
    assert figure(before, "total-reached-percent") == "33.3"
    assert 'hx-trigger="every 10s"' in before.content.decode()
    assert "no-cache" in before.get("Cache-Control", "")
    attempt_services.record_attempt(
        target=CampaignTarget.objects.get(campaign=campaign, person=town.floating_child),
        channel="door_knock",
        outcome="answered",
        answers={"arrived_recently": False, "symptoms": ["fever"], "health_code": "green"},
        by=world.lead_a,
    )
    after = page(client, campaign, name="screening:coverage_live")
    assert figure(after, "total-reached-percent") == "50.0"
    assert figure(after, "total-unreached") == "3"
    assert int(figure(after, "total-high")) + int(figure(after, "total-medium")) >= 2
    assert "王小红" in after.content.decode().split('data-testid="coverage-risks"')[1]
    # The full page agrees with its live part.
    assert figure(page(client, campaign), "total-reached-percent") == "50.0"


def test_a_closed_campaign_stops_polling(client_for, world, campaign):
    campaign_services.close_campaign(campaign=campaign, by=world.lead_a)
    body = page(client_for(world.lead_a), campaign).content.decode()
    assert "hx-trigger" not in body
    assert 'data-testid="coverage-as-of"' in body


def test_watching_runs_escalation_at_most_once_a_minute(client_for, world, town, campaign):
    """Past the deadline, opening the dashboard puts the unreached on the door-knock lists
    (the task runs inline in tests); a second look within the minute enqueues nothing."""
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - timedelta(hours=1))
    response = page(client_for(world.lead_a), campaign)
    # 王小红 (no answer), 李秀英 and 钱阿姨 (never contacted) join 赵大爷.
    assert figure(response, "total-door-knock") == "4"
    moved = CampaignTarget.objects.get(campaign=campaign, person=town.floating_child)
    assert moved.door_knock_reason == DoorKnockReason.DEADLINE
    campaign.refresh_from_db()
    assert campaign.last_escalated_at is not None
    assert tasks.escalate_while_watched(campaign) is False
    later = campaign.last_escalated_at + timedelta(minutes=2)
    cache.clear()
    assert tasks.escalate_while_watched(campaign, now=later) is True


def test_escalate_screening_moves_people_without_a_phone_to_the_door(world, town, campaign):
    """王小明's phone was removed from the registry after launch: the command puts him on the
    door-knock list (he was not reached yet in this second campaign)."""
    campaign_services.close_campaign(campaign=campaign, by=world.lead_a)
    second = campaign_services.launch_campaign(
        campaign=draft(world, channels=["h5"]), by=world.lead_a
    )
    target = CampaignTarget.objects.get(campaign=second, person=town.floating_head)
    assert target.status == TargetStatus.PENDING
    Person.objects.filter(pk=town.floating_head.pk).update(phone_hash="")
    call_command("escalate_screening", verbosity=0)
    target.refresh_from_db()
    assert target.status == TargetStatus.NEEDS_DOOR_KNOCK
    assert target.door_knock_reason == DoorKnockReason.NO_PHONE
    second.refresh_from_db()
    assert second.last_escalated_at is not None


def test_escalate_screening_loops_until_stopped(world, town, campaign, monkeypatch):

    rounds = []

    def wait(self, seconds):
        rounds.append(seconds)
        if len(rounds) == 2:
            self.stop.set()

    monkeypatch.setattr(Command, "wait", wait)
    # The test's connection holds its transaction: the loop must not close it.
    monkeypatch.setattr(
        "linli.screening.management.commands.escalate_screening.close_old_connections",
        lambda: None,
    )
    Campaign.objects.filter(pk=campaign.pk).update(deadline=timezone.now() - timedelta(hours=1))
    call_command("escalate_screening", every=30, verbosity=0)
    assert rounds == [30, 30]
    assert CampaignTarget.objects.filter(
        campaign=campaign, door_knock_reason=DoorKnockReason.DEADLINE
    ).exists()
