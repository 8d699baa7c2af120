"""A screening campaign told end to end through a real browser (Debian's Chromium).

The community lead builds a questionnaire, launches a campaign over the community and texts
the H5 links; a resident answers on a phone whose signal drops half-way; a grid worker records
a door knock for the child nobody could text, offline in a stairwell; the lead watches the
coverage dashboard move on its own.
"""

import re

import pytest
from playwright.sync_api import expect

from linli.adapters import sms
from linli.registry.models import Person
from linli.screening.channels import get_channel
from linli.screening.models import (
    Campaign,
    CampaignStatus,
    CampaignTarget,
    ContactAttempt,
    FollowUpTask,
    Questionnaire,
    TargetStatus,
)

pytestmark = pytest.mark.browser

LIVE_REFRESH_MS = 25_000  # the dashboard refreshes every 10 s; allow two rounds and a slow CI


def link_path(text: str) -> str:
    """Returns the path of the H5 link inside an SMS (the link points at the public URL,
    the test serves on its own live server)."""
    match = re.search(r"https?://[^/\s]+(/h/[0-9A-Za-z._-]+)", text)
    assert match, text
    return match.group(1)


def build_questionnaire(page) -> Questionnaire:
    """The lead starts a blank questionnaire and builds two questions and a risk rule."""
    page.goto("/screening/questionnaires/")
    page.fill("#id_name", "每日健康打卡")
    page.check("input[name=start][value=blank]")
    page.click("[data-testid=questionnaire-create] button[type=submit]")
    builder = page.locator("[data-testid=builder]")
    expect(builder).to_be_visible()
    builder.locator(".bquestion textarea").first.fill("您今天是否有发热、咳嗽等症状？")
    builder.locator(".bquestions > button").click()
    temperature = builder.locator(".bquestion").nth(1)
    temperature.locator("textarea").fill("请告诉我们您现在的体温（℃）")
    temperature.locator("select").first.select_option("number")
    # A risk rule: symptoms → high risk and a door visit (the default follow-up).
    builder.locator(".brules > button").click()
    rule = builder.locator(".brule").nth(0)
    rule.locator(".leaf select").first.select_option("q1")
    rule = builder.locator(".brule").nth(0)
    rule.locator(".leaf-value select").select_option("true")
    rule.locator(".brow select").select_option("high")
    rule.locator("input[type=text].wide").fill("有发热或咳嗽")
    page.click("[data-testid=save-definition]")
    expect(page.locator(".messages .success")).to_be_visible()
    questionnaire = Questionnaire.objects.get(name="每日健康打卡")
    definition = questionnaire.versions.order_by("-number").first().definition
    assert [q["kind"] for q in definition["questions"]] == ["yes_no", "number"]
    assert definition["risk_rules"][0]["level"] == "high"
    return questionnaire


