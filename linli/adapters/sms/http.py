"""A backend that posts each message to an HTTP SMS gateway (standard library only).

The contract, request and answer, is in docs/adapters-sms.md.
"""

import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from linli.adapters.sms.base import BaseSmsBackend
from linli.adapters.sms.message import SmsMessage, SmsResult

logger = logging.getLogger("linli.adapters.sms")

ACCEPTED_STATUSES = frozenset({"accepted", "queued", "sent", "delivered"})
MAX_ANSWER_BYTES = 64 * 1024
MAX_ERROR_CHARS = 200
MAX_BACKOFF_SECONDS = 30.0
USER_AGENT = "Linli-SMS/1"


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Turns a redirect into an HTTP error.

    urllib would follow it as a GET without the message, carrying the bearer token to
    wherever the redirect points; the gateway URL must be the final one.
    """

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        return None


def _setting(name: str, default: object) -> object:
    value = getattr(settings, name, None)
    return default if value in (None, "") else value


class HttpGatewayBackend(BaseSmsBackend):
    """POSTs each message as JSON to a gateway and maps its answer to an SmsResult.

    Options (each falls back to a setting):
      url      LINLI_SMS_GATEWAY_URL, http(s); required
      token    LINLI_SMS_GATEWAY_TOKEN, sent as "Authorization: Bearer …" when set
      timeout  LINLI_SMS_GATEWAY_TIMEOUT, seconds per connect or read (default 10)
      retries  LINLI_SMS_GATEWAY_RETRIES, extra attempts after the first (default 2)
      backoff  seconds before the first retry, doubled each time with jitter (default 0.5)
      concurrency  requests in flight at once for a batch (default 4)

    A 5xx answer, 429, a timeout or a connection error is retried with backoff (a
    Retry-After header is honoured up to 30 s); every attempt of one message carries the same
    Idempotency-Key header so a gateway can drop a duplicate when an answer was lost. Any
    other 4xx, and a redirect, is final. The message text and the full number never reach
    the logs or the result's error, and the token never does.

    Raises ImproperlyConfigured when the URL is missing or not http(s).
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        backoff: float = 0.5,
        concurrency: int = 4,
        **options: object,
    ) -> None:
        super().__init__(**options)
        self.url = str(url or _setting("LINLI_SMS_GATEWAY_URL", ""))
        self.token = str(token or _setting("LINLI_SMS_GATEWAY_TOKEN", ""))
        self.timeout = float(
            timeout if timeout is not None else _setting("LINLI_SMS_GATEWAY_TIMEOUT", 10)
        )
        self.retries = int(
            retries if retries is not None else _setting("LINLI_SMS_GATEWAY_RETRIES", 2)
        )
        self.backoff = backoff
        self.concurrency = max(1, concurrency)
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ImproperlyConfigured(
                "LINLI_SMS_GATEWAY_URL must be an http:// or https:// URL "
                f"(got {self.url!r}) for the HTTP gateway SMS backend."
            )
        if self.timeout <= 0 or self.retries < 0:
            raise ImproperlyConfigured("the SMS gateway timeout must be > 0 and retries >= 0")
        # Proxies come from the environment (https_proxy, no_proxy) as for any urllib client.
        self._opener = urllib.request.build_opener(_RefuseRedirects)

    def send_messages(self, messages: list[SmsMessage]) -> list[SmsResult]:
        """Posts each message (up to `concurrency` at once); returns results in order."""
        if len(messages) <= 1 or self.concurrency == 1:
            return [self._send(message) for message in messages]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(messages))) as pool:
            return list(pool.map(self._send, messages))

    def _send(self, message: SmsMessage) -> SmsResult:
        """Posts one message, retrying as the class docstring says; never raises for I/O."""
        body = json.dumps(
            {
                "to": message.to,
                "text": message.text,
                "reference": message.reference,
                "segments": message.segments,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": uuid.uuid4().hex,
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            # The scheme was checked in __init__ (http or https only).
            request = urllib.request.Request(  # noqa: S310
                self.url, data=body, headers=headers, method="POST"
            )
            retry_after: float | None = None
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    answer = response.read(MAX_ANSWER_BYTES)
                    return self._log(message, self._answer(message, answer))
            except urllib.error.HTTPError as exc:
                detail = _error_detail(exc)
                exc.close()
                problem = _scrub(f"HTTP {exc.code}{': ' + detail if detail else ''}", message)
                if not (exc.code >= 500 or exc.code == 429) or attempt == attempts:
                    return self._log(message, message.result(accepted=False, error=problem))
                retry_after = _retry_after(exc.headers.get("Retry-After"))
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                # URLError wraps a refused connection; a timeout or a cut answer comes bare.
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                problem = _scrub(
                    f"gateway unreachable: {reason!s:.100} ({type(reason).__name__})", message
                )
                if attempt == attempts:
                    return self._log(message, message.result(accepted=False, error=problem))
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            logger.warning(
                "SMS to %s ref=%s: attempt %d/%d failed (%s); retrying in %.2fs",
                message.to_masked,
                message.reference,
                attempt,
                attempts,
                problem,
                delay,
            )
            time.sleep(delay)
        raise AssertionError("unreachable: the last attempt always returns")

    def _backoff(self, attempt: int) -> float:
        """Returns the pause after failed attempt `attempt`: backoff·2^(n-1), +0–50 % jitter."""
        delay = self.backoff * 2 ** (attempt - 1)
        return min(MAX_BACKOFF_SECONDS, delay * (1 + random.random() / 2))

    @staticmethod
    def _answer(message: SmsMessage, answer: bytes) -> SmsResult:
        """Maps a 2xx answer {"id": …, "status": …, "error": …} to a result."""
        try:
            data = json.loads(answer)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return message.result(
                accepted=False, error="gateway answered 2xx without a JSON object"
            )
        provider_id = "" if data.get("id") is None else str(data["id"])
        status = str(data.get("status") or "").strip().lower()
        if status in ACCEPTED_STATUSES:
            return message.result(accepted=True, provider_id=provider_id, status=status)
        error = str(data.get("error") or "") or f"gateway status {status or 'missing'!r}"
        return message.result(
            accepted=False, provider_id=provider_id, status=status, error=_scrub(error, message)
        )

    @staticmethod
    def _log(message: SmsMessage, result: SmsResult) -> SmsResult:
        if result.accepted:
            logger.info(
                "SMS to %s ref=%s accepted id=%s status=%s segments=%d",
                result.to_masked,
                result.reference,
                result.provider_id,
                result.status,
                result.segments,
            )
        else:
            logger.warning(
                "SMS to %s ref=%s not accepted: %s",
                result.to_masked,
                result.reference,
                result.error,
            )
        return result


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """Returns the gateway's own reason from an error answer ({"error": …}), if it gave one."""
    try:
        data = json.loads(exc.read(MAX_ANSWER_BYTES) or b"null")
    except (ValueError, OSError):
        return ""
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or "")
    return ""


def _retry_after(value: str | None) -> float | None:
    """Returns a Retry-After given in seconds, capped at MAX_BACKOFF_SECONDS, else None."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    if seconds is None or seconds < 0:
        return None
    return min(seconds, MAX_BACKOFF_SECONDS)


def _scrub(text: str, message: SmsMessage) -> str:
    """Returns `text` shortened, with the full number masked and the message text removed.

    A gateway may echo the request in its error; the error ends up in logs and attempt
    records, which must not hold the full number or the link the text carries.
    """
    text = text.replace(message.to, message.to_masked).replace(message.text, "[text]")
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return text
