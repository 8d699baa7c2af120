"""Work orders for tests: raised in community A's grid about 张三丰 (resident_a)."""

from datetime import datetime

from linli.workorders.models import Priority, WorkOrder
from linli.workorders.services import orders


def raised(world, *, by=None, priority=Priority.P1, now: datetime | None = None, **kw) -> WorkOrder:
    """Returns a new open order of the general kind in grid A, raised by its grid worker."""
    kw.setdefault("person", world.resident_a)
    kw.setdefault("category", "")
    return orders.raise_work_order(
        kind="general",
        area=world.a.grid,
        by=by or world.grid_a,
        priority=priority,
        text="需要送药",
        now=now,
        **kw,
    )


def dispatched(world, *, to=None, now: datetime | None = None, **kw) -> WorkOrder:
    """Returns an order raised and dispatched by community A's lead to `to` (grid_a)."""
    order = raised(world, now=now, **kw)
    return orders.dispatch_work_order(
        order=order, by=world.lead_a, assignee=to or world.grid_a, now=now
    )
