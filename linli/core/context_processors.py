"""Template context every page needs."""

from django.conf import settings
from django.http import HttpRequest

from linli.core.roles import REGISTRY_STEWARDS, policy_for


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    policy = policy_for(user)
    return {
        "role_policy": policy,
        "may_steward_registry": getattr(user, "role", "") in REGISTRY_STEWARDS,
        "reveal_purposes": settings.LINLI_REVEAL_PURPOSES,
    }
