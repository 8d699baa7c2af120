"""A work order on two phones (issue 15, the engine's pages).

An urgent order for 王建国 (elderly, living alone) is dispatched to the grid worker, who does
not answer. Five minutes later the ladder reaches the community lead: her bell shows it, the
order is on top of her list, and she acknowledges it from its page. The grid worker then
accepts it, is on the way, and finishes it with a note; the timeline shows every step.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from linli.workorders.models import Priority, WorkOrder, WorkOrderState
from linli.workorders.services import escalation
from linli.workorders.services import orders as order_services

pytestmark = pytest.mark.browser


def test_escalated_order_acknowledged_then_done(story, screenshot, settings):
    settings.LINLI_WEBHOOK_BACKEND = "linli.adapters.webhooks.locmem.LocmemBackend"
    world = story.world
    t0 = timezone.now() - timedelta(minutes=6)
    order = order_services.raise_work_order(
        kind="general",
        area=world.a.grid,
        by=world.lead_a,
        person=story.neighbours["王建国"],
        priority=Priority.P0,
        priority_reason="独居老人，胸闷",
        text="老人说胸口发闷，需要陪同就医",
        now=t0,
    )
    order_services.dispatch_work_order(order=order, by=world.lead_a, assignee=world.grid_a, now=t0)
    escalation.sweep_escalations(now=timezone.now())

    lead = story.log_in(world.lead_a, mobile=True)
    expect(lead.get_by_test_id("nav-count")).to_have_text("1")
    lead.get_by_role("link", name="工单", exact=True).click()
    escalated = lead.get_by_test_id("escalated")
    expect(escalated).to_contain_text(f"#{order.pk}")
    screenshot(lead, "work-orders-escalated.png")
    escalated.get_by_role("link", name=f"#{order.pk}").click()
    expect(lead.get_by_test_id("order-text")).to_contain_text("胸口发闷")
    lead.get_by_test_id("acknowledge").click()
    expect(lead.get_by_test_id("timeline")).to_contain_text("确认收到工单督办")
    expect(lead.get_by_test_id("acknowledge")).to_have_count(0)

    worker = story.log_in(world.grid_a, mobile=True)
    worker.get_by_role("link", name="工单", exact=True).click()
    worker.get_by_role("link", name=f"#{order.pk}").first.click()
    worker.get_by_test_id("accept").click()
    expect(worker.get_by_test_id("order-state")).to_have_text("已接单")
    worker.get_by_test_id("start").click()
    worker.fill("input[name=note]", "已陪同到社区医院，医生检查无大碍")
    worker.get_by_test_id("done").click()
    expect(worker.get_by_test_id("order-state")).to_have_text("已办结")
    timeline = worker.get_by_test_id("timeline")
    for step in ("创建了工单", "派发了工单", "已通知", "再次提醒", "接收了工单", "办结了工单"):
        expect(timeline).to_contain_text(step)
    screenshot(worker, "work-order-detail.png")
    assert WorkOrder.objects.get(pk=order.pk).state == WorkOrderState.DONE
    story.assert_no_problems()
