"""Identifiers at rest: encrypted, searchable through a keyed hash, shown masked.

A full ID number or phone is never stored in clear: the database holds an AES-GCM ciphertext
(opened only when a user reveals it with a purpose), an HMAC-SHA256 keyed hash (exact search and
deduplication without plaintext LIKE), and the masked form for display.
"""

import base64
import hashlib
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_NONCE_BYTES = 12


@cache
def _aead(data_key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(data_key.encode()).digest())


@cache
def _hmac_pads(hash_key: str) -> tuple[Any, Any]:
    """Returns SHA-256 states after the inner and outer HMAC pads of the key (RFC 2104).

    Copying them per value gives exactly hmac.new(key, value, sha256), about six times faster
    than building an HMAC per value (OpenSSL sets up a MAC context each time): imports hash
    tens of thousands of identifiers.
    """
    key = hash_key.encode()
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_SHA256_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
    return inner, outer


_SHA256_BLOCK = 64


def keyed_hash(kind: str, value: str) -> str:
    """Returns the hex HMAC-SHA256 of a normalised identifier under LINLI_HASH_KEY; `kind`
    keeps ID and phone spaces apart."""
    inner_pad, outer_pad = _hmac_pads(settings.LINLI_HASH_KEY)
    inner = inner_pad.copy()
    inner.update(f"{kind}:{value}".encode())
    outer = outer_pad.copy()
    outer.update(inner.digest())
    return outer.hexdigest()


def encrypt(value: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _aead(settings.LINLI_DATA_KEY).encrypt(nonce, value.encode(), None)
    return base64.b64encode(nonce + sealed).decode()


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
