"""JSON API of work orders (mounted under /api/ by config.api): the 12345 integration.

An upper-level hotline system raises an order with its own reference (POST /work-orders),
idempotent on (source, external_reference): the same reference again answers 200 with the
order stored the first time, never a second one. Reads are scoped to the caller's areas and
masked for their role by linli.workorders.selectors, as the pages are. Every change of state
is posted to the subscribed systems by services.state_events (docs/workorders.md).
"""

from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import EmptyPage
from django.db import IntegrityError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from linli.areas import selectors as area_selectors
from linli.core.actors import AuditContext
from linli.core.errors import both_languages
from linli.core.pagination import CappedPaginator
from linli.core.permissions import require
from linli.workorders import selectors
from linli.workorders.models import RaisedVia, WorkOrderState
from linli.workorders.roles import RAISERS
from linli.workorders.services import orders as order_services

router = Router(tags=["work orders"])

AREA_NOT_YOURS = _("No such area in your jurisdiction")
INVALID_ORDER = _("The work order was not stored")
PAGE_OUT_OF_RANGE = _("Page out of range")
NOT_FOR_ROLE = _("Your role may not do this.")


class WorkOrderIn(Schema):
    source: str = Field(
        min_length=1,
        max_length=40,
        description="the raising system, e.g. 12345",
        examples=["12345"],
    )
    external_reference: str = Field(
        min_length=1, max_length=100, description="the order's number in the raising system"
    )
    kind: str = Field(min_length=1, max_length=40, description="a registered kind, e.g. general")
    category: str = Field("", max_length=40, description="one of the kind's categories, or empty")
    area: int = Field(description="the id of the area the order lies in (yours or below)")
    priority: str = Field("p2", max_length=4, description="p0, p1 or p2")
    text: str = Field("", max_length=2000, description="what is asked")
    contact_name: str = Field("", max_length=60)
    due_by: datetime | None = Field(
        None, description="the raising system's own deadline (shortens the service level's)"
    )


class WorkOrderOut(Schema):
    id: int
    external_source: str
    external_reference: str
    kind: str = Field(description="the kind's code")
    kind_label: str
    category: str = Field(description="empty for roles that may not see it")
    priority: str
    priority_label: str
    state: str
    state_label: str
    area: int | None
    area_name: str
    contact_name: str = Field(description="masked for roles that may not see it")
    text: str = Field(description="masked for roles that may not see it")
    assignee: str
    queue: str
    accept_by: datetime
    done_by: datetime
    overdue: bool
    acknowledged: bool
    raised_via: str
    created_at: datetime
    merged_into: int | None = Field(
        description="a duplicate of an open order of the same household: that order's id"
    )


class WorkOrderPageOut(Schema):
    count: int
    count_is_capped: bool
    page: int
    pages: int
    page_size: int
    next: int | None
    previous: int | None
    results: list[WorkOrderOut]


class WorkOrderQuery(Schema):
    state: WorkOrderState | None = Field(None, description="only orders in this state")
    page: int = Field(1, ge=1)


class InvalidOut(Schema):
    code: str
    detail: str = Field(description="Message in Chinese and English / 中英文说明")
    fields: dict[str, str] = Field(description="field → message in Chinese and English")


class ErrorOut(Schema):
    code: str
    detail: Any


def _require_access(request: HttpRequest) -> None:
    # The roles the work-order pages let in (tests/security/test_api_role_policy.py).
    if not selectors.may_use_work_orders(request.user):
        raise PermissionDenied(NOT_FOR_ROLE)


def _out(row: selectors.OrderRow) -> dict:
    data = asdict(row)
    data.pop("person", None)
    return {**data, "kind": row.kind_code, "kind_label": row.kind, "area": row.area_id}


def _present(request: HttpRequest, order) -> dict:
    return _out(selectors.present_orders(request.user, [order])[0])


