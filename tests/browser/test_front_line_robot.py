"""Issue 12, item 5 (and issue 14, item 4): the phone robot explains itself.

A lead opens the robot page of a new phone campaign at 390 px: the robot has never run, so it
says 未开始 (not 已暂停), and the demo's simulated line has a Chinese name. The lead starts
it outside its calling hours: instead of a bare 外呼中 that never dials, the page says it
waits and when the calls begin (不在外呼时段，HH:MM 开始).
"""

from datetime import time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services
from linli.voice.models import CarrierKind, Line, OutageReason, default_retry_rules
from linli.voice.services import lines as line_services
from linli.voice.services import robots as robot_services

pytestmark = pytest.mark.browser


def phone_campaign(world):
    questionnaire = questionnaire_services.create_questionnaire(
        name="每日健康监测", area=world.a.community, by=world.lead_a, from_template="daily_symptoms"
    )
    campaign = campaign_services.create_campaign(
        name="每日健康监测",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
        area=world.a.community,
        by=world.lead_a,
        channels=["phone", "door_knock"],
    )
    campaign_services.launch_campaign(campaign=campaign, by=world.lead_a)
    return campaign


def hours_excluding_now() -> tuple[time, time, str]:
    """Calling hours that do not hold the present local time, and the reason the page gives."""
    now = timezone.localtime()
    if now.hour < 22:
        start = time(now.hour + 1)
        return start, time(now.hour + 1, 30), f"不在外呼时段，{start:%H:%M} 开始"
    return time(0), time(0, 30), "不在外呼时段，明天 00:00 开始"


def test_robot_says_it_never_started_and_why_it_does_not_call(story, screenshot):
    world = story.world
    campaign = phone_campaign(world)
    # The line `manage.py dialer --simulated` makes for a demo.
    Line.objects.create(name="simulated", carrier=CarrierKind.SIMULATED)
    start, end, reason = hours_excluding_now()
    robot_services.robot_of(campaign)
    robot_services.configure_robot(
        campaign=campaign,
        by=world.lead_a,
        calling_start=start,
        calling_end=end,
        retry_rules=default_retry_rules(),
    )

    page = story.log_in(world.lead_a, mobile=True)
    page.goto(f"/voice/campaigns/{campaign.pk}/")
    status = page.get_by_test_id("robot-status")
    expect(status).to_have_text("未开始")
    expect(page.get_by_test_id("robot-reason")).to_have_count(0)
    lines = page.get_by_test_id("robot-lines")
    expect(lines).to_contain_text("模拟线路")
    expect(lines).not_to_contain_text("simulated")

    page.get_by_test_id("robot-start").click()
    expect(status).not_to_have_text("外呼中")
    expect(status).to_have_text("等待外呼时段")
    expect(page.get_by_test_id("robot-reason")).to_have_text(reason + "。")
    # The lead is not told "the robot is calling" when it cannot call yet.
    expect(page.locator(".messages").first).to_contain_text("机器人已启动。" + reason)
    expect(page.locator(".messages").first).not_to_contain_text("机器人已开始外呼")
    screenshot(page, "front-line-robot.png")

    page.get_by_test_id("robot-pause").click()
    expect(status).to_have_text("已暂停")
    story.assert_no_problems()


def test_robot_page_says_why_a_line_stopped_dialling(story, screenshot):
    """Issue 14, item 4: a trunk outage is told on the robot page in Chinese, with when the line
    tries again and that residents' retries are not used."""
    world = story.world
    campaign = phone_campaign(world)
    line = Line.objects.create(
        name="电信中继1", carrier=CarrierKind.SIP, settings={"host": "127.0.0.1"}
    )
    robot_services.robot_of(campaign)
    robot_services.configure_robot(
        campaign=campaign,
        by=world.lead_a,
        calling_start=time(0),
        calling_end=time(23, 59),
        retry_rules=default_retry_rules(),
        line=line,
    )
    robot_services.start_robot(campaign=campaign, by=world.lead_a)
    now = timezone.now()
    line_services.report_line_outage(
        line_id=line.pk,
        reason=OutageReason.SERVER_ERROR,
        failures=5,
        until=now + timedelta(minutes=2),
        dialer="dialer-1",
        now=now,
    )

    page = story.log_in(world.lead_a, mobile=True)
    page.goto(f"/voice/campaigns/{campaign.pk}/")
    notice = page.get_by_test_id("line-outage")
    expect(notice).to_contain_text("线路“电信中继1”")
    expect(notice).to_contain_text("暂停拨号")
    expect(notice).to_contain_text("运营商对呼叫返回服务器错误")
    expect(notice).to_contain_text("连续 5 次呼叫失败")
    expect(notice).to_contain_text("不占用居民的重拨次数")
    expect(notice).not_to_contain_text("server_error")
    screenshot(page, "front-line-robot-line-outage.png")
    story.assert_no_problems()
