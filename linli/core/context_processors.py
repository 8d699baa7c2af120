"""Template context every page needs."""

from django.conf import settings
from django.http import HttpRequest

from linli.core.roles import policy_for


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    policy = policy_for(user)
    return {
        "role_policy": policy,
        "reveal_purposes": settings.LINLI_REVEAL_PURPOSES,
    }
