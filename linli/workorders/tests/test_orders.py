"""The work order's state machine, deadlines from per-area service levels, duplicates."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from linli.audit.models import AuditEvent
from linli.core.errors import BilingualError
from linli.workorders.models import (
    Priority,
    RaisedVia,
    WorkOrder,
    WorkOrderAction,
    WorkOrderState,
    WorkOrderTransition,
)
from linli.workorders.services import orders
from linli.workorders.services.orders import TRANSITIONS
from linli.workorders.services.service_levels import level_for, set_service_level
from linli.workorders.tests.builders import dispatched, raised

S = WorkOrderState
pytestmark = pytest.mark.django_db


def states(order) -> list[tuple[str, str]]:
    return list(
        WorkOrderTransition.objects.filter(order=order).values_list("from_state", "to_state")
    )


def test_the_whole_life_of_an_order(world):
    """raise → dispatch → accept → start → done → confirm, each transition logged (who,
    through what, from → to) and audited."""
    now = timezone.now()
    order = raised(world, now=now)
    assert order.state == S.NEW and order.cycle == 1
    order = orders.dispatch_work_order(order=order, by=world.lead_a, assignee=world.grid_a)
    order = orders.accept_work_order(order=order, by=world.grid_a)
    assert order.next_escalation_at == order.done_by  # the ladder waits for the deadline
    order = orders.start_work_order(order=order, by=world.grid_a)
    order = orders.finish_work_order(order=order, by=world.grid_a, note="药已送到")
    assert order.next_escalation_at is None
    order = orders.confirm_work_order(order=order, satisfied=True, rating=5, by=None)
    order.refresh_from_db()
    assert (order.state, order.rating, order.satisfied) == (S.CONFIRMED, 5, True)
    assert states(order) == [
        ("", S.NEW),
        (S.NEW, S.DISPATCHED),
        (S.DISPATCHED, S.ACCEPTED),
        (S.ACCEPTED, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.DONE),
        (S.DONE, S.CONFIRMED),
    ]
    log = WorkOrderTransition.objects.filter(order=order)
    assert [t.by_id for t in log] == [
        world.grid_a.pk,
        world.lead_a.pk,
        world.grid_a.pk,
        world.grid_a.pk,
        world.grid_a.pk,
        None,
    ]
    assert log.last().via == RaisedVia.H5
    actions = set(
        AuditEvent.objects.filter(object_type="work_order", object_id=str(order.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions >= {
        WorkOrderAction.RAISE,
        WorkOrderAction.DISPATCH,
        WorkOrderAction.ACCEPT,
        WorkOrderAction.START,
        WorkOrderAction.DONE,
        WorkOrderAction.CONFIRM,
    }


@pytest.mark.parametrize("verb", sorted(TRANSITIONS))
def test_every_state_outside_the_table_is_refused(world, verb):
    """Each verb is refused, with a clear error and nothing changed, from every state its
    row in the table does not allow."""
    allowed = TRANSITIONS[verb].allowed_from
    for state in set(S.values) - allowed:
        order = raised(world)
        WorkOrder.objects.filter(pk=order.pk).update(state=state, assignee=world.grid_a)
        order.refresh_from_db()
        calls = {
            "dispatch": lambda o: orders.dispatch_work_order(
                order=o, by=world.lead_a, assignee=world.grid_a
            ),
            "accept": lambda o: orders.accept_work_order(order=o, by=world.grid_a),
            "start": lambda o: orders.start_work_order(order=o, by=world.grid_a),
            "done": lambda o: orders.finish_work_order(order=o, by=world.grid_a, note="好"),
            "confirm": lambda o: orders.confirm_work_order(order=o, satisfied=True),
            "reopen": lambda o: orders.reopen_work_order(order=o, by=world.lead_a),
            "cancel": lambda o: orders.cancel_work_order(order=o, by=world.lead_a, reason="重复"),
            "merge": lambda o: orders.merge_work_order(
                order=o, into=raised(world, person=world.resident_a2), by=world.lead_a
            ),
        }
        with pytest.raises(BilingualError) as refused:
            calls[verb](order)
        assert refused.value.zh and refused.value.en
        order.refresh_from_db()
        assert order.state == state, (verb, state)


def test_a_no_from_the_resident_reopens_and_restarts_the_ladder(world):
    """ "Not resolved" sends the order back to its assignee with fresh deadlines and a new
    cycle of escalation."""
    start = timezone.now()
    order = dispatched(world, now=start)
    order = orders.accept_work_order(order=order, by=world.grid_a, now=start)
    order = orders.finish_work_order(order=order, by=world.grid_a, note="已处理", now=start)
    later = start + timedelta(hours=3)
    order = orders.confirm_work_order(order=order, satisfied=False, rating=1, now=later)
    assert order.state == S.DISPATCHED
    assert order.assignee == world.grid_a
    assert order.cycle == 4  # raise, dispatch, accept (its done deadline's), reopen
    assert order.next_escalation_at == later
    assert order.accept_by == later + timedelta(hours=1)
    assert (order.satisfied, order.rating) == (False, 1)


def test_reassignment_keeps_history(world):
    """Dispatching again to someone else keeps every earlier assignment in the log."""
    order = dispatched(world)
    order = orders.accept_work_order(order=order, by=world.grid_a)
    order = orders.dispatch_work_order(order=order, by=world.lead_a, assignee=world.volunteer_a)
    assert (order.state, order.assignee) == (S.DISPATCHED, world.volunteer_a)
    assignees = list(
        WorkOrderTransition.objects.filter(order=order, action=WorkOrderAction.DISPATCH)
        .order_by("id")
        .values_list("assignee__username", flat=True)
    )
    assert assignees == ["grid_a", "volunteer_a"]


def test_only_the_assignee_or_the_queue_may_accept(world):
    """An order assigned to one person cannot be taken by another; an order in an area's
    queue can be taken by a worker of that area, who becomes its assignee."""
    order = dispatched(world, to=world.grid_a)
    with pytest.raises(PermissionDenied):
        orders.accept_work_order(order=order, by=world.volunteer_a)
    queued = orders.dispatch_work_order(
        order=raised(world), by=world.lead_a, queue_area=world.a.grid
    )
    with pytest.raises(PermissionDenied):
        orders.accept_work_order(order=queued, by=world.grid_b)
    taken = orders.accept_work_order(order=queued, by=world.volunteer_a)
    assert taken.assignee == world.volunteer_a


def test_second_accept_is_told_it_is_taken(world):
    """Of two workers of a queue, the second to accept is told the order is taken."""
    order = orders.dispatch_work_order(
        order=raised(world), by=world.lead_a, queue_area=world.a.grid
    )
    orders.accept_work_order(order=order, by=world.grid_a)
    with pytest.raises(BilingualError) as refused:
        orders.accept_work_order(order=order, by=world.volunteer_a)
    assert refused.value.code == "already_taken"
    assert "已" in refused.value.zh and "taken" in refused.value.en
    assert AuditEvent.objects.filter(
        action=WorkOrderAction.ACCEPT,
        actor_id=world.volunteer_a.pk,
        detail__refused="already decided",
    ).exists()


def test_bad_input_stores_nothing(world):
    """An unknown kind, a resident of another community, a past-limit text: a field error
    and no order."""
    with pytest.raises(ValidationError) as unknown:
        orders.raise_work_order(kind="nope", area=world.a.grid, by=world.grid_a)
    assert "kind" in unknown.value.message_dict
    with pytest.raises(ValidationError) as outside:
        orders.raise_work_order(
            kind="general", area=world.a.grid, by=world.grid_a, person=world.resident_b
        )
    assert "person" in outside.value.message_dict
    with pytest.raises(PermissionDenied):
        orders.raise_work_order(kind="general", area=world.b.grid, by=world.grid_a)
    with pytest.raises(ValidationError):
        orders.finish_work_order(order=dispatched(world), by=world.grid_a, note="")
    assert WorkOrder.objects.count() == 1  # the one dispatched() made


def test_cancel_needs_a_reason_and_a_manager(world):
    order = raised(world)
    with pytest.raises(ValidationError):
        orders.cancel_work_order(order=order, by=world.lead_a, reason=" ")
    with pytest.raises(PermissionDenied):
        orders.cancel_work_order(order=order, by=world.volunteer_a, reason="不需要")
    order = orders.cancel_work_order(order=order, by=world.lead_a, reason="居民已自行解决")
    assert (order.state, order.cancel_reason) == (S.CANCELLED, "居民已自行解决")
    assert order.closed_at is not None and order.next_escalation_at is None


def test_duplicate_of_the_same_household_and_category_is_merged(world):
    """A second open order of the same household, kind and category is stored merged into
    the first, which is returned; another category is an order of its own."""
    first = raised(world, category="medicine", contact_name="张三丰")
    second = raised(world, person=world.resident_a2, category="medicine", contact_name="李秀英")
    assert second.pk == first.pk
    duplicate = WorkOrder.objects.get(merged_into=first)
    assert duplicate.state == S.MERGED and duplicate.contact_name == "李秀英"
    other = raised(world, category="food")
    assert other.pk != first.pk and other.merged_into is None
    orders.cancel_work_order(order=first, by=world.lead_a, reason="已解决")
    again = raised(world, category="medicine")
    assert again.pk not in (first.pk, duplicate.pk)


def test_external_reference_is_idempotent(world):
    a = raised(world, external_source="12345", external_reference="GD2026-001")
    b = raised(world, external_source="12345", external_reference="GD2026-001")
    assert a.pk == b.pk
    assert WorkOrder.objects.count() == 1


def test_deadlines_follow_the_nearest_area_setting(world):
    """Defaults P0 10 min / 2 h; a community's own P0 setting applies in its grids, and a
    grid's own setting wins over the community's."""
    now = timezone.now()
    p0 = raised(world, priority=Priority.P0, now=now)
    assert (p0.accept_by - now, p0.done_by - now) == (timedelta(minutes=10), timedelta(hours=2))
    p2 = raised(world, priority=Priority.P2, now=now, category="x")
    assert (p2.accept_by - now, p2.done_by - now) == (timedelta(hours=4), timedelta(hours=48))
    set_service_level(
        area=world.a.community,
        priority=Priority.P0,
        accept_minutes=5,
        done_minutes=60,
        by=world.lead_a,
    )
    assert level_for(world.a.grid.path, Priority.P0).accept_minutes == 5
    assert level_for(world.b.grid.path, Priority.P0).accept_minutes == 10
    set_service_level(
        area=world.a.grid,
        priority=Priority.P0,
        accept_minutes=3,
        done_minutes=30,
        ladder=[(0, "assignee"), (2, "community_lead")],
        by=world.lead_a,
    )
    order = raised(world, priority=Priority.P0, now=now, category="y")
    assert order.accept_by - now == timedelta(minutes=3)
    assert order.escalation_plan["steps"] == [[0, "assignee"], [2, "community_lead"]]
    with pytest.raises(ValidationError):
        set_service_level(
            area=world.a.grid,
            priority=Priority.P0,
            accept_minutes=30,
            done_minutes=10,
            by=world.lead_a,
        )
    with pytest.raises(PermissionDenied):
        set_service_level(
            area=world.b.grid,
            priority=Priority.P0,
            accept_minutes=3,
            done_minutes=30,
            by=world.lead_a,
        )


def test_a_more_urgent_duplicate_raises_the_first_orders_class(world):
    """A P0 report merged into an open P2 order makes it P0: shorter deadlines, the reason
    shown, and its ladder restarted on the P0 plan."""
    t0 = timezone.now()
    first = raised(world, priority=Priority.P2, category="medicine", now=t0)
    later = t0 + timedelta(minutes=30)
    merged = raised(
        world,
        person=world.resident_a2,
        priority=Priority.P0,
        priority_reason="透析患者",
        category="medicine",
        now=later,
    )
    assert merged.pk == first.pk
    first.refresh_from_db()
    assert (first.priority, first.priority_reason) == (Priority.P0, "透析患者")
    assert first.accept_by == later + timedelta(minutes=10)
    assert first.escalation_plan["repeat"] == 5 and first.escalation_started_at == later


def test_a_staff_reopening_records_no_dissatisfaction(world):
    order = dispatched(world)
    order = orders.accept_work_order(order=order, by=world.grid_a)
    order = orders.finish_work_order(order=order, by=world.grid_a, note="已处理")
    order = orders.reopen_work_order(
        order=order, by=world.lead_a, note="回访电话：药送错了", via=RaisedVia.HOTLINE
    )
    assert (order.state, order.satisfied) == (S.DISPATCHED, None)
