"""The home as "today": four work-order figures per role on a virtual clock, each opening
the list it counts, and a lead's red P0 queue; community B's orders never reach A."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from linli.core import clock
from linli.workorders import selectors
from linli.workorders.models import Priority
from linli.workorders.services import escalation, orders
from linli.workorders.tests.builders import dispatched, raised

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _real_clock_after():
    yield
    clock.reset()


@pytest.fixture
def day(world):
    """At t0: a P0 dispatched to grid_a, a P2 nobody took, a P1 dispatched to the volunteer,
    and a P0 in community B; then 11 minutes pass and the ladder runs."""
    t0 = clock.now()
    urgent = dispatched(world, priority=Priority.P0, now=t0, category="a")
    waiting = raised(world, priority=Priority.P2, now=t0, category="b")
    volunteer = dispatched(world, to=world.volunteer_a, priority=Priority.P1, now=t0, category="c")
    other = orders.raise_work_order(
        kind="general",
        area=world.b.grid,
        person=world.resident_b,
        by=world.grid_b,
        priority=Priority.P0,
        text="透析",
        category="",
        now=t0,
    )
    clock.advance(timedelta(minutes=11))
    escalation.sweep_escalations(now=clock.now())
    return {"urgent": urgent, "waiting": waiting, "volunteer": volunteer, "other": other}


def _counts(user) -> tuple[int, int, int, int]:
    today = selectors.today_counts(user)
    return today.overdue, today.hour, today.escalated, today.new


def test_counts_per_role(world, day):
    """The P0's accept deadline (10 min) has passed; the P1's (1 h) falls within the hour;
    the lead was reached by the P0's 5-minute step; the P2 is new in A's queue."""
    assert _counts(world.lead_a) == (1, 1, 1, 1)
    # The grid worker was the first step of both the P0 and the queued P2.
    assert _counts(world.grid_a) == (1, 1, 2, 1)
    # The volunteer: their own P1 (due within the hour, its first step reached them) and A's
    # queue they may take from; the grid worker's overdue P0 is not theirs.
    assert _counts(world.volunteer_a) == (0, 1, 1, 1)
    # The street officer sees both communities.
    assert _counts(world.street_officer)[0] == 2
    assert _counts(world.street_officer)[3] == 2


def test_community_b_never_counted_for_a(world, day):
    assert _counts(world.grid_b) == (1, 0, 1, 1)
    assert [row.id for row in selectors.p0_queue(world.lead_a)] == [day["urgent"].pk]
    assert {row.id for row in selectors.p0_queue(world.street_officer)} == {
        day["urgent"].pk,
        day["other"].pk,
    }
    assert selectors.p0_queue(world.grid_a) == []


def test_counts_are_one_query(world, day):
    selectors.today_counts(world.street_officer)  # the user's area paths, cached on the user
    with CaptureQueriesContext(connection) as queries:
        selectors.today_counts(world.street_officer)
    assert len(queries) == 1


def test_done_orders_leave_the_figures(world, day):
    order = day["urgent"]
    orders.accept_work_order(order=order, by=world.grid_a, now=clock.now())
    order.refresh_from_db()
    orders.start_work_order(order=order, by=world.grid_a, now=clock.now())
    order.refresh_from_db()
    orders.finish_work_order(order=order, by=world.grid_a, note="已送达", now=clock.now())
    assert _counts(world.lead_a) == (0, 1, 0, 1)


def test_home_shows_figures_and_p0_queue(world, day, client_for):
    body = client_for(world.lead_a).get(reverse("reports:home")).content.decode()
    assert 'data-testid="today-overdue"' in body and "?due=overdue" in body
    assert "已超时" in body and "Overdue" not in body
    queue = body[body.index('data-testid="p0-queue"') : body.index('data-testid="today"')]
    assert f"#{day['urgent'].pk} " in queue
    assert f"#{day['other'].pk} " not in body
    assert "1 个 P0 紧急工单未办结" in body and "order open" not in body
    grid_body = client_for(world.grid_a).get(reverse("reports:home")).content.decode()
    assert 'data-testid="today"' in grid_body and 'data-testid="p0-queue"' not in grid_body


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        ("overdue", {"urgent"}),
        ("hour", {"volunteer"}),
        ("escalated", {"urgent"}),
        ("new", {"waiting"}),
    ],
)
def test_links_filter_the_list(world, day, client_for, due, expected):
    body = client_for(world.lead_a).get(reverse("workorders:mine"), {"due": due}).content.decode()
    assert 'data-testid="due-filter"' in body
    for name, order in day.items():
        assert (f"#{order.pk} " in body) == (name in expected), name


def test_volunteer_list_is_their_own(world, day, client_for):
    body = (
        client_for(world.volunteer_a)
        .get(reverse("workorders:mine"), {"due": "hour"})
        .content.decode()
    )
    assert f"#{day['volunteer'].pk} " in body
    body = (
        client_for(world.volunteer_a)
        .get(reverse("workorders:mine"), {"due": "overdue"})
        .content.decode()
    )
    assert f"#{day['urgent'].pk} " not in body


def _queries(client, url: str, params: dict | None = None) -> tuple[int, int]:
    client.get(url, params)  # warms caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries), response.content.decode().count('data-testid="order-row"')


@pytest.mark.parametrize("due", [*selectors.TODAY_FILTERS, None])
def test_twenty_orders_cost_no_more_queries_than_one(world, client, due):
    """The home (with its P0 queue) and each figure's list: no query per order."""
    url = reverse("workorders:mine") if due else reverse("reports:home")
    params = {"due": due} if due else None

    def measure(n: int) -> tuple[int, int]:
        from django.db import transaction

        with transaction.atomic():
            t0 = clock.now() - timedelta(minutes=11)
            for i in range(n):
                priority = Priority.P1 if i % 3 == 2 else Priority.P0
                order = raised(world, priority=priority, now=t0, category=f"c{i}")
                if i % 2:
                    orders.dispatch_work_order(
                        order=order, by=world.lead_a, assignee=world.grid_a, now=t0
                    )
            escalation.sweep_escalations(now=clock.now())
            client.force_login(world.lead_a)
            count = _queries(client, url, params)
            transaction.set_rollback(True)
        return count

    (few, few_rows), (many, many_rows) = measure(3), measure(20)
    assert many_rows > few_rows, "the seeded orders are not on the page"
    assert many <= few