def _invalid(error: ValidationError) -> Status[InvalidOut]:
    fields: dict[str, str] = {}
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            fields[name] = " ".join(both_languages(e.message, e.params) for e in errors)
    else:
        fields["__all__"] = " ".join(both_languages(e.message, e.params) for e in error.error_list)
    detail = f"{both_languages(INVALID_ORDER)}: {', '.join(fields)}"
    return Status(400, InvalidOut(code="invalid", detail=detail, fields=fields))


@router.post(
    "/work-orders",
    response={200: WorkOrderOut, 201: WorkOrderOut, 400: InvalidOut, 403: ErrorOut},
    url_name="workorders_raise",
    summary="Raise a work order from an upper system (idempotent on its reference)",
)
def raise_work_order(request: HttpRequest, payload: WorkOrderIn):
    """Raises an order in one of the caller's areas, through the API channel. 201 with the
    new order; 200 with the stored one when (source, external_reference) was raised before
    (whatever the rest of the body says); 400 with a message per field for an area outside
    the caller's jurisdiction, an unknown kind, category or priority, or a deadline already
    passed (nothing stored); 403 for a role that may not raise orders, or a reference
    already used outside the caller's jurisdiction."""
    user = request.user
    _require_access(request)
    require(user, roles=RAISERS)
    source = payload.source.strip()
    reference = payload.external_reference.strip()
    existing = selectors.order_by_reference(user, source=source, reference=reference)
    if existing is not None:
        return Status(200, _present(request, existing))
    try:
        area = area_selectors.area_for(user, payload.area)
    except Http404:
        return _invalid(ValidationError({"area": ValidationError(AREA_NOT_YOURS)}))
    try:
        order = order_services.raise_work_order(
            kind=payload.kind,
            category=payload.category,
            area=area,
            by=user,
            via=RaisedVia.API,
            text=payload.text,
            priority=payload.priority,
            contact_name=payload.contact_name,
            external_source=source,
            external_reference=reference,
            due_by=payload.due_by,
            context=AuditContext.from_request(request),
        )
    except ValidationError as error:
        return _invalid(error)
    except IntegrityError:
        # The same reference raised twice at once: the other request stored it first.
        existing = selectors.order_by_reference(user, source=source, reference=reference)
        if existing is None:
            raise
        return Status(200, _present(request, existing))
    # The order holding the reference: a duplicate was stored merged into an open order of
    # the same household (raise_work_order returned that one), and a repeat must answer
    # with the same order as this first raise.
    stored = selectors.order_by_reference(user, source=source, reference=reference)
    return Status(201, _present(request, stored or selectors.order_for(user, order.pk)))


@router.get(
    "/work-orders",
    response={200: WorkOrderPageOut, 403: ErrorOut},
    url_name="workorders_list",
    summary="Work orders in the caller's jurisdiction",
)
def list_work_orders(request: HttpRequest, filters: Query[WorkOrderQuery]):
    """The orders the caller may see, nearest deadline first, 50 a page, optionally in one
    state; masked for the caller's role."""
    _require_access(request)
    orders = selectors.orders_for(request.user, state=filters.state or "")
    size = settings.LINLI_PAGE_SIZE
    paginator = CappedPaginator(orders, size)
    try:
        current = paginator.page(filters.page)
    except EmptyPage:
        raise HttpError(404, both_languages(PAGE_OUT_OF_RANGE)) from None
    return {
        "count": min(paginator.count, paginator.cap),
        "count_is_capped": paginator.is_capped,
        "page": current.number,
        "pages": paginator.num_pages,
        "page_size": size,
        "next": current.next_page_number() if current.has_next() else None,
        "previous": current.previous_page_number() if current.has_previous() else None,
        "results": [_out(r) for r in selectors.present_orders(request.user, current.object_list)],
    }


@router.get(
    "/work-orders/{order_id}",
    response={200: WorkOrderOut, 403: ErrorOut},
    url_name="workorders_detail",
    summary="One work order",
)
def get_work_order(request: HttpRequest, order_id: int):
    """One order the caller may see, masked for their role; 404 otherwise (also for an
    order of another area: its existence is not revealed)."""
    _require_access(request)
    return _present(request, selectors.order_for(request.user, order_id))
