"""Follow-ups on a grid worker's phone (issue 12, item 7).

A fever answer raises a door visit and a health monitoring proposal for the same person. The
grid worker sees one card per person with both actions on it, scrolls down to a neighbour,
forgets the note when dismissing, and reads why inside that card, once, without the page
jumping back to the top; with the note, the card closes in place.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from linli.demo.factories import PASSWORD
from linli.screening.models import CampaignTarget, FollowUpTask, TaskStatus
from linli.screening.services import attempts as attempt_services
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import draft

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs/screenshots/front-line-followups.png"


def fevers(world, people) -> None:
    """A daily health campaign over community A; each of `people` reports 38.5 ℃ by H5."""
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
    for n, person in enumerate(people):
        attempt_services.record_attempt(
            target=CampaignTarget.objects.get(campaign=campaign, person=person),
            channel="h5",
            outcome="answered",
            answers={"temperature": "38.5"},
            idempotency_key=f"fever-{n}",
        )


def test_one_card_per_person_and_an_error_kept_in_place(story):
    world, neighbours = story.world, story.neighbours
    people = [
        world.resident_a,
        world.resident_a2,
        *(neighbours[name] for name in ("王建国", "刘芳", "陈志强", "周淑珍")),
    ]
    fevers(world, people)
    assert FollowUpTask.objects.filter(status=TaskStatus.OPEN).count() == 2 * len(people)

    page = story.log_in(world.grid_a, mobile=True)
    page.goto("/screening/tasks/")
    # One card per person (each card links its person once), both actions on it, ticked.
    expect(page.locator("[data-testid=task]")).to_have_count(2 * len(people))
    expect(page.locator("[data-testid=task-person]")).to_have_count(len(people))
    cards = page.locator("article", has=page.locator("[data-testid=task-person]"))
    for i in range(len(people)):
        expect(cards.nth(i).locator("[data-testid=task]")).to_have_count(2)
        expect(cards.nth(i).locator("input[name=task]:checked")).to_have_count(2)

    # Far down the list, the worker dismisses without a note.
    card = cards.nth(len(people) - 2)
    person = card.locator("[data-testid=task-person]").inner_text()
    card.scroll_into_view_if_needed()
    card.locator("[data-testid=task-dismiss]").click()
    card = page.locator("article", has=page.get_by_role("link", name=person, exact=True))
    # Shown once, in the card, and the page did not reload to the top.
    expect(page.get_by_text("请说明为何无需跟进")).to_have_count(1)
    expect(card.get_by_text("请说明为何无需跟进")).to_be_visible()
    assert page.evaluate("window.scrollY") > 0
    expect(card).to_be_in_viewport()
    expect(page.locator(".messages li")).to_have_count(0)
    if os.environ.get("LINLI_SCREENSHOTS") == "1":
        # What the phone shows, at CSS pixels: a small picture, not the whole list at 2x.
        page.screenshot(path=SCREENSHOT, scale="css", animations="disabled", caret="hide")

    # With a note, every action of the card closes in place.
    card.locator("input[name=note]").fill("已电话确认，退烧")
    card.locator("[data-testid=task-dismiss]").click()
    expect(card.locator("[data-testid=task-confirmation]")).to_be_visible()
    expect(card.locator("[data-testid=task-status]")).to_have_count(2)
    expect(card.locator("[data-testid=task-error]")).to_have_count(0)
    assert page.evaluate("window.scrollY") > 0
    closed = FollowUpTask.objects.filter(status=TaskStatus.DISMISSED)
    assert closed.count() == 2 and {t.note for t in closed} == {"已电话确认，退烧"}
    # The list's count follows the card that closed in place, without a reload.
    still_open = FollowUpTask.objects.filter(status=TaskStatus.OPEN).count()
    assert still_open == 2 * len(people) - 2
    expect(page.locator("[data-testid=result-count]")).to_have_count(1)
    expect(page.locator("[data-testid=result-count]")).to_contain_text(str(still_open))
    assert len(page.content().encode()) < 100_000
    story.assert_no_problems()


def test_without_javascript_the_card_comes_back_at_its_anchor(story, browser):
    world = story.world
    fevers(world, [world.resident_a, world.resident_a2])
    context = browser.new_context(
        java_script_enabled=False, base_url=story.base_url, locale="zh-CN"
    )
    story.contexts.append(context)
    nojs = context.new_page()
    nojs.goto("/accounts/login/")
    nojs.fill("#id_username", world.grid_a.username)
    nojs.fill("#id_password", PASSWORD)
    nojs.locator("form[action='/accounts/login/'] button[type=submit]").click()
    nojs.goto("/screening/tasks/")
    card = nojs.locator("article", has=nojs.locator("[data-testid=task-person]")).nth(1)
    anchor = card.get_attribute("id")
    assert anchor
    card.locator("[data-testid=task-dismiss]").click()
    assert nojs.url.endswith(f"#{anchor}")
    expect(nojs.get_by_text("请说明为何无需跟进")).to_have_count(1)
