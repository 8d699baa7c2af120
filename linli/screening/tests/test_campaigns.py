"""Questionnaire versions, campaign set-up, target preview and launch."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from linli.registry.models import Person, Residency, VulnerableTag
from linli.screening.models import (
    CampaignStatus,
    CampaignTarget,
    DoorKnockReason,
    QuestionnaireVersion,
    TargetStatus,
)
from linli.screening.questionnaires.schema import InvalidDefinition
from linli.screening.questionnaires.templates import template_definition
from linli.screening.selectors import campaigns as campaign_selectors
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import arrivals_for, draft


def targeted(campaign) -> set[int]:
    return set(CampaignTarget.objects.filter(campaign=campaign).values_list("person_id", flat=True))


# --- Questionnaires and versions --------------------------------------------------------------


def test_questionnaire_from_a_template_starts_at_version_1(world):
    questionnaire = arrivals_for(world)
    version = questionnaire_selectors.latest_version(questionnaire)
    assert version.number == 1
    assert version.definition == template_definition("arrivals")
    assert questionnaire.area_path == world.a.community.path
    assert questionnaire.template == "arrivals"


def test_editing_an_unused_questionnaire_updates_its_version_in_place(world):
    questionnaire = arrivals_for(world)
    definition = template_definition("arrivals")
    definition["title"] = "来返人员排查（修订）"
    version = questionnaire_services.save_questionnaire_version(
        questionnaire=questionnaire, definition=definition, by=world.lead_a
    )
    assert version.number == 1
    assert QuestionnaireVersion.objects.filter(questionnaire=questionnaire).count() == 1
    assert (
        questionnaire_selectors.latest_version(questionnaire).definition["title"]
        == "来返人员排查（修订）"
    )


def test_editing_a_launched_questionnaire_makes_a_new_version_and_the_campaign_keeps_its_own(
    world,
):
    """Launch freezes version 1; the edit becomes version 2; the running campaign still asks
    version 1 and a new campaign can take version 2."""
    questionnaire = arrivals_for(world)
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, questionnaire), by=world.lead_a
    )
    first = campaign.questionnaire_version
    assert first.is_frozen
    definition = template_definition("arrivals")
    definition["questions"][0]["text"] = "近14天您是否来（返）本地？"
    second = questionnaire_services.save_questionnaire_version(
        questionnaire=questionnaire, definition=definition, by=world.lead_a
    )
    assert second.number == 2 and second.pk != first.pk
    first.refresh_from_db()
    campaign.refresh_from_db()
    assert first.definition == template_definition("arrivals")
    assert campaign.questionnaire_version_id == first.pk
    # Saving the same definition again changes nothing.
    again = questionnaire_services.save_questionnaire_version(
        questionnaire=questionnaire, definition=definition, by=world.lead_a
    )
    assert again.pk == second.pk
    assert questionnaire_selectors.latest_version(questionnaire).pk == second.pk


def test_an_invalid_definition_is_refused_and_nothing_changes(world):
    questionnaire = arrivals_for(world)
    definition = template_definition("arrivals")
    definition["questions"][0]["next"][0]["goto"] = "nowhere"
    with pytest.raises(InvalidDefinition) as caught:
        questionnaire_services.save_questionnaire_version(
            questionnaire=questionnaire, definition=definition, by=world.lead_a
        )
    [error] = caught.value.definition_errors
    assert (error.key, error.code) == ("arrived_recently", "unknown_target")
    # Located by key and field for programs; worded for people without naming the key.
    assert caught.value.messages[0].startswith("arrived_recently.next[0].goto: ")
    assert "跳转目标" in caught.value.messages[0] and "nowhere" not in error.message
    assert questionnaire_selectors.latest_version(questionnaire).definition == template_definition(
        "arrivals"
    )


def test_only_campaign_managers_in_their_area_create_questionnaires(world):
    with pytest.raises(PermissionDenied):
        arrivals_for(world, by=world.grid_a)
    with pytest.raises(PermissionDenied):
        questionnaire_services.create_questionnaire(
            name="x", area=world.b.community, by=world.lead_a, from_template="daily_symptoms"
        )
    with pytest.raises(ValidationError):
        questionnaire_services.create_questionnaire(
            name="x", area=world.a.community, by=world.lead_a, from_template="nope"
        )


# --- Campaign set-up --------------------------------------------------------------------------


def test_create_campaign_checks_channels_deadline_and_filters(world):
    questionnaire = arrivals_for(world)
    with pytest.raises(ValidationError) as caught:
        draft(world, questionnaire, channels=["fax"])
    assert "channels" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        draft(world, questionnaire, deadline=timezone.now() - timedelta(hours=1))
    assert "deadline" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        draft(world, questionnaire, filters={"tags": ["vip"]})
    assert "tags" in caught.value.message_dict
    campaign = draft(world, questionnaire, channels=["h5", "h5", "door_knock"])
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.channels == ["h5", "door_knock"]


def test_a_campaign_outside_the_users_area_is_refused(world):
    questionnaire = arrivals_for(world)
    with pytest.raises(PermissionDenied):
        draft(world, questionnaire, area=world.b.community)
    with pytest.raises(PermissionDenied):
        draft(world, questionnaire, by=world.grid_a)


def test_a_launched_campaign_only_changes_name_and_deadline(world):
    campaign = campaign_services.launch_campaign(campaign=draft(world), by=world.lead_a)
    deadline = timezone.now() + timedelta(days=2)
    campaign = campaign_services.update_campaign(
        campaign=campaign, by=world.lead_a, name="返乡排查（二）", deadline=deadline
    )
    assert (campaign.name, campaign.deadline) == ("返乡排查（二）", deadline)
    with pytest.raises(ValidationError):
        campaign_services.update_campaign(
            campaign=campaign, by=world.lead_a, channels=["door_knock"]
        )


# --- Preview and launch -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "names", "households"),
    [
        ({}, {"张三丰", "李秀英", "王小明", "王小红", "赵大爷", "钱阿姨"}, 4),
        ({"residency": [Residency.FLOATING]}, {"王小明", "王小红"}, 1),
        ({"tags": [VulnerableTag.DIALYSIS, VulnerableTag.PREGNANT]}, {"张三丰"}, 1),
        ({"no_smartphone": True}, {"李秀英", "钱阿姨"}, 2),
        ({"unit": "household"}, {"张三丰", "王小明", "赵大爷", "钱阿姨"}, 4),
        ({"unit": "household", "residency": ["floating"]}, {"王小明"}, 1),
    ],
)
def test_preview_counts_what_launch_materialises(
    world, town, django_assert_num_queries, filters, names, households
):
    """The preview is one query; the launch targets exactly the people it counted: current
    files only (the merged duplicate never), nobody outside the area."""
    assert world.lead_a.jurisdiction_paths  # loaded once per request, not counted here
    with django_assert_num_queries(1):
        preview = campaign_selectors.preview_targets(
            world.lead_a, area=world.a.community, filters=filters
        )
    assert (preview.people, preview.households) == (len(names), households)
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, filters=filters), by=world.lead_a
    )
    targets = CampaignTarget.objects.filter(campaign=campaign).select_related("person")
    assert {t.person.name for t in targets} == names
    assert town.merged.pk not in targeted(campaign)
    assert world.resident_b.pk not in targeted(campaign)
    assert (campaign.target_count, campaign.household_count) == (len(names), households)
    assert campaign.status == CampaignStatus.RUNNING and campaign.launched_at
    for target in targets:
        assert target.area_path == target.person.area_path
        assert target.household_id == target.person.household_id


def test_household_mode_prefers_the_head_when_the_head_matches(world, town):
    """王小红 is registered after her father; without the residency filter the head answers
    for the household; a filter the head fails falls back to the first matching member."""

    Person.objects.filter(pk=town.floating_head.pk).update(residency=Residency.RESIDENT)
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, filters={"unit": "household", "residency": ["floating"]}),
        by=world.lead_a,
    )
    assert targeted(campaign) == {town.floating_child.pk}


def test_launch_puts_people_no_remote_channel_reaches_on_the_door_knock_list(world, town):
    """With H5 only: no phone (赵大爷) and no smartphone (钱阿姨 by her file, 李秀英 by her
    tag) cannot open a link, so they go to the door at once."""
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, channels=["h5"]), by=world.lead_a
    )
    door = dict(
        CampaignTarget.objects.filter(
            campaign=campaign, status=TargetStatus.NEEDS_DOOR_KNOCK
        ).values_list("person_id", "door_knock_reason")
    )
    assert door == {
        town.no_phone.pk: DoorKnockReason.NO_PHONE,
        town.no_smartphone.pk: DoorKnockReason.NO_PHONE,
        world.resident_a2.pk: DoorKnockReason.NO_PHONE,
    }
    # With the phone robot too, only the person without any phone is left for the door.
    other = campaign_services.launch_campaign(
        campaign=draft(world, channels=["h5", "phone"]), by=world.lead_a
    )
    door = CampaignTarget.objects.filter(campaign=other, status=TargetStatus.NEEDS_DOOR_KNOCK)
    assert set(door.values_list("person_id", flat=True)) == {town.no_phone.pk}


def test_a_door_knock_only_campaign_lists_everyone(world, town):
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, channels=["door_knock"]), by=world.lead_a
    )
    reasons = set(
        CampaignTarget.objects.filter(campaign=campaign).values_list("status", "door_knock_reason")
    )
    assert reasons == {(TargetStatus.NEEDS_DOOR_KNOCK, DoorKnockReason.DOOR_KNOCK_ONLY)}


def test_launch_is_refused_outside_jurisdiction_twice_or_with_nobody(world):
    b_campaign = draft(world, area=world.b.community, by=world.street_officer)
    with pytest.raises(PermissionDenied):
        campaign_services.launch_campaign(campaign=b_campaign, by=world.lead_a)
    campaign = campaign_services.launch_campaign(campaign=draft(world), by=world.lead_a)
    with pytest.raises(ValidationError):
        campaign_services.launch_campaign(campaign=campaign, by=world.lead_a)
    assert CampaignTarget.objects.filter(campaign=campaign).count() == 2
    nobody = draft(world, filters={"tags": [VulnerableTag.PREGNANT]})
    with pytest.raises(ValidationError):
        campaign_services.launch_campaign(campaign=nobody, by=world.lead_a)
    nobody.refresh_from_db()
    assert nobody.status == CampaignStatus.DRAFT


def test_a_street_officer_launches_over_a_community_below(world):
    questionnaire = questionnaire_services.create_questionnaire(
        name="全街道排查",
        area=world.street,
        by=world.street_officer,
        from_template="daily_symptoms",
    )
    campaign = draft(world, questionnaire, area=world.b.community, by=world.street_officer)
    campaign_services.launch_campaign(campaign=campaign, by=world.street_officer)
    assert targeted(campaign) == {world.resident_b.pk}


def test_pause_resume_close(world):
    campaign = campaign_services.launch_campaign(campaign=draft(world), by=world.lead_a)
    campaign = campaign_services.pause_campaign(campaign=campaign, by=world.lead_a)
    assert campaign.status == CampaignStatus.PAUSED and campaign.accepts_answers
    with pytest.raises(ValidationError):
        campaign_services.pause_campaign(campaign=campaign, by=world.lead_a)
    campaign = campaign_services.resume_campaign(campaign=campaign, by=world.lead_a)
    campaign = campaign_services.close_campaign(campaign=campaign, by=world.lead_a)
    assert campaign.status == CampaignStatus.CLOSED and campaign.closed_at
    assert not campaign.accepts_answers
    with pytest.raises(PermissionDenied):
        campaign_services.resume_campaign(campaign=campaign, by=world.grid_a)


# --- Who sees which campaign ------------------------------------------------------------------


def test_campaigns_are_visible_inside_and_above_their_area_only(world):
    """Community A's campaign: its lead, its grid worker (below) and the street officer
    (above) see it; community B's grid worker does not; volunteers do not browse."""
    campaign = draft(world)
    for user in (world.lead_a, world.grid_a, world.street_officer):
        assert campaign_selectors.campaign_for(user, campaign.pk) == campaign
        assert list(campaign_selectors.campaigns_for(user)) == [campaign]
        assert questionnaire_selectors.questionnaire_for(
            user, campaign.questionnaire_version.questionnaire_id
        )
    with pytest.raises(Http404):
        campaign_selectors.campaign_for(world.grid_b, campaign.pk)
    assert list(campaign_selectors.campaigns_for(world.grid_b)) == []
    with pytest.raises(PermissionDenied):
        campaign_selectors.campaigns_for(world.volunteer_a)
