"""Work-order pages: my orders (by deadline, with what was escalated to me on top), my
areas' queue, one order with its timeline and buttons, and the bell."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from linli.core.actors import AuditContext
from linli.core.errors import BilingualError
from linli.core.pagination import CappedPaginator
from linli.workorders import selectors
from linli.workorders.services import notifications as notification_services
from linli.workorders.services import orders as order_services

ESCALATED_SHOWN = 20


def _require_pages(request: HttpRequest) -> None:
    if not selectors.may_use_work_orders(request.user):
        raise PermissionDenied


def _list(request: HttpRequest, orders, tab: str) -> HttpResponse:
    page = CappedPaginator(orders, settings.LINLI_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "tab": tab,
        "page": page,
        "query": "",
        "rows": selectors.present_orders(request.user, page.object_list),
        "escalated": selectors.present_orders(
            request.user, selectors.escalated_to(request.user)[:ESCALATED_SHOWN]
        ),
    }
    return render(request, "workorders/list.html", context)


@login_required
def my_orders(request: HttpRequest) -> HttpResponse:
    """The orders assigned to me, nearest deadline first."""
    _require_pages(request)
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
