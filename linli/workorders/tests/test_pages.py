"""The work-order pages: lists by deadline, the detail with its timeline and buttons, the
bell in the navigation, scoping and masking."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from linli.workorders.models import Priority, WorkOrder, WorkOrderState
from linli.workorders.services import escalation, orders
from linli.workorders.tests.builders import dispatched, raised

pytestmark = pytest.mark.django_db


def test_my_list_is_by_deadline(world, client):
    """The grid worker's list shows their open orders, the nearest deadline first."""
    now = timezone.now()
    later = dispatched(world, priority=Priority.P2, now=now, category="a")
    sooner = dispatched(world, priority=Priority.P0, now=now, category="b")
    client.force_login(world.grid_a)
    body = client.get(reverse("workorders:mine")).content.decode()
    assert body.index(f"#{sooner.pk} ") < body.index(f"#{later.pk} ")
    assert len(body.encode()) < 100_000


def test_accept_start_done_from_the_detail_page(world, client):
    order = dispatched(world)
    client.force_login(world.grid_a)
    url = reverse("workorders:detail", args=[order.pk])
    assert 'data-testid="accept"' in client.get(url).content.decode()
    client.post(reverse("workorders:action", args=[order.pk, "accept"]))
    client.post(reverse("workorders:action", args=[order.pk, "start"]))
    response = client.post(reverse("workorders:action", args=[order.pk, "done"]), {"note": ""})
    assert WorkOrder.objects.get(pk=order.pk).state == WorkOrderState.IN_PROGRESS  # note needed
    client.post(reverse("workorders:action", args=[order.pk, "done"]), {"note": "已送达"})
    assert WorkOrder.objects.get(pk=order.pk).state == WorkOrderState.DONE
    body = client.get(url).content.decode()
    assert body.count("<li><time>") == 5  # raised, dispatched, accepted, started, done
    assert response.status_code == 302


def test_taken_order_says_so(world, client):
    order = orders.dispatch_work_order(
        order=raised(world), by=world.lead_a, queue_area=world.a.grid
    )
    orders.accept_work_order(order=order, by=world.volunteer_a)
    client.force_login(world.grid_a)
    response = client.post(reverse("workorders:action", args=[order.pk, "accept"]), follow=True)
    body = response.content.decode()
    assert "已" in body and "taken" not in body


def test_escalated_lead_sees_the_bell_and_acknowledges(world, client):
    """The lead, notified by the ladder, sees the bell's count and the order on top of their
    list, and acknowledges it from its page; the timeline shows the escalation."""
    t0 = timezone.now() - timedelta(minutes=6)
    order = dispatched(world, priority=Priority.P0, now=t0)
    escalation.sweep_escalations(now=timezone.now())
    client.force_login(world.lead_a)
    body = client.get(reverse("workorders:mine")).content.decode()
    assert 'data-testid="nav-count">1<' in body
    assert 'data-testid="escalated"' in body and f"#{order.pk} " in body
    detail = client.get(reverse("workorders:detail", args=[order.pk])).content.decode()
    assert 'data-testid="acknowledge"' in detail
    client.post(reverse("workorders:action", args=[order.pk, "acknowledge"]))
    order.refresh_from_db()
    assert order.acknowledged_by == world.lead_a
    client.post(reverse("workorders:notifications"))
    body = client.get(reverse("workorders:mine")).content.decode()
    assert 'data-testid="nav-count"' not in body and 'data-testid="escalated"' not in body


def test_outsiders_and_volunteers_see_only_theirs(world, client):
    """Community B's grid worker gets 404; a volunteer of A sees an order assigned to them
    (with its text) but not one assigned to someone else."""
    theirs = dispatched(world, to=world.volunteer_a, category="x")
    other = dispatched(world, to=world.grid_a, category="y")
    client.force_login(world.grid_b)
    assert client.get(reverse("workorders:detail", args=[theirs.pk])).status_code == 404
    client.force_login(world.volunteer_a)
    body = client.get(reverse("workorders:detail", args=[theirs.pk])).content.decode()
    assert "需要送药" in body
    assert client.get(reverse("workorders:detail", args=[other.pk])).status_code == 404
    assert client.post(reverse("workorders:action", args=[other.pk, "accept"])).status_code == 404


def test_street_officer_sees_the_text_but_the_name_masked(world, client):
    order = dispatched(world)
    client.force_login(world.street_officer)
    body = client.get(reverse("workorders:detail", args=[order.pk])).content.decode()
    assert "张三丰" not in body and "需要送药" in body
