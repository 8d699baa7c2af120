"""Campaign pages: the set-up form and its preview, the detail page, launch/pause/resume/close,
and who may do what."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from linli.core.roles import Role
from linli.demo import factories as f
from linli.screening.models import Campaign, CampaignStatus, CampaignTarget, TargetStatus
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import arrivals_for, draft

pytestmark = pytest.mark.django_db


def detail_url(campaign) -> str:
    return reverse("screening:campaign", args=[campaign.pk])


def action_url(name: str, campaign) -> str:
    return reverse(f"screening:campaign_{name}", args=[campaign.pk])


def form_data(world, questionnaire, **overrides) -> dict:
    data = {
        "name": "春节返乡排查",
        "questionnaire": questionnaire.pk,
        "area": world.a.community.pk,
        "unit": "person",
        "channels": ["h5", "door_knock"],
        "deadline": (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "emergency": "2022-01 西安疫情",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def counts(response) -> dict[str, int]:
    """The figures of the preview partial, by data-testid."""
    body = response.content.decode()
    return {
        name: int(value.replace(",", ""))
        for name, value in re.findall(r'data-testid="preview-([a-z-]+)">([\d,]+)<', body)
    }


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


# --- Creating -------------------------------------------------------------------------------


def test_a_lead_creates_a_draft_through_the_form(world, client_for):
    questionnaire = arrivals_for(world)
    client = client_for(world.lead_a)
    page = client.get(reverse("screening:campaign_create"), {"questionnaire": questionnaire.pk})
    assert page.status_code == 200
    assert page.context["form"]["questionnaire"].value() == questionnaire.pk
    response = client.post(
        reverse("screening:campaign_create"),
        form_data(world, questionnaire, residency=["floating"], tags=["dialysis"]),
    )
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(campaign)
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.questionnaire_version == questionnaire_selectors.latest_version(questionnaire)
    assert campaign.area == world.a.community
    assert campaign.channels == ["h5", "door_knock"]
    assert campaign.target_filters["residency"] == ["floating"]
    assert campaign.target_filters["tags"] == ["dialysis"]
    assert campaign.deadline > timezone.now()
    assert campaign.emergency == "2022-01 西安疫情"


def test_the_form_offers_the_leads_areas_down_to_grids_only(world, client_for):
    arrivals_for(world)
    areas = set(
        client_for(world.lead_a)
        .get(reverse("screening:campaign_create"))
        .context["form"]
        .fields["area"]
        .queryset
    )
    assert areas == {world.a.community, world.a.grid}


def test_bad_input_is_answered_at_the_field_and_nothing_is_created(world, client_for):
    questionnaire = arrivals_for(world)
    client = client_for(world.lead_a)
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("screening:campaign_create"), form_data(world, questionnaire, deadline=past)
    )
    assert response.status_code == 400
    assert "deadline" in response.context["form"].errors
    response = client.post(
        reverse("screening:campaign_create"), form_data(world, questionnaire, channels=[])
    )
    assert response.status_code == 400
    assert "channels" in response.context["form"].errors
    response = client.post(
        reverse("screening:campaign_create"),
        form_data(world, questionnaire, area=world.b.community.pk),
    )
    assert response.status_code == 400
    assert "area" in response.context["form"].errors
    assert not Campaign.objects.exists()


# --- The preview ----------------------------------------------------------------------------


def test_the_preview_counts_people_households_and_who_only_a_door_knock_reaches(
    world, town, client_for
):
    """Community A: 张三丰 and 李秀英 (no smartphone) share a household; 王小明 and 王小红 share
    one; 赵大爷 has no phone; 钱阿姨 has no smartphone. The merged duplicate never counts."""
    client = client_for(world.lead_a)
    url = reverse("screening:campaign_preview")
    by_h5 = counts(client.get(url, {"area": world.a.community.pk, "channels": ["h5"]}))
    assert by_h5 == {
        "people": 6,
        "households": 4,
        "no-phone": 1,
        "no-smartphone": 2,
        "door-knock": 3,
    }
    # The phone robot reaches people without a smartphone: only 赵大爷 is left for the door.
    assert (
        counts(client.get(url, {"area": world.a.community.pk, "channels": ["h5", "phone"]}))[
            "door-knock"
        ]
        == 1
    )
    per_household = counts(
        client.get(url, {"area": world.a.community.pk, "channels": ["h5"], "unit": "household"})
    )
    assert per_household["people"] == 4
    assert per_household["households"] == 4
    # One per household is the head: 张三丰 (smartphone), not 李秀英.
    assert per_household["no-smartphone"] == 1
    floating = counts(client.get(url, {"area": world.a.community.pk, "residency": ["floating"]}))
    assert floating["people"] == 2
    assert "door-knock" not in floating  # no channel chosen yet
    grid2 = counts(client.get(url, {"area": town.grid2.pk, "channels": ["door_knock"]}))
    assert grid2["people"] == 4
    assert grid2["door-knock"] == 4


def test_the_preview_answers_bad_filters_with_400_at_the_field(world, client_for):
    client = client_for(world.lead_a)
    url = reverse("screening:campaign_preview")
    bad = client.get(url, {"area": world.a.community.pk, "residency": ["tourist"]})
    assert bad.status_code == 400
    assert "residency" in bad.context["form"].errors
    assert 'data-testid="preview-errors"' in bad.content.decode()
    elsewhere = client.get(url, {"area": world.b.community.pk})
    assert elsewhere.status_code == 400
    assert world.b.community.name not in elsewhere.content.decode()


def test_only_campaign_managers_preview_and_create(world, client_for):
    questionnaire = arrivals_for(world)
    for user in (world.grid_a, world.volunteer_a, world.steward_a):
        client = client_for(user)
        assert client.get(reverse("screening:campaign_create")).status_code == 403
        assert (
            client.post(
                reverse("screening:campaign_create"), form_data(world, questionnaire)
            ).status_code
            == 403
        )
        preview = client.get(reverse("screening:campaign_preview"), {"area": world.a.grid.pk})
        assert preview.status_code == 403
    assert not Campaign.objects.exists()


# --- Detail and state changes ---------------------------------------------------------------


def test_launch_pause_resume_and_close_from_the_detail_page(world, town, client_for):
    campaign = draft(world, channels=("h5", "door_knock"))
    client = client_for(world.lead_a)
    page = client.get(detail_url(campaign))
    assert page.status_code == 200
    body = page.content.decode()
    assert action_url("launch", campaign) in body
    assert page.context["reach"].people == 6
    # The confirm step is a <details>, not a script.
    assert re.search(r"<details[^>]*>\s*<summary[^>]*data-testid=\"launch\"", body)

    response = client.post(action_url("launch", campaign), follow=True)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    assert campaign.target_count == 6
    assert campaign.questionnaire_version.is_frozen
    assert "6" in messages_of(response)
    body = response.content.decode()
    assert reverse("screening:coverage", args=[campaign.pk]) in body
    assert reverse("screening:door_knock", args=[campaign.pk]) in body
    assert reverse("screening:export", args=[campaign.pk]) in body
    send = re.search(
        r'<form method="post" action="{}".*?</form>'.format(
            re.escape(reverse("screening:send_links", args=[campaign.pk]))
        ),
        body,
        re.S,
    )
    assert send and "csrfmiddlewaretoken" in send.group(0)
    assert (
        response.context["door_knock_count"]
        == CampaignTarget.objects.filter(
            campaign=campaign, status=TargetStatus.NEEDS_DOOR_KNOCK
        ).count()
    )

    client.post(action_url("pause", campaign))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert campaign.paused_at
    client.post(action_url("resume", campaign))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    response = client.post(action_url("close", campaign), follow=True)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CLOSED
    assert campaign.closed_at
    assert action_url("launch", campaign) not in response.content.decode()


def test_state_changes_are_post_only(world, client_for):
    campaign = draft(world)
    client = client_for(world.lead_a)
    for name in ("launch", "pause", "resume", "close"):
        assert client.get(action_url(name, campaign)).status_code == 405
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_a_refused_change_comes_back_as_a_message(world, client_for):
    campaign = draft(world)
    client = client_for(world.lead_a)
    response = client.post(action_url("resume", campaign), follow=True)
    assert response.status_code == 200
    assert "不能变为" in messages_of(response)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_grid_workers_and_volunteers_cannot_launch(world, client_for):
    campaign = draft(world)
    grid = client_for(world.grid_a)
    page = grid.get(detail_url(campaign))
    assert page.status_code == 200  # a grid worker follows the campaign of their community
    assert action_url("launch", campaign) not in page.content.decode()
    assert grid.post(action_url("launch", campaign)).status_code == 403
    assert grid.post(detail_url(campaign), {"name": "改名"}).status_code == 403
    volunteer = client_for(world.volunteer_a)
    assert volunteer.get(detail_url(campaign)).status_code == 403
    assert volunteer.post(action_url("launch", campaign)).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.name != "改名"


def test_a_lead_of_a_cannot_see_or_run_a_campaign_of_b(world, client_for):
    lead_b = f.make_staff(username="lead_b", role=Role.COMMUNITY_LEAD, areas=[world.b.community])
    questionnaire_b = questionnaire_services.create_questionnaire(
        name="大雁塔排查", area=world.b.community, by=lead_b, from_template="daily_symptoms"
    )
    campaign_b = campaign_services.create_campaign(
        name="大雁塔每日监测",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire_b),
        area=world.b.community,
        by=lead_b,
        channels=["h5"],
    )
    client = client_for(world.lead_a)
    assert client.get(detail_url(campaign_b)).status_code == 404
    for name in ("launch", "pause", "resume", "close"):
        assert client.post(action_url(name, campaign_b)).status_code == 404
    assert "大雁塔每日监测" not in client.get(reverse("screening:campaigns")).content.decode()
    campaign_b.refresh_from_db()
    assert campaign_b.status == CampaignStatus.DRAFT


def test_a_street_campaign_is_followed_but_not_run_by_a_community_lead(world, client_for):
    questionnaire = questionnaire_services.create_questionnaire(
        name="街道全员排查", area=world.street, by=world.street_officer, from_template="arrivals"
    )
    campaign = campaign_services.create_campaign(
        name="街道全员排查",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
        area=world.street,
        by=world.street_officer,
        channels=["h5", "door_knock"],
    )
    client = client_for(world.lead_a)
    page = client.get(detail_url(campaign))
    assert page.status_code == 200
    assert not page.context["may_manage"]
    response = client.post(action_url("launch", campaign), follow=True)
    assert "不在管辖范围内" in messages_of(response)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    street = client_for(world.street_officer)
    street.post(action_url("launch", campaign))
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING


def test_a_draft_is_edited_on_its_detail_page(world, town, client_for):
    questionnaire = arrivals_for(world)
    campaign = draft(world, questionnaire)
    client = client_for(world.lead_a)
    response = client.post(
        detail_url(campaign),
        form_data(
            world,
            questionnaire,
            name="流动人口排查",
            area=town.grid2.pk,
            residency=["floating"],
            channels=["door_knock"],
            deadline="",
        ),
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "流动人口排查"
    assert campaign.area == town.grid2
    assert campaign.target_filters["residency"] == ["floating"]
    assert campaign.channels == ["door_knock"]
    assert campaign.deadline is None
    page = client.get(detail_url(campaign))
    assert page.context["reach"].people == 2


def test_a_running_campaign_only_changes_its_name_and_deadline(world, client_for):
    campaign = campaign_services.launch_campaign(campaign=draft(world), by=world.lead_a)
    client = client_for(world.lead_a)
    later = (timezone.localtime() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(detail_url(campaign), {"name": "改名后的排查", "deadline": later})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "改名后的排查"
    assert timezone.localtime(campaign.deadline).strftime("%Y-%m-%dT%H:%M") == later


def test_the_list_filters_by_status(world, client_for):
    questionnaire = arrivals_for(world)
    running = campaign_services.launch_campaign(
        campaign=draft(world, questionnaire), by=world.lead_a
    )
    waiting = draft(world, questionnaire)
    Campaign.objects.filter(pk=waiting.pk).update(name="尚未启动")
    client = client_for(world.grid_a)
    everything = client.get(reverse("screening:campaigns"))
    assert {c.pk for c in everything.context["page"].object_list} == {running.pk, waiting.pk}
    only_running = client.get(reverse("screening:campaigns"), {"status": "running"})
    assert [c.pk for c in only_running.context["page"].object_list] == [running.pk]
    assert "尚未启动" not in only_running.content.decode()
    assert reverse("screening:campaign_create") not in everything.content.decode()
