"""Signed, expiring per-person links, short enough to send by SMS.

A token is `<subject>.<expires>.<signature>`:

- subject: a non-negative integer in base 62 (a primary key: 1000000 → "4C92"); a UUID in its
  canonical form as "-" + its 128 bits in base 62; any other string as "_" + URL-safe base64
  of its UTF-8;
- expires: the Unix second at which the link stops working, in base 62;
- signature: an HMAC-SHA256 from django.core.signing.Signer (SECRET_KEY, rotated through
  SECRET_KEY_FALLBACKS), salted with the purpose so a token made for one purpose is refused
  for every other, and cut to 22 characters (131 bits).

Every character of a link counts against the 70 of a Chinese SMS, and a forger can only try
tokens against the server, where 2^131 guesses are out of reach; so the signature is cut
(as RFC 2104 §5 allows) instead of spending 43 characters on it. A token for a subject up to
a billion is 36 characters. Tokens use only [0-9A-Za-z._-], which needs no escaping in a URL
path and is kept whole by the link detection of phones and WeChat.
"""

import base64
import binascii
import time
import uuid
from datetime import UTC, datetime, timedelta

from django.core.signing import BadSignature, Signer, b62_decode, b62_encode
from django.utils.translation import gettext_lazy as _

from linli.core.errors import BilingualError

SEPARATOR = "."
SIGNATURE_CHARS = 22
_TEXT_SUBJECT = "_"
_UUID_SUBJECT = "-"
_B62_ALPHABET = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class LinkError(BilingualError):
    """A link that cannot be used; carries a code and one gettext message."""

    reason_code = "invalid"
    reason = _("this link is not valid; open the whole link from the SMS")

    def __init__(self) -> None:
        super().__init__(self.reason_code, self.reason)


class InvalidLink(LinkError):
    """Raised for a token that is malformed, altered, or made for another purpose."""


class ExpiredLink(LinkError):
    """Raised for an authentic token past its expiry.

    `subject` is authentic, so a page may offer to send a new link to that person; it must
    not show the person's data on the strength of an expired link. `expired_at` is aware (UTC).
    """

    reason_code = "expired"
    reason = _("this link has expired; ask your community for a new one")

    def __init__(self, *, subject: str, expired_at: datetime) -> None:
        super().__init__()
        self.subject = subject
        self.expired_at = expired_at


class _ShortSigner(Signer):
    """Django's Signer with the signature cut to SIGNATURE_CHARS (see the module docstring).

    Signer.unsign() compares through signature(), so keys, salt, key fallbacks and the
    constant-time comparison stay Django's.
    """

    def signature(self, value: bytes | str, key: bytes | str | None = None) -> str:
        return super().signature(value, key)[:SIGNATURE_CHARS]


def _signer(purpose: str) -> Signer:
    if not purpose:
        raise ValueError("a link needs a purpose")
    # The salt keeps the module's old name: links already texted to residents stay valid.
    return _ShortSigner(salt=f"linli.adapters.links:{purpose}", sep=SEPARATOR)


def _encode_subject(subject: str) -> str:
    if subject.isascii() and subject.isdigit() and str(int(subject)) == subject:
        return b62_encode(int(subject))
    if _is_canonical_uuid(subject):
        return _UUID_SUBJECT + b62_encode(uuid.UUID(subject).int)
    encoded = base64.urlsafe_b64encode(subject.encode()).decode().rstrip("=")
    return _TEXT_SUBJECT + encoded


def _is_canonical_uuid(subject: str) -> bool:
    try:
        return str(uuid.UUID(subject)) == subject
    except ValueError:
        return False


def _decode_subject(encoded: str) -> str:
    """Returns the subject; raises InvalidLink when `encoded` is not a subject's encoding."""
    if encoded.startswith(_UUID_SUBJECT):
        digits = encoded[1:]
        if not digits or not set(digits) <= _B62_ALPHABET or b62_decode(digits) >= 1 << 128:
            raise InvalidLink()
        return str(uuid.UUID(int=b62_decode(digits)))
    if encoded.startswith(_TEXT_SUBJECT):
        data = encoded[1:] + "=" * (-len(encoded[1:]) % 4)
        try:
            subject = base64.b64decode(data, altchars=b"-_", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidLink() from None
        if not subject:
            raise InvalidLink()
        return subject
    if not encoded or not set(encoded) <= _B62_ALPHABET:
        raise InvalidLink()
    return str(b62_decode(encoded))


def _timestamp(now: datetime | None) -> float:
    if now is None:
        return time.time()
    if now.tzinfo is None:
        raise ValueError("`now` must be an aware datetime")
    return now.timestamp()


def make_token(
    *, purpose: str, subject: str, max_age: timedelta, now: datetime | None = None
) -> str:
    """Returns a URL-safe token that read_token() turns back into `subject` until it expires.

    The token stops working `max_age` after `now` (the current time by default; an aware
    datetime). Raises ValueError for an empty purpose or subject or a max_age that is not
    positive.
    """
    if not subject:
        raise ValueError("a link needs a subject")
    if max_age <= timedelta(0):
        raise ValueError("max_age must be positive")
    expires = int(_timestamp(now) + max_age.total_seconds())
    value = f"{_encode_subject(subject)}{SEPARATOR}{b62_encode(expires)}"
    return _signer(purpose).sign(value)


def read_token(token: str, *, purpose: str, now: datetime | None = None) -> str:
    """Returns the subject a token was made for with this purpose.

    Raises InvalidLink when the token is malformed, altered, made with another purpose or
    another key; ExpiredLink when it is authentic but its time has passed (at `now`, the
    current time by default).
    """
    token = (token or "").strip()
    try:
        value = _signer(purpose).unsign(token)
    except BadSignature:
        raise InvalidLink() from None
    encoded_subject, sep, encoded_expiry = value.partition(SEPARATOR)
    if not sep or not encoded_expiry or not set(encoded_expiry) <= _B62_ALPHABET:
        raise InvalidLink()
    subject = _decode_subject(encoded_subject)
    expires = b62_decode(encoded_expiry)
    if _timestamp(now) >= expires:
        raise ExpiredLink(subject=subject, expired_at=datetime.fromtimestamp(expires, tz=UTC))
    return subject
