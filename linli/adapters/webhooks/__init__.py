"""Staff alert webhooks (a WeCom or DingTalk group robot, or any HTTP receiver), with
pluggable backends chosen in settings, the way Django's e-mail backends work.

    from linli.adapters import webhooks

    result = webhooks.send_webhook(text="…", reference="delivery:42", data={"order": 7})

settings.LINLI_WEBHOOK_BACKEND names the backend class: the file backend by default (one
JSON line per message under <VAR_DIR>/webhooks, so an air-gapped install logs what it would
have posted), locmem for tests, and the HTTP backend, which signs every body with HMAC-SHA256
(headers X-Linli-Timestamp and X-Linli-Signature; DingTalk's own query signature too) and
speaks the WeCom, DingTalk or plain JSON shape (LINLI_WEBHOOK_STYLE). `verify_signature`
checks a signed body on the receiving side.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from linli.adapters.webhooks.base import (
    BaseWebhookBackend,
    WebhookMessage,
    WebhookResult,
    sign,
    verify_signature,
)

__all__ = [
    "DEFAULT_BACKEND",
    "BaseWebhookBackend",
    "WebhookMessage",
    "WebhookResult",
    "get_backend",
    "outbox",
    "send_webhook",
    "sign",
    "verify_signature",
]

DEFAULT_BACKEND = "linli.adapters.webhooks.file.FileBackend"

# Messages sent through the locmem backend, oldest first (tests clear it).
outbox: list[WebhookMessage] = []


def get_backend(path: str | None = None, **options: object) -> BaseWebhookBackend:
    """Returns an instance of the backend class named by `path` (default:
    settings.LINLI_WEBHOOK_BACKEND, else the file backend). Raises ImproperlyConfigured
    when the class cannot be imported or is not a webhook backend."""
    path = path or getattr(settings, "LINLI_WEBHOOK_BACKEND", DEFAULT_BACKEND)
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"LINLI_WEBHOOK_BACKEND {path!r} cannot be imported: {exc}"
        ) from exc
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseWebhookBackend)):
        raise ImproperlyConfigured(f"LINLI_WEBHOOK_BACKEND {path!r} is not a BaseWebhookBackend")
    return backend_class(**options)


def send_webhook(*, text: str, reference: str = "", data: dict | None = None) -> WebhookResult:
    """Posts one message through the configured backend and returns its result (a refusal
    is reported in the result, not raised)."""
    message = WebhookMessage(text=text, reference=reference, data=data or {})
    with get_backend() as backend:
        return backend.send_messages([message])[0]
