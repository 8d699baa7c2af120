"""The home page: each role lands on today's work orders (overdue, due within the hour,
escalated to them, new in their areas; a lead's or official's open P0 orders on top), then the
live picture of their own jurisdiction."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from linli.core.roles import Role
from linli.reports.selectors import chart_data, overview_for
from linli.screening.selectors import followups as followup_selectors
from linli.screening.selectors import running as running_selectors
from linli.workorders import selectors as workorder_selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    overviews = overview_for(request.user)
    # A grid worker's day is their own list; everyone above a grid also sees each child area.
    running = (
        running_selectors.running_campaigns(
            request.user, with_coverage=request.user.role != Role.GRID_WORKER
        )
        if overviews
        else []
    )
    today = (
        workorder_selectors.today_counts(request.user)
        if workorder_selectors.may_use_work_orders(request.user)
        else None
    )
    context = {
        "today": today,
        "p0": workorder_selectors.p0_queue(request.user) if today else [],
        "overviews": overviews,
        "running": running,
        "open_tasks": followup_selectors.open_task_count(request.user),
        "charts": [chart_data(o) for o in overviews],
        "chart_titles": {
            "residents": _("Residents"),
            "households": _("Households"),
            "vulnerable": _("Vulnerable residents"),
        },
    }
    return render(request, "reports/home.html", context)
