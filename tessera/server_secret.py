"""The server secret (`TESSERA_SECRET_KEY`, or the `secret-key` file `tessera up` generates in
the data dir) and the keys derived from it, one per purpose with HKDF-SHA256, so no purpose's
key reveals another's.

Its keyed derivations are what a copy of the database cannot reproduce: a ticket's `owner` is an
HMAC of the API key, so guessing keys against a dump needs this secret too.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_LENGTH = 32
OWNER_PREFIX = "key-"
_SALT = b"tessera server secret v1"


def derive(secret: str, purpose: str, length: int = 32) -> bytes:
    """The key for one purpose (`ticket-owner`, `webhook-sealing`, ...)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=_SALT, info=purpose.encode())
    return hkdf.derive(secret.encode("utf-8"))


def owner_of(secret: str, key: str) -> str:
    """An API key's public identity, stored on its tickets and batches."""
    mac = hmac.new(derive(secret, "ticket-owner"), key.encode("utf-8"), hashlib.sha256)
    return OWNER_PREFIX + mac.hexdigest()[:16]


def webhook_sealing_key(secret: str) -> bytes:
    return derive(secret, "webhook-sealing")
