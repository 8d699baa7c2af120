"""Two workers accepting one order at the same moment: one wins, the other is told it is
taken. Run on PostgreSQL (DATABASE_URL), where the two transactions really overlap."""

import threading

import pytest
from django.db import connection

from linli.core.errors import BilingualError
from linli.workorders.models import WorkOrder, WorkOrderState, WorkOrderTransition
from linli.workorders.services import orders
from linli.workorders.tests.builders import raised

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
    ),
]


def test_two_accepts_at_once_one_wins(world):
    """Both threads start together at a barrier; exactly one accept succeeds, the other
    gets the "already taken" error, and the log holds one acceptance."""
    order = orders.dispatch_work_order(
        order=raised(world), by=world.lead_a, queue_area=world.a.grid
    )
    takers = [world.grid_a, world.volunteer_a]
    barrier = threading.Barrier(len(takers))
    results: dict[str, str] = {}

    def take(user) -> None:
        try:
            barrier.wait()
            orders.accept_work_order(order=order, by=user)
            results[user.username] = "won"
        except BilingualError as error:
            results[user.username] = error.code
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(user,)) for user in takers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == ["already_taken", "won"]
    winner = next(name for name, result in results.items() if result == "won")
    order = WorkOrder.objects.get(pk=order.pk)
    assert order.state == WorkOrderState.ACCEPTED
    assert order.assignee.username == winner
    assert WorkOrderTransition.objects.filter(order=order, to_state="accepted").count() == 1
