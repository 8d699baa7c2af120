"""The resident's pass page (no log-in: the signed link is the credential)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from linli.core.links import ExpiredLink, InvalidLink
from linli.passes.selectors.h5 import card_from_token


@require_safe
def pass_page(request: HttpRequest, token: str) -> HttpResponse:
    """Shows the pass: big type, the QR code while it is valid, the rules. A bad link is
    404, an expired one 410."""
    try:
        card = card_from_token(token)
    except (InvalidLink, ExpiredLink) as error:
        status = 410 if isinstance(error, ExpiredLink) else 404
        response = render(request, "passes/h5_error.html", {"message": error.text}, status=status)
    else:
        response = render(request, "passes/h5_pass.html", {"card": card})
    # Personal, and a revocation must show at once: kept by no shared cache, revalidated.
    response["Cache-Control"] = "private, no-cache"
    response["Referrer-Policy"] = "no-referrer"
    return response
