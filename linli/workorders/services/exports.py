"""The Excel export of a work-order list: the workbook is built by linli.workorders.exports
from the orders the user may see, masked by role; writing it is recorded in the audit log."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from linli.audit.models import AuditAction
from linli.audit.services import record_event
from linli.core import clock
from linli.core.actors import Actor, AuditContext
from linli.workorders import exports, selectors

CHUNK = 2000


@dataclass(frozen=True)
class OrdersExport:
    file: IO[bytes]
    rows: int
    at: datetime


def export_work_orders(
    *,
    by: Actor,
    state: str = "",
    context: AuditContext | None = None,
    now: datetime | None = None,
) -> OrdersExport:
    """Writes the orders `by` may see (selectors.orders_for: their areas' subtree, masked
    for their role), in `state` or all, into a watermarked .xlsx and records the export in
    the audit log (what, how many rows, which state). Returns the export."""
    at = now or clock.now()
    orders = selectors.orders_for(by, state=state)

    def rows() -> Iterator[selectors.OrderRow]:
        # Masked a chunk at a time, so memory stays flat.
        chunk = []
        for order in orders.iterator(chunk_size=CHUNK):
            chunk.append(order)
            if len(chunk) == CHUNK:
                yield from selectors.present_orders(by, chunk)
                chunk = []
        yield from selectors.present_orders(by, chunk)

    file, written = exports.orders_workbook(rows(), exported_by=by.get_username(), at=at)
    record_event(
        action=AuditAction.EXPORT,
        actor=by,
        context=context,
        object_type="work_order",
        object_label="work orders",
        detail={"what": "work orders", "rows": written, "state": state},
    )
    return OrdersExport(file=file, rows=written, at=at)
