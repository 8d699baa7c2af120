"""The pass token: what a pass's QR code holds, and how any gate checks it without a network.

The byte layout is documented for other gate systems in docs/passes-token.md; this module is
its reference implementation. A token is the text `LP1:` followed by the base45 (RFC 9285)
of a binary body and its Ed25519 signature. The body holds only what a guard needs to see
(the masked name, the last four characters of the ID number, the household's building) and
what the gate needs to decide (key id, pass id, kind, area code, validity, usage rules); no
full identifier. A household pass for 张*伟 in 翠华小区3号楼 is 122 bytes, 187 QR
characters: a version 8 code at level M, about 0.7 mm a module when printed 35 mm wide.

Nothing here touches the database: `verify` is given the keys and the revoked pass ids, so
the server's verify endpoint, the bench and (ported to JavaScript) the gate page apply the
same rules in the same order.
"""

import struct
from collections.abc import Container, Mapping
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.utils.translation import gettext_lazy as _

from linli.passes.base45 import Base45Error, b45decode, b45encode

PREFIX = "LP1:"
VERSION = 1
SIGNATURE_BYTES = 64
# Version, key id, pass id, kind, area code (5 bytes), valid from, valid until, five rule
# bytes, the ID number's last four characters.
_HEAD = struct.Struct(">BHIB5sII5B4s")
MAX_NAME_BYTES = 30
MAX_BUILDING_BYTES = 60
NO_ID_TAIL = "\0\0\0\0"

# Kinds travel as one byte; the codes are part of the format and never change meaning.
KIND_CODES = {"household": 1, "staff": 2, "medical": 3, "vehicle": 4}
KINDS_BY_CODE = {code: kind for kind, code in KIND_CODES.items()}


class Reason:
    """Why a token is refused (codes are part of the verify API and the gate page)."""

    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    RETIRED_KEY = "retired_key"
    WRONG_AREA = "wrong_area"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"


MESSAGES = {
    "valid": _("Valid pass"),
    Reason.MALFORMED: _("Not a pass: the code cannot be read as one"),
    Reason.UNKNOWN_KEY: _("Signed with a key this gate does not know: refresh the keys"),
    Reason.BAD_SIGNATURE: _("Forged or altered pass: the signature does not match"),
    Reason.RETIRED_KEY: _("Signed with a withdrawn key: the pass must be reissued"),
    Reason.WRONG_AREA: _("Pass of another area"),
    Reason.NOT_YET_VALID: _("Pass not valid yet"),
    Reason.EXPIRED: _("Pass expired"),
    Reason.REVOKED: _("Pass revoked"),
}


@dataclass(frozen=True)
class PassClaims:
    """What a token says. Times are Unix seconds; the pass is valid from `valid_from`
    (included) to `valid_until` (excluded). A rule byte of 0 means "no such rule"."""

    key_id: int
    pass_id: int
    kind: str
    area_code: str
    valid_from: int
    valid_until: int
    masked_name: str
    id_tail: str = ""
    building: str = ""
    out_every_days: int = 0
    out_max_hours: int = 0
    medical_weekdays: int = 0  # bit 0 Monday … bit 6 Sunday
    medical_from_hour: int = 0
    medical_to_hour: int = 0
    version: int = VERSION


@dataclass(frozen=True)
class VerifyingKey:
    """A public key as a gate holds it: its id, 32 raw bytes, and whether it was retired."""

    key_id: int
    public_key: bytes
    retired: bool = False


@dataclass(frozen=True)
class Verdict:
    """The answer at a gate: valid or not, the reason code, and the claims when the token
    could be read and its signature checked (so a guard sees whose pass was refused)."""

    valid: bool
    reason: str
    claims: PassClaims | None = None

    @property
    def message(self) -> str:
        return str(MESSAGES[self.reason])


class TokenFormatError(ValueError):
    """Raised by decode() for text that is not a well-formed version 1 token."""


def _utf8_field(text: str, limit: int) -> bytes:
    """Returns the UTF-8 of `text` cut at a character boundary to at most `limit` bytes."""
    data = text.encode()
    while len(data) > limit:
        text = text[:-1]
        data = text.encode()
    return data


