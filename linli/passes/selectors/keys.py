"""The public keys gates verify with."""

import base64

from linli.passes.models import KeyStatus, SigningKey
from linli.passes.tokens import VerifyingKey


def verifying_keys() -> dict[int, VerifyingKey]:
    """Returns every key by id, retired ones marked (so a gate can say why it refuses)."""
    return {
        key.key_id: VerifyingKey(
            key_id=key.key_id,
            public_key=base64.b64decode(key.public_key),
            retired=key.status == KeyStatus.RETIRED,
        )
        for key in SigningKey.objects.only("key_id", "public_key", "status")
    }
