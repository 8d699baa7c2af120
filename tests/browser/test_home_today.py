"""The lead's home at the start of the day (issue 15, "home becomes today").

An urgent order for 王建国 was dispatched to the grid worker, who has not accepted it; a
grocery order waits in the community's queue. With the clock 11 minutes on, the lead's phone
shows the red P0 queue on top and the four figures; tapping "overdue" opens the list of
exactly that order, and "new in my areas" the waiting one.
"""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from linli.core import clock
from linli.workorders.models import Priority
from linli.workorders.services import escalation
from linli.workorders.services import orders as order_services

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _real_clock_after():
    yield
    clock.reset()


def test_lead_starts_the_day_from_the_home(story, screenshot, settings):
    settings.LINLI_WEBHOOK_BACKEND = "linli.adapters.webhooks.locmem.LocmemBackend"
    world = story.world
    t0 = clock.now()
    urgent = order_services.raise_work_order(
        kind="general",
        area=world.a.grid,
        by=world.lead_a,
        person=story.neighbours["王建国"],
        priority=Priority.P0,
        priority_reason="独居老人，胸闷",
        text="老人说胸口发闷，需要陪同就医",
        now=t0,
    )
    order_services.dispatch_work_order(order=urgent, by=world.lead_a, assignee=world.grid_a, now=t0)
    waiting = order_services.raise_work_order(
        kind="general",
        area=world.a.grid,
        by=world.grid_a,
        priority=Priority.P2,
        text="需要代买米面",
        now=t0,
    )
    clock.advance(timedelta(minutes=11))
    escalation.sweep_escalations(now=clock.now())

    lead = story.log_in(world.lead_a, mobile=True)
    p0 = lead.get_by_test_id("p0-queue")
    expect(p0).to_contain_text(f"#{urgent.pk}")
    expect(p0).to_contain_text("1 个 P0 紧急工单未办结")
    expect(lead.get_by_test_id("today-overdue")).to_contain_text("1")
    expect(lead.get_by_test_id("today-escalated")).to_contain_text("1")
    expect(lead.get_by_test_id("today-new")).to_contain_text("1")
    screenshot(lead, "home-today.png")

    lead.get_by_test_id("today-overdue").click()
    expect(lead.get_by_test_id("due-filter")).to_contain_text("已超时")
    expect(lead.get_by_test_id("order-row")).to_have_count(1)
    expect(lead.get_by_test_id("order-row")).to_contain_text(f"#{urgent.pk}")
    lead.go_back()
    lead.get_by_test_id("today-new").click()
    expect(lead.get_by_test_id("order-row")).to_have_count(1)
    expect(lead.get_by_test_id("order-row")).to_contain_text(f"#{waiting.pk}")
    story.assert_no_problems()
