"""SMS, with pluggable backends chosen in settings, the way Django's e-mail backends work.

    from linli.adapters import sms

    result = sms.send_sms(to="13812345678", text="…", reference="attempt:42")
    with sms.get_backend() as backend:  # many messages through one backend
        results = backend.send_messages([sms.SmsMessage(to=..., text=...), ...])

settings.LINLI_SMS_BACKEND names the backend class (console by default; file, locmem and the
HTTP gateway ship with Linli). docs/adapters-sms.md describes the backends, their settings
and the gateway contract.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from linli.adapters.sms.base import BaseSmsBackend
from linli.adapters.sms.message import SmsMessage, SmsResult, count_segments

__all__ = [
    "DEFAULT_BACKEND",
    "BaseSmsBackend",
    "SmsMessage",
    "SmsResult",
    "count_segments",
    "get_backend",
    "outbox",
    "send_sms",
]

DEFAULT_BACKEND = "linli.adapters.sms.console.ConsoleBackend"

# Messages sent through linli.adapters.sms.locmem.LocmemBackend, oldest first (like
# django.core.mail.outbox). Tests clear it with `sms.outbox.clear()`.
outbox: list[SmsMessage] = []


def get_backend(path: str | None = None, **options: object) -> BaseSmsBackend:
    """Returns an instance of the backend class named by `path`.

    Without a path, uses settings.LINLI_SMS_BACKEND, or the console backend when the setting
    is absent. `options` go to the backend's constructor and override its settings. Raises
    ImproperlyConfigured when the class cannot be imported or is not an SMS backend.
    """
    path = path or getattr(settings, "LINLI_SMS_BACKEND", DEFAULT_BACKEND)
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"LINLI_SMS_BACKEND {path!r} cannot be imported: {exc}") from exc
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseSmsBackend)):
        raise ImproperlyConfigured(f"LINLI_SMS_BACKEND {path!r} is not a BaseSmsBackend")
    return backend_class(**options)


def send_sms(
    *, to: str, text: str, reference: str = "", backend: BaseSmsBackend | None = None
) -> SmsResult:
    """Sends one text to one mobile number and returns its SmsResult.

    Uses `backend` when given (left open for its owner), else a new one from get_backend(),
    opened and closed around the send. Raises InvalidPhone when `to` is not a mobile number
    and ValueError when the text is empty; a refusal by the gateway is reported in the result
    (accepted=False), not raised.
    """
    message = SmsMessage(to=to, text=text, reference=reference)
    if backend is not None:
        return backend.send_messages([message])[0]
    with get_backend() as own_backend:
        return own_backend.send_messages([message])[0]
