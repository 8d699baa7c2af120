"""The signed pass token: compact, and refused whenever anything about it is wrong."""

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import PermissionDenied

from linli.audit.models import AuditEvent
from linli.core.roles import Role
from linli.demo import factories as f
from linli.passes import tokens
from linli.passes.base45 import Base45Error, b45decode, b45encode
from linli.passes.models import KeyStatus, PassAction, SigningKey
from linli.passes.selectors.keys import verifying_keys
from linli.passes.services import keys as key_services

NOW = 1_800_000_000
AREA = "610113001001"


def claims(**changes) -> tokens.PassClaims:
    base = tokens.PassClaims(
        key_id=1,
        pass_id=123_456,
        kind="household",
        area_code=AREA,
        valid_from=NOW - 3600,
        valid_until=NOW + 7 * 86400,
        masked_name="张*伟",
        id_tail="123X",
        building="翠华小区3号楼",
        out_every_days=2,
        out_max_hours=4,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
def private_key():
    return Ed25519PrivateKey.generate()


def keys_for(private_key, *, key_id=1, retired=False):
    raw = private_key.public_key().public_bytes_raw()
    return {key_id: tokens.VerifyingKey(key_id=key_id, public_key=raw, retired=retired)}


def check(token, keys, *, area=AREA, now=NOW, revoked=()):
    return tokens.verify(token, keys=keys, revoked=set(revoked), area_code=area, now=now)


def test_base45_matches_rfc_9285_examples():
    """The encoder gives RFC 9285's examples and decodes them back; bad text is refused."""
    for data, text in [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581")]:
        assert b45encode(data) == text
        assert b45decode(text) == data
    assert b45decode("QED8WEX0") == b"ietf!"
    for bad in ["GGW", "ZZZ", "a", "BB8A", "€€"]:
        with pytest.raises(Base45Error):
            b45decode(bad)


def test_token_round_trips_and_is_compact(private_key):
    """A household pass is under 150 bytes, alphanumeric-QR text, and decodes to its claims."""
    token = tokens.encode(claims(), private_key)
    decoded, signed, signature = tokens.decode(token)
    assert decoded == claims()
    assert len(signed) + len(signature) <= 150
    assert token.startswith("LP1:")
    assert set(token) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    verdict = check(token, keys_for(private_key))
    assert verdict.valid and verdict.reason == "valid" and verdict.claims == claims()


def test_no_full_identifier_in_the_token(private_key):
    """Only the masked name and the ID number's last four characters travel."""
    decoded, signed, _ = tokens.decode(tokens.encode(claims(), private_key))
    assert "张伟".encode() not in signed
    assert decoded.id_tail == "123X"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pass_id", 123_457),
        ("kind", "staff"),
        ("area_code", "610113001002"),
        ("valid_from", NOW - 7200),
        ("valid_until", NOW + 30 * 86400),
        ("masked_name", "李*伟"),
        ("id_tail", "9999"),
        ("building", "翠华小区4号楼"),
        ("out_every_days", 1),
        ("out_max_hours", 12),
        ("medical_weekdays", 0b1111111),
        ("medical_from_hour", 1),
        ("medical_to_hour", 23),
    ],
)
def test_every_altered_field_is_refused(private_key, field, value):
    """A token whose claims are changed after signing is refused as altered."""
    original = tokens.encode(claims(), private_key)
    _, _, signature = tokens.decode(original)
    altered_body = tokens.body(claims(**{field: value}))
    forged = tokens.PREFIX + b45encode(altered_body + signature)
    verdict = check(forged, keys_for(private_key), area=claims(**{field: value}).area_code)
    assert not verdict.valid
    assert verdict.reason == tokens.Reason.BAD_SIGNATURE
    assert verdict.claims is None


def test_every_altered_byte_is_refused(private_key):
    """Flipping any bit of any byte, signature included, never yields a valid pass."""
    token = tokens.encode(claims(), private_key)
    data = b45decode(token[len(tokens.PREFIX) :])
    keys = keys_for(private_key)
    for index in range(len(data)):
        altered = bytearray(data)
        altered[index] ^= 0x01
        verdict = check(tokens.PREFIX + b45encode(bytes(altered)), keys)
        assert not verdict.valid, index


def test_altered_key_id_and_garbage_are_refused(private_key):
    """An unknown key id, a cut token, another prefix or random text are refused."""
    token = tokens.encode(claims(key_id=2), private_key)
    assert check(token, keys_for(private_key)).reason == tokens.Reason.UNKNOWN_KEY
    good = tokens.encode(claims(), private_key)
    for bad in [good[:-3], good[:40], "HC1:" + good[4:], "hello", "", good + "00"]:
        assert check(bad, keys_for(private_key)).reason == tokens.Reason.MALFORMED, bad


