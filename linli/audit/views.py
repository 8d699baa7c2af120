"""The audit log page for data stewards."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from linli.audit.actions import action_choices, is_registered
from linli.audit.selectors import audit_events_for
from linli.core.pagination import CappedPaginator


@login_required
def events(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("action", "")
    if not is_registered(action):
        action = ""
    actor = request.GET.get("actor", "")[:150]
    queryset = audit_events_for(request.user, action=action, actor=actor)
    page = CappedPaginator(queryset, settings.LINLI_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "actions": action_choices(),
        "action": action,
        "actor": actor,
        "purposes": dict(settings.LINLI_REVEAL_PURPOSES),
        "query": urlencode({k: v for k, v in {"action": action, "actor": actor}.items() if v}),
    }
    return render(request, "audit/events.html", context)
