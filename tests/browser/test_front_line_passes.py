"""Issue 17 (foundation): a lead issues a community's household passes on a phone, opens one
resident's pass page, revokes the pass, and the page turns red without its QR code."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from linli.passes.models import Pass
from linli.passes.tests.builders import household_policy

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def picture(page, name: str) -> None:
    """Saves the page at 390 CSS pixels when LINLI_SCREENSHOTS=1."""
    if os.environ.get("LINLI_SCREENSHOTS") == "1":
        page.evaluate("document.fonts.ready.then(() => true)")
        page.screenshot(path=SCREENSHOTS / name, full_page=True, scale="css", animations="disabled")


def test_a_lead_issues_passes_and_revokes_one(story):
    world = story.world
    policy = household_policy(world)
    lead = story.log_in(world.lead_a, mobile=True)
    lead.goto("/passes/")
    lead.locator(f"[data-testid=issue-area-{policy.pk}]").click()
    expect(lead.locator("[data-testid=pass-list] tbody tr").first).to_be_visible()
    issued = Pass.objects.filter(policy=policy).count()
    assert issued >= 1
    picture(lead, "front-line-passes-list.png")

    held = Pass.objects.get(policy=policy, holder=world.resident_a)
    lead.goto(f"/passes/{held.pk}/")
    expect(lead.locator("[data-testid=pass-status]")).to_have_text("有效")
    resident_link = lead.locator("[data-testid=resident-page]").get_attribute("href")

    resident = story.new_page(mobile=True)
    resident.goto(resident_link)
    card = resident.locator("[data-testid=pass-card]")
    expect(card).to_have_attribute("data-state", "valid")
    expect(resident.locator("[data-testid=pass-name]")).to_contain_text("张*丰")
    expect(resident.locator("svg.pass-qr")).to_be_visible()
    picture(resident, "front-line-pass-h5.png")

    lead.locator("[data-testid=revoke-form] input[name=note]").fill("已搬离")
    lead.locator("[data-testid=revoke]").click()
    expect(lead.locator("[data-testid=pass-status]")).to_have_text("已吊销")

    resident.reload()
    expect(card).to_have_attribute("data-state", "revoked")
    expect(resident.locator("svg.pass-qr")).to_have_count(0)
    story.assert_no_problems()
