"""Webhook secrets: made (`whsec_` + base64 of 32 random bytes), signed with (Standard
Webhooks), and sealed at rest so that a database dump alone does not reveal them.

Sealing is AES-256-GCM under a key derived from configuration, never the database: each
`TESSERA_WEBHOOK_KEY`, then the server secret's `webhook-sealing` key (HKDF, see
tessera/server_secret.py). The webhook's id is associated data, so a sealed secret copied onto
another subscription's row does not open. The first key seals (a configured TESSERA_WEBHOOK_KEY
if any, as before the server secret existed, else the server secret's), each opens what it
sealed (a sealed secret names its key by a short fingerprint), so keys can be rotated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tessera.server_secret import webhook_sealing_key

SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's prefix, not a secret
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"

_FORMAT = b"\x01"
_KEY_ID_BYTES = 4
_NONCE_BYTES = 12
_DERIVATION = b"tessera webhook secrets\x00"


class SecretUnavailable(Exception):
    """No configured key opens this sealed secret (none configured, or not the one it was
    sealed with)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signing_key(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for: the base64-decoded text after the prefix."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error as error:
        raise ValueError("not a whsec_ secret") from error


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


class SecretBox:
    """Seals and opens webhook secrets with the configured keys (the first one seals)."""

    def __init__(self, keys: Sequence[str], derived_keys: Sequence[bytes] = ()) -> None:
        derived = [hashlib.sha256(_DERIVATION + key.encode("utf-8")).digest() for key in keys]
        derived += list(derived_keys)
        self._keys = [(hashlib.sha256(k).digest()[:_KEY_ID_BYTES], AESGCM(k)) for k in derived]

    @classmethod
    def for_settings(cls, webhook_keys: Sequence[str], secret_key: str | None) -> SecretBox:
        derived = () if secret_key is None else (webhook_sealing_key(secret_key),)
        return cls(webhook_keys, derived)

    @property
    def can_seal(self) -> bool:
        return bool(self._keys)

    def seal(self, webhook_id: str, secret: str) -> bytes:
        if not self._keys:
            raise SecretUnavailable(
                "neither TESSERA_WEBHOOK_KEY nor TESSERA_SECRET_KEY is configured"
            )
        key_id, cipher = self._keys[0]
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = cipher.encrypt(nonce, secret.encode("utf-8"), webhook_id.encode("utf-8"))
        return _FORMAT + key_id + nonce + sealed

    def open(self, webhook_id: str, sealed: bytes) -> str:
        head, key_id = sealed[:1], sealed[1 : 1 + _KEY_ID_BYTES]
        nonce = sealed[1 + _KEY_ID_BYTES : 1 + _KEY_ID_BYTES + _NONCE_BYTES]
        body = sealed[1 + _KEY_ID_BYTES + _NONCE_BYTES :]
        if head != _FORMAT:
            raise SecretUnavailable("unknown sealed-secret format")
        for known_id, cipher in self._keys:
            if hmac.compare_digest(known_id, key_id):
                try:
                    return cipher.decrypt(nonce, body, webhook_id.encode("utf-8")).decode("utf-8")
                except InvalidTag:
                    break
        raise SecretUnavailable(
            "no configured TESSERA_WEBHOOK_KEY or TESSERA_SECRET_KEY opens this webhook's secret"
        )
