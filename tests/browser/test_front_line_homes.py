"""Homes that start the day (issue 12, item 8).

A grid worker's home shows the campaign running over their grid, how far it has got and how
many households are still to be visited, and the door-knock list is one tap away. A lead's and
a street officer's homes show the campaign's coverage per child area, counted inside their
own areas only.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from linli.areas.models import Area
from linli.screening.models import CampaignTarget, TargetStatus
from linli.screening.services import attempts as attempt_services
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import draft

pytestmark = pytest.mark.browser


def running_campaign(world):
    """A daily campaign over community A by H5 and door knock, one resident already answered."""
    questionnaire = questionnaire_services.create_questionnaire(
        name="每日健康监测", area=world.a.community, by=world.lead_a, from_template="daily_symptoms"
    )
    campaign = draft(
        world,
        questionnaire,
        channels=["h5", "door_knock"],
        deadline=timezone.now() + timedelta(days=1),
    )
    campaign = campaign_services.launch_campaign(campaign=campaign, by=world.lead_a)
    attempt_services.record_attempt(
        target=CampaignTarget.objects.get(campaign=campaign, person=world.resident_a),
        channel="h5",
        outcome="answered",
        answers={"temperature": "36.5"},
        idempotency_key="home-answer",
    )
    return campaign


def figures_inside(campaign, path: str) -> dict:
    """What the home should say, counted straight from the targets below `path`."""
    targets = CampaignTarget.objects.filter(campaign=campaign, area_path__startswith=path)
    todo = targets.filter(status=TargetStatus.NEEDS_DOOR_KNOCK)
    return {
        "targets": targets.count(),
        "reached": targets.filter(reached_at__isnull=False).count(),
        "households_left": todo.exclude(household__isnull=True)
        .values("household")
        .distinct()
        .count()
        + todo.filter(household__isnull=True).count(),
    }


def test_grid_worker_reaches_the_door_knock_list_in_one_tap(story, screenshot):
    world = story.world
    campaign = running_campaign(world)
    expected = figures_inside(campaign, world.a.grid.path)
    assert expected["households_left"] > 0  # residents without a phone are on the list

    page = story.log_in(world.grid_a, mobile=True)
    card = page.locator("[data-testid=running-campaign]")
    expect(card).to_have_count(1)
    expect(card).to_contain_text(campaign.name)
    expect(card.locator("[data-testid=running-reached]")).to_contain_text(
        f"{expected['reached']} / {expected['targets']}"
    )
    button = card.locator("[data-testid=running-door-knock]")
    expect(button).to_contain_text(f"还需上门 {expected['households_left']} 户")
    # A grid worker walks their own list; the coverage per area is for those above a grid.
    expect(card.locator("[data-testid=running-coverage]")).to_have_count(0)
    screenshot(page, "front-line-home-grid.png")

    button.click()
    expect(page).to_have_url(re.compile(rf"/screening/campaigns/{campaign.pk}/door-knock/"))
    expect(page.locator("[data-testid=todo-summary]")).to_be_visible()
    story.assert_no_problems()


def test_officials_see_coverage_per_child_area(story, screenshot):
    world = story.world
    campaign = running_campaign(world)
    grids = list(Area.objects.filter(parent=campaign.area).order_by("path"))
    assert grids

    for user, name in ((world.lead_a, "front-line-home-lead.png"), (world.street_officer, None)):
        page = story.log_in(user, mobile=True)
        card = page.locator("[data-testid=running-campaign]")
        expect(card).to_have_count(1)
        rows = card.locator("[data-testid=running-coverage-row]")
        expect(rows).to_have_count(len(grids))
        for grid in grids:
            figures = figures_inside(campaign, grid.path)
            row = card.locator(f"[data-testid=running-coverage-row][data-area='{grid.name}']")
            percent = (
                round(100 * figures["reached"] / figures["targets"], 1) if figures["targets"] else 0
            )
            expect(row).to_contain_text(f"{percent}%")
        if name:
            screenshot(page, name)
        else:
            screenshot(page, "front-line-home-street.png")
            # The street officer does not walk doors; no door-knock button for them.
            expect(card.locator("[data-testid=running-door-knock]")).to_have_count(0)
    story.assert_no_problems()


def test_the_community_b_worker_sees_nothing_of_community_a(story):
    world = story.world
    running_campaign(world)
    page = story.log_in(world.grid_b, mobile=True)
    expect(page.locator("[data-testid=running-campaigns]")).to_have_count(0)
