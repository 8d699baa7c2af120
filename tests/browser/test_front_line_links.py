"""Issue 12, item 4: a lead texts the H5 links on a phone.

The lead opens the send page and sees the SMS exactly as it goes out, how many residents get
it and how many SMS segments that costs (one each); nothing is sent before the lead confirms.
The progress card then gives the real count, the button stays disabled, and a second send is
refused. The links follow the address the product is served on (LINLI_PUBLIC_URL unset).
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from linli.adapters import sms
from linli.screening.models import CampaignTarget
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.screening.tests.builders import draft

pytestmark = pytest.mark.browser

PICTURE = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "front-line-links.png"


def picture(page) -> None:
    """Saves the page at 390 CSS pixels (not the phone's 2x) when LINLI_SCREENSHOTS=1: a
    small PNG for the docs."""
    if os.environ.get("LINLI_SCREENSHOTS") == "1":
        page.evaluate("document.fonts.ready.then(() => true)")
        page.screenshot(path=PICTURE, full_page=True, scale="css", animations="disabled")


def test_a_lead_checks_confirms_and_cannot_send_twice(story, settings):
    settings.LINLI_PUBLIC_URL = ""
    world = story.world
    questionnaire = questionnaire_services.create_questionnaire(
        name="来返人员排查", area=world.a.community, by=world.lead_a, from_template="arrivals"
    )
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, questionnaire, channels=["h5", "door_knock"]), by=world.lead_a
    )
    sms.outbox.clear()
    lead = story.log_in(world.lead_a, mobile=True)
    lead.goto(f"/screening/campaigns/{campaign.pk}/")

    # 1. The campaign page's button asks first: the text, the count and the segments.
    lead.locator("[data-testid=send-links] button[type=submit]").click()
    confirm = lead.locator("[data-testid=h5-confirm]")
    expect(confirm).to_be_visible()
    recipients = int(lead.locator("[data-testid=h5-recipients]").inner_text())
    assert recipients > 0
    sample = lead.locator("[data-testid=h5-sms-sample]").inner_text()
    assert f"{story.base_url}/h/" in sample, sample
    expect(lead.locator("[data-testid=h5-segments]")).to_have_text("1")
    expect(lead.locator("[data-testid=h5-total-segments]")).to_have_text(str(recipients))
    assert sms.outbox == []  # nothing goes out before the lead confirms
    picture(lead)

    # 2. Confirmed: an honest progress card, and no button inviting a second send.
    lead.click("[data-testid=h5-confirm-send]")
    progress = lead.locator("[data-testid=h5-send-progress]")
    expect(progress).to_have_attribute("data-finished", "true")
    expect(lead.locator("[data-testid=h5-sent]")).to_have_text(str(recipients))
    expect(lead.locator("[data-testid=h5-send]")).to_be_disabled()
    assert len(sms.outbox) == recipients
    for message in sms.outbox:
        assert sms.count_segments(message.text) == 1, message.text
        # The link follows the address the lead works on, and opens the resident's page.
        assert re.search(rf"{re.escape(story.base_url)}/h/[0-9A-Za-z._-]+$", message.text)
    resident = story.new_page(mobile=True)
    resident.goto(sms.outbox[0].text.rsplit("：", 1)[1])
    expect(resident.locator("[data-testid=h5-as-self]")).to_be_visible()

    # 3. Even a forced second confirmation sends nothing.
    lead.goto(f"/screening/campaigns/{campaign.pk}/send-links/")
    expect(lead.locator("[data-testid=h5-send]")).to_be_disabled()
    lead.evaluate(
        """() => {
        const form = document.querySelector('[data-testid=h5-send-form]');
        form.insertAdjacentHTML('beforeend', '<input type=hidden name=confirm value=1>');
        form.querySelector('button').disabled = false;
        form.querySelector('button').click();
    }"""
    )
    expect(lead.locator(".errorlist[role=alert]")).to_be_visible()
    assert len(sms.outbox) == recipients
    assert CampaignTarget.objects.filter(campaign=campaign, links_sent__gt=1).count() == 0
    story.assert_no_problems()
