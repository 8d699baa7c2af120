"""Signing keys: the first one, rotation, retirement.

There is one active key at a time; rotation makes a new active key and turns the old one to
retiring (it signs nothing new, its passes verify until they expire); retiring a key refuses
its passes at once (a key thought stolen), and a new active key replaces it if it was the
active one.
"""

import base64
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from linli.audit.services import record_event
from linli.core.actors import Actor, AuditContext
from linli.core.identifiers import decrypt, encrypt
from linli.core.permissions import require
from linli.passes.models import KeyStatus, PassAction, SigningKey
from linli.passes.roles import KEY_KEEPERS


def current_signing_key() -> SigningKey:
    """Returns the active signing key, creating the deployment's first one (audited as the
    system's act) when there is none yet."""
    key = SigningKey.objects.filter(status=KeyStatus.ACTIVE).first()
    if key is not None:
        return key
    with transaction.atomic():
        # Locks nothing on SQLite, but the one-active-key constraint refuses a racing twin.
        key = SigningKey.objects.select_for_update().filter(status=KeyStatus.ACTIVE).first()
        if key is None:
            key = _new_key()
            record_event(action=PassAction.CREATE_KEY, subject=key)
    return key


def rotate_signing_key(*, by: Actor, context: AuditContext | None = None) -> SigningKey:
    """Makes a new active key and turns the previous active key to retiring; returns the
    new key. Raises PermissionDenied unless `by` keeps keys."""
    require(by, roles=KEY_KEEPERS)
    with transaction.atomic():
        previous = list(SigningKey.objects.select_for_update().filter(status=KeyStatus.ACTIVE))
        SigningKey.objects.filter(pk__in=[k.pk for k in previous]).update(status=KeyStatus.RETIRING)
        key = _new_key()
        record_event(
            action=PassAction.ROTATE_KEY,
            actor=by,
            context=context,
            subject=key,
            detail={"previous": [k.key_id for k in previous]},
        )
    return key


def retire_signing_key(
    *, key: SigningKey, by: Actor, context: AuditContext | None = None
) -> SigningKey:
    """Retires a key at once: every pass it signed is refused from now on. When it was the
    active key a new active key takes its place. Returns the retired key. Raises
    PermissionDenied unless `by` keeps keys."""
    require(by, roles=KEY_KEEPERS)
    with transaction.atomic():
        key = SigningKey.objects.select_for_update().get(pk=key.pk)
        was_active = key.status == KeyStatus.ACTIVE
        key.status = KeyStatus.RETIRED
        key.retired_at = timezone.now()
        key.save(update_fields=["status", "retired_at"])
        replacement = _new_key() if was_active else None
        record_event(
            action=PassAction.RETIRE_KEY,
            actor=by,
            context=context,
            subject=key,
            detail={"replacement": replacement.key_id if replacement else None},
        )
    return key


def private_key_of(key: SigningKey) -> Ed25519PrivateKey:
    """Returns the private half of a key, unsealed (kept in memory per sealed value: issuing
    a whole area signs thousands of passes)."""
    return _unseal(key.private_key_sealed)


@cache
def _unseal(sealed: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(decrypt(sealed)))


def _new_key() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    highest = SigningKey.objects.aggregate(highest=Max("key_id"))["highest"] or 0
    return SigningKey.objects.create(
        key_id=highest + 1,
        public_key=base64.b64encode(private.public_key().public_bytes_raw()).decode(),
        private_key_sealed=encrypt(base64.b64encode(private.private_bytes_raw()).decode()),
        status=KeyStatus.ACTIVE,
    )


@dataclass(frozen=True)
class SignedDocument:
    """A JSON text and its Ed25519 signature by the active key (for gates)."""

    key_id: int
    payload: str
    signature: str  # base64

    def as_dict(self) -> dict[str, object]:
        return {"key_id": self.key_id, "payload": self.payload, "signature": self.signature}


def sign_document(payload: str) -> SignedDocument:
    """Returns `payload` signed by the active key (the first key is made, and audited, when
    there is none). Ed25519 is deterministic: the same payload gives the same document."""
    key = current_signing_key()
    signature = private_key_of(key).sign(payload.encode())
    return SignedDocument(key.key_id, payload, base64.b64encode(signature).decode())