def test_lead_launches_a_campaign_residents_answer_and_the_dashboard_follows(story, screenshot):
    world = story.world
    child = story.neighbours["陈梓涵"]  # no phone: only a door knock reaches him

    # 1. The lead builds the questionnaire and launches a campaign over the community.
    lead = story.log_in(world.lead_a)
    questionnaire = build_questionnaire(lead)
    screenshot(lead, "screening-builder.png")
    lead.goto("/screening/campaigns/new/")
    lead.fill("#id_name", "长延堡社区每日健康打卡")
    lead.select_option("#id_questionnaire", str(questionnaire.pk))
    lead.select_option("#id_area", str(world.a.community.pk))
    lead.uncheck("input[name=channels][value=phone]")
    lead.check("input[name=channels][value=h5]")
    lead.check("input[name=channels][value=door_knock]")
    residents = story.residents["长延堡社区"]
    expect(lead.locator("[data-testid=preview-people]")).to_have_text(str(residents))
    lead.click("[data-testid=create-campaign]")
    expect(lead.locator("[data-testid=campaign-status]")).to_be_visible()
    lead.click("[data-testid=launch]")
    lead.click("[data-testid=confirm-launch]")
    expect(lead.locator(".messages .success")).to_be_visible()
    campaign = Campaign.objects.get(name="长延堡社区每日健康打卡")
    assert campaign.status == CampaignStatus.RUNNING
    assert campaign.target_count == residents
    child_target = CampaignTarget.objects.get(campaign=campaign, person=child)
    assert child_target.status == TargetStatus.NEEDS_DOOR_KNOCK

    # 2. The lead texts the links; everyone with a smartphone gets exactly one.
    lead.locator("[data-testid=send-links] button[type=submit]").click()
    lead.click("[data-testid=h5-confirm-send]")  # the text, count and segments are checked first
    expect(lead.locator("[data-testid=h5-send-progress]")).to_have_attribute(
        "data-finished", "true"
    )
    sent = {message.to: message.text for message in sms.outbox}
    texted = Person.objects.filter(
        get_channel("h5").reachable(), pk__in=campaign.targets.values("person_id")
    )
    assert len(sent) == len(sms.outbox) == texted.count() >= 2  # one each, none twice
    assert not texted.filter(pk=child.pk).exists()
    resident = world.resident_a  # 张三丰, 13812345678
    path = link_path(sent["13812345678"])

    # 3. The lead opens the coverage dashboard and leaves it open.
    lead.goto(f"/screening/campaigns/{campaign.pk}/coverage/")
    reached = lead.locator("[data-testid=total-reached-percent]")
    expect(reached).to_be_visible()
    reached_before = reached.inner_text()

    # 4. 张三丰 answers on his phone; the signal drops before the second answer goes out.
    phone = story.new_page(mobile=True)
    phone.goto(path)
    expect(phone.locator("[data-testid=h5-masked-name]")).to_contain_text("张*丰")
    expect(phone.locator("body")).not_to_contain_text("张三丰")
    screenshot(phone, "screening-h5-intro.png")
    phone.click("[data-testid=h5-as-self]")
    question = phone.locator("[data-testid=h5-question]")
    expect(question).to_have_attribute("data-question", "q1")
    question.locator("input[name=answer][value=yes]").check()
    phone.click("[data-testid=h5-save]")
    expect(question).to_have_attribute("data-question", "q2")
    phone.context.set_offline(True)
    question.locator("input[name=answer]").fill("38.2")
    phone.click("[data-testid=h5-save]")
    expect(phone.locator("#h5-status")).to_have_class(re.compile("is-retrying"))
    screenshot(phone, "screening-h5-offline.png")
    target = CampaignTarget.objects.get(campaign=campaign, person=resident)
    assert set(target.answers) == {"q1"}  # the second answer is still on the phone
    phone.close()

    # The signal is back; he opens the SMS link again and the kept answer goes out.
    phone.context.set_offline(False)
    phone = phone.context.new_page()
    phone.goto(path)
    expect(phone.locator("[data-testid=h5-done]")).to_be_visible()
    target.refresh_from_db()
    assert target.answers == {"q1": True, "q2": 38.2}
    assert target.complete and target.risk_level == "high"
    assert target.status == TargetStatus.REACHED
    assert ContactAttempt.objects.filter(target=target).count() == 2  # nothing doubled
    task = FollowUpTask.objects.get(target=target)
    assert task.kind == "door_visit"

    # The dashboard moved without a reload.
    expect(reached).not_to_have_text(reached_before, timeout=LIVE_REFRESH_MS)
    reached_after_h5 = reached.inner_text()

    # 5. The grid worker knocks at the child's door with no signal in the stairwell.
    worker = story.log_in(world.grid_a, mobile=True)
    worker.goto(f"/screening/campaigns/{campaign.pk}/door-knock/")
    member = worker.locator(f"[data-testid=member-{child_target.pk}]")
    expect(member).to_be_visible()
    expect(member).to_contain_text("陈梓涵")
    screenshot(worker, "screening-door-knock.png")
    worker.click(f"[data-testid=record-{child_target.pk}]")
    form = worker.locator("[data-testid=form]")
    form.locator("[data-testid=outcome-answered]").check()
    form.locator("[data-testid=answer-q1-no]").check()
    form.locator("[data-testid=answer-q2]").fill("36.6")
    form.locator("[data-testid=by-proxy]").check()
    worker.context.set_offline(True)
    form.locator("[data-testid=submit]").click()
    expect(worker.locator("[data-testid=outbox-count]")).to_have_text("1")
    assert not ContactAttempt.objects.filter(target=child_target).exists()
    worker.context.set_offline(False)
    expect(worker.locator("[data-testid=outbox-count]")).to_have_text("0")
    child_target.refresh_from_db()
    assert child_target.status == TargetStatus.REACHED
    assert child_target.answered_by_proxy and child_target.answers == {"q1": False, "q2": 36.6}
    attempts = ContactAttempt.objects.filter(target=child_target)
    assert [(a.channel, a.by_id) for a in attempts] == [("door_knock", world.grid_a.pk)]

    # 6. The lead's dashboard counts the door knock too, still without a reload.
    expect(reached).not_to_have_text(reached_after_h5, timeout=LIVE_REFRESH_MS)
    screenshot(lead, "screening-coverage.png")

    # The grid worker finds the follow-up the fever raised, masked nowhere for them.
    worker.goto("/screening/tasks/")
    expect(worker.locator("main")).to_contain_text("张三丰")
    story.assert_no_problems()
