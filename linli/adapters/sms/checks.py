"""System checks for the SMS settings (registered by linli.adapters.apps)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

from linli.adapters import sms

LOCAL_ONLY_BACKENDS = {
    "linli.adapters.sms.console.ConsoleBackend": "prints messages to the console",
    "linli.adapters.sms.locmem.LocmemBackend": "keeps messages in memory",
}
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def check_sms_settings(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    """Returns an error when the configured SMS backend cannot be created.

    In production (LINLI_ENV=production) it also warns when messages would not leave the
    machine (console, locmem) and when the gateway is reached over plain http on another host
    (the token, numbers and links would cross the network in clear).
    """
    path = getattr(settings, "LINLI_SMS_BACKEND", sms.DEFAULT_BACKEND)
    try:
        sms.get_backend(path)
    except (ImproperlyConfigured, TypeError) as exc:
        return [
            Error(
                f"The SMS backend cannot be created: {exc}",
                hint="See docs/adapters-sms.md for the backends and their settings.",
                id="linli.E050",
            )
        ]
    if getattr(settings, "LINLI_ENV", "") != "production":
        return []
    messages: list[CheckMessage] = []
    if path in LOCAL_ONLY_BACKENDS:
        messages.append(
            Warning(
                f"LINLI_SMS_BACKEND {LOCAL_ONLY_BACKENDS[path]}: no SMS reaches a phone.",
                hint="Set LINLI_SMS_BACKEND to linli.adapters.sms.http.HttpGatewayBackend.",
                id="linli.W050",
            )
        )
    if path == "linli.adapters.sms.http.HttpGatewayBackend":
        url = urlsplit(str(getattr(settings, "LINLI_SMS_GATEWAY_URL", "")))
        if url.scheme == "http" and (url.hostname or "") not in LOOPBACK_HOSTS:
            messages.append(
                Warning(
                    "LINLI_SMS_GATEWAY_URL uses plain http to another host.",
                    hint="Use https, or a gateway bridge on this machine.",
                    id="linli.W051",
                )
            )
    return messages
