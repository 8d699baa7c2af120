"""Posts to a group robot or any HTTP receiver, signed.

Styles (LINLI_WEBHOOK_STYLE):
- `wecom`: WeCom's group robot body {"msgtype": "text", "text": {"content": ...}}; success
  is HTTP 2xx with errcode 0.
- `dingtalk`: the same body shape; DingTalk's signature added to the query (timestamp in ms,
  sign = base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>"))) when a secret is set.
- `json`: {"text", "reference", "data"} for a receiver of our own (12345 integration).
Every style also carries X-Linli-Timestamp and X-Linli-Signature ("sha256=<hex>" of
"<timestamp>.<body>", see base.sign) when a secret is set.
"""

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from linli.adapters.webhooks.base import (
    BaseWebhookBackend,
    WebhookMessage,
    WebhookResult,
    sign,
)

STYLES = ("wecom", "dingtalk", "json")


class HttpBackend(BaseWebhookBackend):
    def __init__(
        self,
        *,
        url: str | None = None,
        secret: str | None = None,
        style: str | None = None,
        timeout: float | None = None,
        **options: object,
    ) -> None:
        super().__init__(**options)
        self.url = url or getattr(settings, "LINLI_WEBHOOK_URL", "")
        self.secret = (
            secret if secret is not None else getattr(settings, "LINLI_WEBHOOK_SECRET", "")
        )
        self.style = style or getattr(settings, "LINLI_WEBHOOK_STYLE", "wecom")
        self.timeout = timeout or getattr(settings, "LINLI_WEBHOOK_TIMEOUT", 10)
        if not self.url.startswith(("http://", "https://")):
            raise ImproperlyConfigured("LINLI_WEBHOOK_URL must be an http(s) URL")
        if self.style not in STYLES:
            raise ImproperlyConfigured(f"LINLI_WEBHOOK_STYLE must be one of {', '.join(STYLES)}")

    def _body(self, message: WebhookMessage) -> bytes:
        if self.style == "json":
            payload: dict = {
                "text": message.text,
                "reference": message.reference,
                "data": message.data,
            }
        else:
            payload = {"msgtype": "text", "text": {"content": message.text}}
        return json.dumps(payload, ensure_ascii=False).encode()

    def _url(self, now: float) -> str:
        if self.style != "dingtalk" or not self.secret:
            return self.url
        millis = str(int(now * 1000))
        digest = hmac.new(
            self.secret.encode(), f"{millis}\n{self.secret}".encode(), hashlib.sha256
        ).digest()
        query = urllib.parse.urlencode({"timestamp": millis, "sign": base64.b64encode(digest)})
        return self.url + ("&" if "?" in self.url else "?") + query

    def send_messages(self, messages: list[WebhookMessage]) -> list[WebhookResult]:
        """Posts each message; a refusal or an unreachable receiver gives accepted=False."""
        return [self._send(message) for message in messages]

    def _send(self, message: WebhookMessage) -> WebhookResult:
        now = time.time()
        body = self._body(message)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.secret:
            timestamp = str(int(now))
            headers["X-Linli-Timestamp"] = timestamp
            headers["X-Linli-Signature"] = "sha256=" + sign(self.secret, timestamp, body)
        # The URL was checked to be http(s) when the backend was made.
        request = urllib.request.Request(  # noqa: S310
            self._url(now), data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = response.read(4096)
        except (urllib.error.URLError, OSError) as exc:
            return WebhookResult(message.reference, accepted=False, error=str(exc)[:200])
        if self.style in ("wecom", "dingtalk"):
            try:
                errcode = json.loads(answer or b"{}").get("errcode", 0)
            except ValueError:
                errcode = -1
            if errcode != 0:
                return WebhookResult(message.reference, accepted=False, error=f"errcode {errcode}")
        return WebhookResult(message.reference, accepted=True)
