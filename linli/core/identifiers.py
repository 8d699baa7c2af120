"""Identifiers at rest: encrypted, searchable through a keyed hash, shown masked.

A full ID number or phone is never stored in clear: the database holds an AES-GCM ciphertext
(opened only when a user reveals it with a purpose), an HMAC-SHA256 keyed hash (exact search and
deduplication without plaintext LIKE), and the masked form for display.
"""

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_NONCE_BYTES = 12


@cache
def _aead(data_key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(data_key.encode()).digest())


def _hash_key() -> bytes:
    return settings.LINLI_HASH_KEY.encode()


def keyed_hash(kind: str, value: str) -> str:
    """Returns the hex HMAC of a normalised identifier; `kind` keeps ID and phone spaces apart."""
    # hmac.digest is the one-shot C path: an import hashes tens of thousands of values.
    return hmac.digest(_hash_key(), f"{kind}:{value}".encode(), "sha256").hex()


def encrypt(value: str) -> str:
    return base64.b64encode(encrypt_bytes(value.encode())).decode()


def encrypt_bytes(data: bytes) -> bytes:
    """Returns nonce + AES-GCM ciphertext of `data` (uploaded files at rest)."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + _aead(settings.LINLI_DATA_KEY).encrypt(nonce, data, None)


def decrypt_bytes(sealed: bytes) -> bytes:
    return _aead(settings.LINLI_DATA_KEY).decrypt(
        sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], None
    )


def decrypt(token: str) -> str:
    return decrypt_bytes(base64.b64decode(token)).decode()


@dataclass(frozen=True)
class SealedIdentifier:
    """What the database stores for one identifier value."""

    encrypted: str
    hashed: str
    masked: str


def seal(kind: str, value: str, masked: str) -> SealedIdentifier:
    return SealedIdentifier(encrypted=encrypt(value), hashed=keyed_hash(kind, value), masked=masked)
