"""Work-order pages: my orders (by deadline, with what was escalated to me on top), my
areas' queue, one order with its timeline and buttons, and the bell."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from linli.core.actors import AuditContext
from linli.core.downloads import file_download
from linli.core.errors import BilingualError
from linli.core.pagination import CappedPaginator
from linli.workorders import exports, selectors
from linli.workorders.models import WorkOrderState
from linli.workorders.services import exports as export_services
from linli.workorders.services import notifications as notification_services
from linli.workorders.services import orders as order_services

ESCALATED_SHOWN = 20


def _require_pages(request: HttpRequest) -> None:
    if not selectors.may_use_work_orders(request.user):
        raise PermissionDenied


def _list(request: HttpRequest, orders, tab: str, due: str = "") -> HttpResponse:
    page = CappedPaginator(orders, settings.LINLI_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "tab": tab,
        "due": due,
        "due_label": DUE_LABELS.get(due, ""),
        "page": page,
        "query": "",
        "rows": selectors.present_orders(request.user, page.object_list),
        # A figure's list is only that figure's orders.
        "escalated": []
        if due
        else selectors.present_orders(
            request.user, selectors.escalated_to(request.user)[:ESCALATED_SHOWN]
        ),
    }
    return render(request, "workorders/list.html", context)


DUE_LABELS = {
    "overdue": gettext_lazy("Overdue"),
    "hour": gettext_lazy("Due within the hour"),
    "escalated": gettext_lazy("Escalated to me"),
    "new": gettext_lazy("New in my areas"),
}


@login_required
def my_orders(request: HttpRequest) -> HttpResponse:
    """The orders assigned to me, nearest deadline first; `?due=` one of the home's figures
    (overdue, hour, escalated, new) lists the orders behind it instead."""
    _require_pages(request)
    due = request.GET.get("due", "")
    if due in selectors.TODAY_FILTERS:
        return _list(request, selectors.today_orders(request.user, due), "due", due)
    return _list(request, selectors.my_orders(request.user), "mine")


@login_required
def area_queue(request: HttpRequest) -> HttpResponse:
    """The orders of my areas nobody has taken yet, nearest deadline first."""
    _require_pages(request)
    return _list(request, selectors.queue_orders(request.user), "queue")


@login_required
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    """One order: its facts, what I may do with it, and its timeline."""
    order = selectors.order_for(request.user, order_id)
    context = {
        "o": selectors.present_orders(request.user, [order])[0],
        "actions": selectors.actions_for(request.user, order),
        "timeline": selectors.timeline(request.user, order),
        "duplicates": selectors.present_orders(
            request.user, selectors.duplicates_of(request.user, order)
        ),
    }
    return render(request, "workorders/detail.html", context)


VERBS = {
    "accept": lambda order, user, post, ctx: order_services.accept_work_order(
        order=order, by=user, context=ctx
    ),
    "start": lambda order, user, post, ctx: order_services.start_work_order(
        order=order, by=user, context=ctx
    ),
    "done": lambda order, user, post, ctx: order_services.finish_work_order(
        order=order, by=user, note=post.get("note", ""), context=ctx
    ),
    "acknowledge": lambda order, user, post, ctx: order_services.acknowledge_work_order(
        order=order, by=user, context=ctx
    ),
}


@require_POST
@login_required
def order_action(request: HttpRequest, order_id: int, verb: str) -> HttpResponse:
    """Accepts, starts, finishes or acknowledges an order, then shows it again."""
    order = selectors.order_for(request.user, order_id)
    if verb not in VERBS:
        raise Http404("unknown action")
    try:
        VERBS[verb](order, request.user, request.POST, AuditContext.from_request(request))
    except BilingualError as error:
        messages.error(request, error.text)
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    return redirect("workorders:detail", order_id=order.pk)


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """The bell: my notifications, newest first; a POST marks them all read."""
    if request.method == "POST":
        notification_services.mark_notifications_read(by=request.user)
        return redirect("workorders:notifications")
    page = CappedPaginator(
        selectors.notifications_for(request.user), settings.LINLI_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    context = {"page": page, "query": "", "unread": selectors.unread_count(request.user)}
    return render(request, "workorders/notifications.html", context)


@login_required
def export_orders(request: HttpRequest) -> HttpResponse:
    """Every order I may see (?state= one state) as an .xlsx, masked by role and
    watermarked; the export is written to the audit log."""
    _require_pages(request)
    state = request.GET.get("state", "")
    if state not in WorkOrderState.values:
        state = ""
    export = export_services.export_work_orders(
        by=request.user, state=state, context=AuditContext.from_request(request)
    )
    name = f"work-orders-{timezone.localtime(export.at):%Y%m%d-%H%M}.xlsx"
    return file_download(export.file, filename=name, content_type=exports.CONTENT_TYPE)