def body(claims: PassClaims) -> bytes:
    """Returns the signed part of a token. Raises ValueError for claims the format cannot
    carry (an area code that is not 12 digits, an ID tail that is not 4 characters, values
    out of their byte ranges)."""
    if claims.kind not in KIND_CODES:
        raise ValueError(f"unknown pass kind {claims.kind!r}")
    if len(claims.area_code) != 12 or not claims.area_code.isdigit():
        raise ValueError("an area code is 12 digits")
    id_tail = claims.id_tail or NO_ID_TAIL
    if len(id_tail) != 4 or not id_tail.isascii():
        raise ValueError("the ID tail is 4 ASCII characters")
    name = _utf8_field(claims.masked_name, MAX_NAME_BYTES)
    building = _utf8_field(claims.building, MAX_BUILDING_BYTES)
    head = _HEAD.pack(
        claims.version,
        claims.key_id,
        claims.pass_id,
        KIND_CODES[claims.kind],
        int(claims.area_code).to_bytes(5, "big"),
        claims.valid_from,
        claims.valid_until,
        claims.out_every_days,
        claims.out_max_hours,
        claims.medical_weekdays,
        claims.medical_from_hour,
        claims.medical_to_hour,
        id_tail.encode("ascii"),
    )
    return head + bytes([len(name)]) + name + bytes([len(building)]) + building


def encode(claims: PassClaims, private_key: Ed25519PrivateKey) -> str:
    """Returns the token text of the claims signed with `private_key`."""
    signed = body(claims)
    return PREFIX + b45encode(signed + private_key.sign(signed))


def decode(token: str) -> tuple[PassClaims, bytes, bytes]:
    """Returns (claims, signed body, signature) of a token, unchecked.

    Raises TokenFormatError when the text is not a version 1 token: another prefix, not
    base45, a wrong length, an unknown version or kind, text that is not UTF-8."""
    token = (token or "").strip()
    if not token.startswith(PREFIX):
        raise TokenFormatError("prefix")
    try:
        data = b45decode(token[len(PREFIX) :])
    except Base45Error:
        raise TokenFormatError("base45") from None
    if len(data) < _HEAD.size + 2 + SIGNATURE_BYTES:
        raise TokenFormatError("short")
    signed, signature = data[:-SIGNATURE_BYTES], data[-SIGNATURE_BYTES:]
    (version, key_id, pass_id, kind, area, start, end, *rules, id_tail) = _HEAD.unpack_from(signed)
    if version != VERSION or kind not in KINDS_BY_CODE:
        raise TokenFormatError("version or kind")
    offset = _HEAD.size
    texts = []
    for _field in ("name", "building"):
        if offset >= len(signed):
            raise TokenFormatError("short")
        length = signed[offset]
        raw = signed[offset + 1 : offset + 1 + length]
        if len(raw) != length:
            raise TokenFormatError("short")
        try:
            texts.append(raw.decode())
        except UnicodeDecodeError:
            raise TokenFormatError("utf-8") from None
        offset += 1 + length
    if offset != len(signed):
        raise TokenFormatError("trailing bytes")
    try:
        tail = id_tail.decode("ascii")
    except UnicodeDecodeError:
        raise TokenFormatError("id tail") from None
    claims = PassClaims(
        version=version,
        key_id=key_id,
        pass_id=pass_id,
        kind=KINDS_BY_CODE[kind],
        area_code=f"{int.from_bytes(area, 'big'):012d}",
        valid_from=start,
        valid_until=end,
        masked_name=texts[0],
        id_tail="" if tail == NO_ID_TAIL else tail,
        building=texts[1],
        out_every_days=rules[0],
        out_max_hours=rules[1],
        medical_weekdays=rules[2],
        medical_from_hour=rules[3],
        medical_to_hour=rules[4],
    )
    return claims, signed, signature


@cache
def _public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def verify(
    token: str,
    *,
    keys: Mapping[int, VerifyingKey],
    revoked: Container[int],
    area_code: str,
    now: int,
) -> Verdict:
    """Returns the verdict on a token at a gate of `area_code` at Unix second `now`.

    The checks run in this order, the first failure giving the reason: readable (malformed),
    key known (unknown_key), signature (bad_signature), key not retired (retired_key), area
    (wrong_area), validity (not_yet_valid, expired), revocation (revoked). A key still in use
    or retiring verifies; only a retired one is refused. Claims are returned once the
    signature holds, never before: a forged token names no one."""
    try:
        claims, signed, signature = decode(token)
    except TokenFormatError:
        return Verdict(False, Reason.MALFORMED)
    key = keys.get(claims.key_id)
    if key is None:
        return Verdict(False, Reason.UNKNOWN_KEY)
    try:
        _public_key(key.public_key).verify(signature, signed)
    except InvalidSignature:
        return Verdict(False, Reason.BAD_SIGNATURE)
    if key.retired:
        return Verdict(False, Reason.RETIRED_KEY, claims)
    if claims.area_code != area_code:
        return Verdict(False, Reason.WRONG_AREA, claims)
    if now < claims.valid_from:
        return Verdict(False, Reason.NOT_YET_VALID, claims)
    if now >= claims.valid_until:
        return Verdict(False, Reason.EXPIRED, claims)
    if claims.pass_id in revoked:
        return Verdict(False, Reason.REVOKED, claims)
    return Verdict(True, "valid", claims)
