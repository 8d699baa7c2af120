"""Live coverage of a campaign, drilled down community → grid → compound → building, and the
Excel export of its results. Both show only the user's part of the campaign, masked by role."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from linli.areas.models import LEVEL_ORDER, AreaLevel
from linli.core.actors import AuditContext
from linli.core.downloads import file_download
from linli.core.pagination import CappedPaginator
from linli.screening import exports
from linli.screening import tasks as screening_tasks
from linli.screening.models import Campaign
from linli.screening.roles import SCREENERS
from linli.screening.selectors import campaigns as campaign_selectors
from linli.screening.selectors import coverage as coverage_selectors
from linli.screening.selectors import results as result_selectors
from linli.screening.services import exports as export_services

# The page refreshes itself this often while the campaign takes answers.
LIVE_SECONDS = 10
# Rows link one level further down to the building (its units are the last figures shown):
# below that the rows would be room numbers, which locate families.
DRILL_LEVELS = set(LEVEL_ORDER[: LEVEL_ORDER.index(AreaLevel.UNIT)])


def _area_id(request: HttpRequest) -> int | None:
    raw = request.GET.get("area", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404("area not found")
    return int(raw)


def _page(request: HttpRequest, queryset, param: str):
    return CappedPaginator(queryset, settings.LINLI_PAGE_SIZE).get_page(request.GET.get(param))


def _chart_data(
    cover: coverage_selectors.Coverage, progress: list[coverage_selectors.ProgressPoint]
) -> dict:
    return {
        "progress": {
            "labels": [f"{timezone.localtime(p.at):%m-%d %H:00}" for p in progress],
            "cumulative": [p.cumulative for p in progress],
            "hourly": [p.reached for p in progress],
        },
        "children": {
            "labels": [row.name for row in cover.rows],
            "reached": [row.reached for row in cover.rows],
            "unreached": [row.unreached for row in cover.rows],
        },
    }


def _dashboard(request: HttpRequest, campaign: Campaign) -> dict:
    """Everything the page and its live part show, for the area asked (?area=)."""
    user = request.user
    area, trail = coverage_selectors.coverage_area(user, campaign, _area_id(request))
    cover = coverage_selectors.coverage(user, campaign, area)
    progress = coverage_selectors.progress_over_time(user, campaign, area)
    unreached = _page(request, coverage_selectors.unreached_targets(user, campaign, area), "page")
    risky = _page(request, coverage_selectors.risky_targets(user, campaign, area), "rpage")
    state = {"area": area.pk, "page": unreached.number, "rpage": risky.number}
    return {
        "campaign": campaign,
        "area": area,
        "trail": trail,
        "coverage": cover,
        "total": cover.total,
        "rows": [(row, bool(row.area_id) and row.level in DRILL_LEVELS) for row in cover.rows],
        "chart_data": _chart_data(cover, progress),
        "unreached": unreached,
        "unreached_rows": result_selectors.present_targets(user, unreached.object_list),
        "risky": risky,
        "risky_rows": result_selectors.present_targets(user, risky.object_list),
        "live": campaign.accepts_answers,
        "live_seconds": LIVE_SECONDS,
        # Each list pages on its own parameter, keeping the area and the other list's page.
        "live_query": urlencode(state),
        "unreached_query": urlencode({k: v for k, v in state.items() if k != "page"}),
        "risky_query": urlencode({k: v for k, v in state.items() if k != "rpage"}),
        "level_labels": {code: str(label) for code, label in AreaLevel.choices},
        "may_door_knock": getattr(user, "role", "") in SCREENERS,
    }


@login_required
@require_GET
def coverage_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The dashboard: figures, charts and lists of the user's part of the campaign."""
    campaign = campaign_selectors.campaign_for(request.user, campaign_id)
    screening_tasks.escalate_while_watched(campaign)
    context = _dashboard(request, campaign)
    context["chart_titles"] = {
        "cumulative": _("Reached so far"),
        "hourly": _("Reached in the hour"),
        "reached": _("Reached"),
        "unreached": _("Not reached"),
        "empty": _("Nobody reached yet"),
    }
    return render(request, "screening/coverage.html", context)


@never_cache
@login_required
@require_GET
def coverage_live(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The live part of the dashboard, polled by htmx every LIVE_SECONDS. Watching keeps the
    escalation to the door-knock lists running (tasks.escalate_while_watched)."""
    campaign = campaign_selectors.campaign_for(request.user, campaign_id)
    screening_tasks.escalate_while_watched(campaign)
    context = _dashboard(request, campaign)
    return render(request, "screening/partials/coverage_live.html", context)


@login_required
@require_GET
def export_results(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The results of the user's part of the campaign (below ?area=) as an .xlsx, masked by
    role and watermarked; the export is written to the audit log."""
    campaign = campaign_selectors.campaign_for(request.user, campaign_id)
    area, _trail = coverage_selectors.coverage_area(request.user, campaign, _area_id(request))
    results = result_selectors.campaign_results(request.user, campaign, area)
    try:
        export = export_services.export_results(
            results=results,
            area=area,
            by=request.user,
            context=AuditContext.from_request(request),
        )
    except export_services.TooManyRows:
        messages.error(
            request,
            _("Too many rows for one Excel sheet: choose a smaller area and export it."),
        )
        return redirect(f"{reverse('screening:coverage', args=[campaign.pk])}?area={area.pk}")
    file, at = export.file, export.at
    name = f"screening-{campaign.pk}-{area.pk}-{timezone.localtime(at):%Y%m%d-%H%M}.xlsx"
    return file_download(file, filename=name, content_type=exports.CONTENT_TYPE)
