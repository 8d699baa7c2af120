"""The home page: each role lands on the live picture of their own jurisdiction."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from linli.core.roles import Role
from linli.reports.selectors import chart_data, overview_for
from linli.screening.selectors import followups as followup_selectors
from linli.screening.selectors import running as running_selectors


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
    context = {
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
