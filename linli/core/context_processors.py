"""Template context every page needs."""

from django.conf import settings
from django.http import HttpRequest

from linli.core.navigation import navigation_for
from linli.core.roles import policy_for


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    return {
        "role_policy": policy_for(user),
        "navigation": navigation_for(user),
        "reveal_purposes": settings.LINLI_REVEAL_PURPOSES,
    }
