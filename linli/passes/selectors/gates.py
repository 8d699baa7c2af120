"""What gates read: public keys, the revocation list, and the server-side verdict.

None of it is personal: keys are public, the revocation list names pass numbers, and a
verdict repeats what the token itself carries in clear. So these reads take no user (see
docs/passes.md on why the gate endpoints are public).
"""

import json
import time
from dataclasses import dataclass

from django.db.models import Max
from django.utils import timezone

from linli.passes.models import PassRevocation, SigningKey
from linli.passes.selectors.keys import verifying_keys
from linli.passes.tokens import Verdict, verify

REVOCATIONS_FORMAT = "linli-revocations-1"


def public_keys() -> dict[str, object]:
    """Returns every key's id, public half (base64 of 32 bytes) and status."""
    return {
        "keys": [
            {"key_id": key.key_id, "public_key": key.public_key, "status": key.status}
            for key in SigningKey.objects.only("key_id", "public_key", "status")
        ]
    }


@dataclass(frozen=True)
class RevocationDelta:
    since: int
    version: int
    payload: str  # canonical JSON text, the bytes that get signed


def revocations_since(since: int) -> RevocationDelta:
    """Returns the revocations after version `since` whose passes have not expired, as the
    canonical JSON gates verify: {"format", "since", "version", "revoked": [[pass id,
    valid until (Unix s)], ...]}. `version` is the highest revocation id there is, so a gate
    asks `since=version` next. The text depends only on the list and the time passes
    expire, so it makes a stable ETag."""
    version = PassRevocation.objects.aggregate(highest=Max("id"))["highest"] or 0
    rows = (
        PassRevocation.objects.filter(pk__gt=since, valid_until__gt=timezone.now())
        .order_by("id")
        .values_list("revoked_pass_id", "valid_until")
    )
    version = max(version, since)
    payload = {
        "format": REVOCATIONS_FORMAT,
        "since": since,
        "version": version,
        "revoked": [[pass_id, int(until.timestamp())] for pass_id, until in rows],
    }
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    return RevocationDelta(since=since, version=version, payload=text)


class _RevokedPasses:
    """Answers `pass_id in revoked` with one query, for a single server-side verdict."""

    def __contains__(self, pass_id: object) -> bool:
        if not isinstance(pass_id, int):
            return False
        return PassRevocation.objects.filter(revoked_pass_id=pass_id).exists()


def verdict_on(token: str, *, area_code: str, now: int | None = None) -> Verdict:
    """Returns the verdict on a token at a gate of `area_code`, by the rules and in the order
    every gate applies (linli.passes.tokens.verify), against the current keys and list."""
    return verify(
        token,
        keys=verifying_keys(),
        revoked=_RevokedPasses(),
        area_code=area_code,
        now=int(time.time()) if now is None else now,
    )
