"""Escalation until acknowledged, on a virtual clock: the ladder step by step, repeats,
acknowledgement, a sweeper killed mid-sweep or between steps, constant queries per sweep."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from linli.accounts.models import User
from linli.adapters import sms, webhooks
from linli.core.roles import Role
from linli.demo import factories as f
from linli.workorders.models import (
    EscalationNotice,
    NoticeDelivery,
    Notification,
    Priority,
    WorkOrder,
)
from linli.workorders.services import escalation, orders
from linli.workorders.tests.builders import dispatched, raised

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)


@pytest.fixture
def ladder(world, settings):
    """World plus a district officer, and work phones for everyone the P0 ladder reaches."""
    world.district_officer = f.make_staff(
        username="district", role=Role.DISTRICT_OFFICER, areas=[world.district]
    )
    for i, user in enumerate(
        (world.grid_a, world.lead_a, world.street_officer, world.district_officer)
    ):
        User.objects.filter(pk=user.pk).update(work_phone=f"1391234000{i}")
        user.refresh_from_db()
    settings.LINLI_SMS_BACKEND = "linli.adapters.sms.locmem.LocmemBackend"
    settings.LINLI_WEBHOOK_BACKEND = "linli.adapters.webhooks.locmem.LocmemBackend"
    webhooks.outbox.clear()
    yield world
    webhooks.outbox.clear()


def sent(order) -> list[tuple[int, int, str]]:
    return list(
        EscalationNotice.objects.filter(order=order)
        .order_by("step", "repeat")
        .values_list("step", "repeat", "rung")
    )


def bell(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def test_p0_climbs_the_ladder_on_time(ladder):
    """P0 dispatched at t0: the assignee at once, the community lead at 5 min, the street
    officer at 15, the district at 30; each through the bell, SMS and the group webhook, and
    a step not acknowledged repeats every 5 minutes."""
    world, t0 = ladder, timezone.now()
    order = dispatched(world, priority=Priority.P0, now=t0)
    escalation.sweep_escalations(now=t0)
    assert sent(order) == [(0, 0, "assignee")]
    assert bell(world.grid_a) == 1 and [m.to for m in sms.outbox] == ["13912340000"]
    assert len(webhooks.outbox) == 1 and f"#{order.pk}" in webhooks.outbox[0].text
    escalation.sweep_escalations(now=t0 + 4 * MIN)
    assert len(sent(order)) == 1  # nothing new before 5 min
    escalation.sweep_escalations(now=t0 + 5 * MIN)
    assert sent(order) == [(0, 0, "assignee"), (0, 1, "assignee"), (1, 0, "community_lead")]
    assert bell(world.lead_a) == 1
    escalation.sweep_escalations(now=t0 + 15 * MIN)
    escalation.sweep_escalations(now=t0 + 30 * MIN)
    steps = {(step, rung) for step, _repeat, rung in sent(order)}
    assert steps == {
        (0, "assignee"),
        (1, "community_lead"),
        (2, "street_officer"),
        (3, "district_officer"),
    }
    assert bell(world.street_officer) >= 1 and bell(world.district_officer) == 1
    late = EscalationNotice.objects.filter(order=order, step=3).get()
    assert late.sent_at - late.due_at == timedelta(0)


def test_acknowledging_stops_the_ladder_not_the_clock(ladder):
    """Once the community lead acknowledges, nothing more is sent in this cycle; the accept
    deadline is unchanged and the order is still waiting to be accepted."""
    world, t0 = ladder, timezone.now()
    order = dispatched(world, priority=Priority.P0, now=t0)
    escalation.sweep_escalations(now=t0 + 5 * MIN)
    before = EscalationNotice.objects.count()
    orders.acknowledge_work_order(order=order, by=world.lead_a, now=t0 + 6 * MIN)
    escalation.sweep_escalations(now=t0 + 60 * MIN)
    assert EscalationNotice.objects.count() == before
    order.refresh_from_db()
    assert order.state == "dispatched" and order.accept_by == t0 + 10 * MIN
    assert order.acknowledged_by == world.lead_a


def test_someone_not_notified_may_not_acknowledge(ladder):
    from django.core.exceptions import PermissionDenied

    world, t0 = ladder, timezone.now()
    order = dispatched(world, priority=Priority.P0, now=t0)
    escalation.sweep_escalations(now=t0)
    with pytest.raises(PermissionDenied):
        orders.acknowledge_work_order(order=order, by=world.volunteer_a)
    orders.acknowledge_work_order(order=order, by=world.grid_a)


def test_accepting_stops_the_ladder(ladder):
    world, t0 = ladder, timezone.now()
    order = dispatched(world, priority=Priority.P0, now=t0)
    escalation.sweep_escalations(now=t0)
    orders.accept_work_order(order=order, by=world.grid_a, now=t0 + MIN)
    escalation.sweep_escalations(now=t0 + 40 * MIN)
    assert sent(order) == [(0, 0, "assignee")]


def test_an_order_nobody_dispatched_goes_to_the_grid_workers_first(ladder):
    world, t0 = ladder, timezone.now()
    order = raised(world, priority=Priority.P0, now=t0)
    escalation.sweep_escalations(now=t0)
    notice = EscalationNotice.objects.get(order=order)
    assert notice.recipients == [world.grid_a.pk]


def test_a_sweeper_down_for_40_minutes_skips_no_step(ladder):
    """The first sweep after an outage sends every step that fell due, each once."""
    world, t0 = ladder, timezone.now()
    order = dispatched(world, priority=Priority.P0, now=t0)
    escalation.sweep_escalations(now=t0 + 40 * MIN)
    assert {(s, r) for s, r, _ in sent(order) if r == 0} == {(0, 0), (1, 0), (2, 0), (3, 0)}
    count = EscalationNotice.objects.count()
    escalation.sweep_escalations(now=t0 + 40 * MIN)
    assert EscalationNotice.objects.count() == count


class Killed(Exception):
    pass


def test_a_sweeper_killed_mid_sweep_neither_skips_nor_doubles(ladder, monkeypatch):
    """The worker dies after inserting the notices but before committing: nothing of that
    sweep stays. The restarted sweep sends the step once; a third sends nothing."""
    world, t0 = ladder, timezone.now()
    order = dispatched(world, priority=Priority.P0, now=t0)
    escalation.sweep_escalations(now=t0)

    def die(*args, **kwargs):
        raise Killed  # the notices of this sweep are inserted, the bell is not yet

    with monkeypatch.context() as patched:
        patched.setattr(escalation, "insert_tuples", die)
        with pytest.raises(Killed):
            escalation.sweep_escalations(now=t0 + 5 * MIN)
    assert sent(order) == [(0, 0, "assignee")]
    escalation.sweep_escalations(now=t0 + 5 * MIN + 20 * timedelta(seconds=1))
    assert sent(order) == [(0, 0, "assignee"), (0, 1, "assignee"), (1, 0, "community_lead")]
    escalation.sweep_escalations(now=t0 + 6 * MIN)
    assert len(sent(order)) == 3
    assert bell(world.lead_a) == 1
    assert [m.to for m in sms.outbox].count("13912340001") == 1


def test_a_sweeper_killed_between_steps_sends_each_delivery_once(ladder):
    """The sweep commits its notices, then the worker dies before sending: the next sweep
    sends those deliveries (and only those) exactly once."""
    world, t0 = ladder, timezone.now()
    order = dispatched(world, priority=Priority.P0, now=t0)
    escalation.sweep_escalations(now=t0, deliver=False)  # killed before delivering
    assert sms.outbox == [] and NoticeDelivery.objects.filter(status="pending").count() == 2
    escalation.sweep_escalations(now=t0 + 30 * timedelta(seconds=1))
    assert [m.to for m in sms.outbox] == ["13912340000"]
    assert len(webhooks.outbox) == 1
    escalation.sweep_escalations(now=t0 + MIN)
    assert len(sms.outbox) == 1
    assert not NoticeDelivery.objects.filter(status="pending").exists()
    assert sent(order) == [(0, 0, "assignee")]


def test_a_sweep_costs_the_same_queries_for_1_or_20_due_orders(ladder):
    """The sweep's queries do not grow with the orders due (no query per order)."""
    world, t0 = ladder, timezone.now()

    def measure(n: int) -> int:
        WorkOrder.objects.all().delete()
        for i in range(n):
            dispatched(world, priority=Priority.P0, now=t0, category=f"c{i}")
        with CaptureQueriesContext(connection) as queries:
            result = escalation.sweep_escalations(now=t0 + 31 * MIN, deliver=False)
        assert result.orders == n
        sql = [q["sql"] for q in queries.captured_queries]
        if connection.vendor == "sqlite":
            # SQLite caps the parameters of one statement, so Django splits a long bulk
            # INSERT in chunks: a fixed number of rows per statement, not one per order.
            sql = [q for q in sql if not q.startswith("INSERT")]
        return len(sql)

    many, few = measure(20), measure(1)
    assert many == few