def test_wrong_key_is_refused(private_key):
    """A token signed by another key under the same key id is refused as altered."""
    token = tokens.encode(claims(), Ed25519PrivateKey.generate())
    assert check(token, keys_for(private_key)).reason == tokens.Reason.BAD_SIGNATURE


def test_expired_and_early_tokens_are_refused(private_key):
    """Valid from valid_from (included) to valid_until (excluded)."""
    token = tokens.encode(claims(), private_key)
    keys = keys_for(private_key)
    assert check(token, keys, now=NOW + 7 * 86400).reason == tokens.Reason.EXPIRED
    assert check(token, keys, now=NOW + 7 * 86400 - 1).valid
    assert check(token, keys, now=NOW - 3601).reason == tokens.Reason.NOT_YET_VALID


def test_other_area_is_refused(private_key):
    """A pass of community A is refused at a gate checking for community B."""
    token = tokens.encode(claims(), private_key)
    verdict = check(token, keys_for(private_key), area="610113001002")
    assert verdict.reason == tokens.Reason.WRONG_AREA
    assert verdict.claims.masked_name == "张*伟"


def test_revoked_pass_is_refused(private_key):
    token = tokens.encode(claims(), private_key)
    assert check(token, keys_for(private_key), revoked=[123_456]).reason == tokens.Reason.REVOKED


def test_long_texts_are_cut_at_a_character(private_key):
    """A building name too long for the format is cut whole characters at a time."""
    token = tokens.encode(claims(building="很" * 40), private_key)
    decoded, _, _ = tokens.decode(token)
    assert decoded.building == "很" * 20


def _sign(key: SigningKey, **changes) -> str:
    return tokens.encode(claims(key_id=key.key_id, **changes), key_services.private_key_of(key))


@pytest.mark.django_db
def test_first_key_is_created_once_and_sealed():
    """The first key is made on demand, audited, and its private half is not stored clear."""
    key = key_services.current_signing_key()
    assert key_services.current_signing_key() == key
    assert SigningKey.objects.count() == 1
    assert AuditEvent.objects.filter(action=PassAction.CREATE_KEY).count() == 1
    raw = key_services.private_key_of(key).private_bytes_raw()
    assert raw.hex() not in key.private_key_sealed
    assert check(_sign(key), verifying_keys()).valid


@pytest.mark.django_db
def test_rotated_key_still_verifies_its_passes(world):
    """After rotation new passes use the new key and old ones verify until they expire."""
    city = f.make_staff(username="city", role=Role.CITY_OFFICER, areas=[world.city])
    old = key_services.current_signing_key()
    old_token = _sign(old)
    new = key_services.rotate_signing_key(by=city)
    old.refresh_from_db()
    assert old.status == KeyStatus.RETIRING and new.status == KeyStatus.ACTIVE
    assert key_services.current_signing_key() == new
    assert new.key_id != old.key_id
    keys = verifying_keys()
    assert check(old_token, keys).valid
    assert check(_sign(new), keys).valid
    assert check(old_token, keys, now=NOW + 8 * 86400).reason == tokens.Reason.EXPIRED


@pytest.mark.django_db
def test_retired_key_is_refused_at_once(world):
    """Retiring the active key refuses its passes and puts a new active key in its place."""
    city = f.make_staff(username="city", role=Role.CITY_OFFICER, areas=[world.city])
    key = key_services.current_signing_key()
    token = _sign(key)
    key_services.retire_signing_key(key=key, by=city)
    assert check(token, verifying_keys()).reason == tokens.Reason.RETIRED_KEY
    replacement = key_services.current_signing_key()
    assert replacement.key_id != key.key_id
    assert check(_sign(replacement), verifying_keys()).valid
    assert AuditEvent.objects.filter(action=PassAction.RETIRE_KEY).count() == 1


@pytest.mark.django_db
def test_only_key_keepers_rotate_or_retire(world):
    """A community lead may not rotate or retire the deployment's keys."""
    key = key_services.current_signing_key()
    with pytest.raises(PermissionDenied):
        key_services.rotate_signing_key(by=world.lead_a)
    with pytest.raises(PermissionDenied):
        key_services.retire_signing_key(key=key, by=world.lead_a)
    key.refresh_from_db()
    assert key.status == KeyStatus.ACTIVE
