"""System checks for the webhook settings (registered by linli.adapters.apps)."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

from linli.adapters import webhooks

HTTP_BACKEND = "linli.adapters.webhooks.http.HttpBackend"


def check_webhook_settings(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    """Returns an error when the configured webhook backend cannot be created, and in
    production a warning when posts to a group robot would go unsigned."""
    path = getattr(settings, "LINLI_WEBHOOK_BACKEND", webhooks.DEFAULT_BACKEND)
    try:
        webhooks.get_backend(path)
    except (ImproperlyConfigured, TypeError) as exc:
        return [
            Error(
                f"The webhook backend cannot be created: {exc}",
                hint="See docs/workorders.md (channels) for the backends and their settings.",
                id="linli.E070",
            )
        ]
    if getattr(settings, "LINLI_ENV", "") != "production" or path != HTTP_BACKEND:
        return []
    if not getattr(settings, "LINLI_WEBHOOK_SECRET", ""):
        return [
            Warning(
                "LINLI_WEBHOOK_SECRET is empty: staff alerts are posted unsigned.",
                hint="Set the group robot's signing secret.",
                id="linli.W070",
            )
        ]
    return []