def test_due_steps_collapses_missed_repeats():
    plan = {"steps": [[0, "assignee"], [5, "community_lead"]], "repeat": 5}
    t0 = timezone.now()
    due, upcoming = escalation.due_steps(plan, t0, t0 + 22 * MIN)
    assert [(d.step, d.repeat) for d in due] == [(0, 0), (0, 4), (1, 0), (1, 3)]
    assert upcoming == t0 + 25 * MIN


def test_the_escalate_command_runs_one_sweep(ladder):
    from io import StringIO

    from django.core.management import call_command

    order = dispatched(ladder, priority=Priority.P0)
    out = StringIO()
    call_command("escalate", stdout=out)
    assert sent(order) == [(0, 0, "assignee")]
    assert "1" in out.getvalue()


def test_an_accepted_order_not_done_in_time_climbs_the_ladder_again(ladder):
    """Accepted in time but not done by its done deadline (P0: 2 h): the assignee is
    reminded at the deadline, the community lead 5 minutes later (督办); the lead's
    acknowledgement stops it; finishing the order would have stopped it too."""
    world, t0 = ladder, timezone.now()
    order = dispatched(world, priority=Priority.P0, now=t0)
    escalation.sweep_escalations(now=t0)
    order = orders.accept_work_order(order=order, by=world.grid_a, now=t0 + MIN)
    from linli.core.errors import BilingualError

    with pytest.raises(BilingualError) as early:
        orders.acknowledge_work_order(order=order, by=world.lead_a, now=t0 + 2 * MIN)
    assert early.value.code == "not_escalated"
    escalation.sweep_escalations(now=t0 + 119 * MIN)
    assert len(sent(order)) == 1
    escalation.sweep_escalations(now=t0 + 125 * MIN)
    overdue = list(
        EscalationNotice.objects.filter(order=order, cycle=order.cycle)
        .order_by("step", "repeat")
        .values_list("step", "repeat", "rung")
    )
    assert overdue == [(0, 0, "assignee"), (0, 1, "assignee"), (1, 0, "community_lead")]
    assert "办结时限" in sms.outbox[-1].text
    orders.acknowledge_work_order(order=order, by=world.lead_a, now=t0 + 126 * MIN)
    escalation.sweep_escalations(now=t0 + 200 * MIN)
    assert EscalationNotice.objects.filter(order=order, cycle=order.cycle).count() == 3


def test_the_sweep_runs_as_a_background_task(ladder):
    from linli.workorders.tasks import sweep_escalations_task

    order = dispatched(ladder, priority=Priority.P0)
    result = sweep_escalations_task.enqueue()
    assert result.return_value == 1
    assert sent(order) == [(0, 0, "assignee")]
