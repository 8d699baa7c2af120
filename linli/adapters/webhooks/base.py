"""The interface every webhook backend implements, and the HMAC signature."""

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

SIGNATURE_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class WebhookMessage:
    text: str  # what a person reads in the group chat
    reference: str = ""  # ours, for logs and a receiver's de-duplication
    data: dict = field(default_factory=dict)  # machine-readable facts (plain JSON style)

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("a webhook message needs a text")


@dataclass(frozen=True)
class WebhookResult:
    reference: str
    accepted: bool
    provider_id: str = ""
    error: str = ""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Returns the hex HMAC-SHA256 of "<timestamp>.<body>" under `secret`."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(
    *,
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """Returns whether `signature` (as sent in X-Linli-Signature, "sha256=<hex>") signs the
    body at a timestamp no further than `tolerance` seconds from now (a replayed old body
    fails)."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    if age > tolerance:
        return False
    expected = "sha256=" + sign(secret, timestamp, body)
    return hmac.compare_digest(expected, signature)


class BaseWebhookBackend:
    """Shaped like BaseSmsBackend: options as keyword arguments (unknown ones raise
    TypeError); send_messages() returns one result per message and never raises for a
    refusal or an unreachable receiver."""

    def __init__(self, **options: object) -> None:
        if options:
            names = ", ".join(sorted(options))
            raise TypeError(f"{type(self).__name__} got unexpected options: {names}")

    def open(self) -> None:
        """Opens a long-lived connection if the backend has one."""

    def close(self) -> None:
        """Closes what open() opened."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def send_messages(self, messages: list[WebhookMessage]) -> list[WebhookResult]:
        raise NotImplementedError("subclasses of BaseWebhookBackend must implement send_messages()")
