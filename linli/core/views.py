"""The few pages that belong to no app: the browser's own requests for the site's icon."""

from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Returns a redirect from /favicon.ico to the site's SVG icon among the static files.

    Browsers (and pages without our <link rel="icon">, such as a PDF or an error page) ask for
    /favicon.ico at the root; without this they get a 404 in every log.
    """
    return HttpResponseRedirect(static("linli/favicon.svg"))
