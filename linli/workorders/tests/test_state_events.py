"""State-change webhooks: every transition of an order sends one signed event to each
subscriber after the commit; a rolled-back transition sends none; a failed post is retried."""

import json
import time

import pytest
from django.db import transaction

from linli.adapters import webhooks
from linli.workorders.models import DeliveryStatus, StateEvent, WorkOrderState
from linli.workorders.services import escalation, orders, state_events
from linli.workorders.tests.builders import raised

pytestmark = pytest.mark.django_db
SECRET = "s3cret-for-tests"


@pytest.fixture
def subscribed(settings):
    settings.LINLI_WORKORDER_WEBHOOKS = {
        "12345": {"url": "https://hotline.example/linli", "secret": SECRET}
    }
    settings.LINLI_WORKORDER_WEBHOOK_BACKEND = "linli.adapters.webhooks.locmem.LocmemBackend"
    webhooks.outbox.clear()
    webhooks.posts.clear()
    yield
    webhooks.outbox.clear()
    webhooks.posts.clear()


def events() -> list[dict]:
    return [json.loads(post.body)["data"] for post in webhooks.posts]


def test_every_transition_sends_one_signed_event(
    world, subscribed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = raised(world, external_source="12345", external_reference="BJ-1")
    with django_capture_on_commit_callbacks(execute=True):
        orders.dispatch_work_order(order=order, by=world.lead_a, assignee=world.grid_a)
    for verb in ("accept", "start"):
        with django_capture_on_commit_callbacks(execute=True):
            getattr(orders, f"{verb}_work_order")(order=order, by=world.grid_a)
    with django_capture_on_commit_callbacks(execute=True):
        orders.finish_work_order(order=order, by=world.grid_a, note="已送达")
    with django_capture_on_commit_callbacks(execute=True):
        orders.confirm_work_order(order=order, satisfied=True, rating=5)

    moves = [(e["from"], e["to"]) for e in events()]
    assert moves == [
        (None, WorkOrderState.NEW),
        (WorkOrderState.NEW, WorkOrderState.DISPATCHED),
        (WorkOrderState.DISPATCHED, WorkOrderState.ACCEPTED),
        (WorkOrderState.ACCEPTED, WorkOrderState.IN_PROGRESS),
        (WorkOrderState.IN_PROGRESS, WorkOrderState.DONE),
        (WorkOrderState.DONE, WorkOrderState.CONFIRMED),
    ]
    for post, event in zip(webhooks.posts, events(), strict=True):
        assert post.url == "https://hotline.example/linli"
        assert webhooks.verify_signature(
            secret=SECRET,
            timestamp=post.headers["X-Linli-Timestamp"],
            body=post.body,
            signature=post.headers["X-Linli-Signature"],
            now=time.time(),
        )
        assert event["order"] == order.pk and event["external_reference"] == "BJ-1"
        assert event["via"] and event["at"]
    # Nothing personal: no name, phone, description or note in any body.
    everything = b"".join(post.body for post in webhooks.posts).decode()
    for personal in ("张三丰", "13812345678", "需要送药", "已送达"):
        assert personal not in everything
    assert set(StateEvent.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_a_rolled_back_transition_sends_nothing(
    world, subscribed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = raised(world)
    webhooks.posts.clear()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        orders.dispatch_work_order(order=order, by=world.lead_a, assignee=world.grid_a)
        raise RuntimeError("the page failed after the dispatch")
    assert webhooks.posts == []
    assert callbacks == []
    assert StateEvent.objects.filter(transition__to_state=WorkOrderState.DISPATCHED).count() == 0


def test_a_refused_post_is_retried_by_the_sweep(world, subscribed, settings, monkeypatch):
    calls = {"n": 0}
    real = webhooks.locmem.LocmemBackend.send_messages

    def flaky(self, messages):
        calls["n"] += 1
        if calls["n"] == 1:
            return [
                webhooks.WebhookResult(m.reference, accepted=False, error="503") for m in messages
            ]
        return real(self, messages)

    monkeypatch.setattr(webhooks.locmem.LocmemBackend, "send_messages", flaky)
    raised(world)
    assert state_events.deliver_state_events() == (0, 0)
    event = StateEvent.objects.get()
    assert event.status == DeliveryStatus.PENDING and event.attempts == 1
    escalation.sweep_escalations()
    event.refresh_from_db()
    assert event.status == DeliveryStatus.SENT and event.attempts == 2
    # (The sweep's own group-robot notices go to the staff webhook, with no URL here.)
    assert len([p for p in webhooks.posts if p.url == "https://hotline.example/linli"]) == 1


def test_a_subscriber_with_sources_hears_only_its_own_orders(world, subscribed, settings):
    settings.LINLI_WORKORDER_WEBHOOKS = {
        "12345": {"url": "https://hotline.example/linli", "secret": SECRET, "sources": ["12345"]}
    }
    raised(world, category="a")
    raised(world, category="b", external_source="12345", external_reference="BJ-2")
    assert list(
        StateEvent.objects.values_list("transition__order__external_reference", flat=True)
    ) == ["BJ-2"]
