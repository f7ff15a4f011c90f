"""The on-sale draw's arithmetic (pure): the commitment to a seed, each party's key and the
drawn order (CONTRACT.md v3, "The on-sale draw").

Everything here is a function of bytes anyone holding the ledger has after the draw: the seed
(revealed by the draw's entry), the closing hash (the previous entry's `hash`) and the user
ids. Nothing depends on when or in which order the parties arrived.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

SEED_BYTES = 32
_HEX64 = re.compile(r"[0-9a-f]{64}")


def is_digest(value: object) -> bool:
    """A lowercase hex SHA-256, as commitments, seeds and hashes are written."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def commitment(seed: bytes) -> str:
    """What is published before the pre-queue opens: the lowercase hex SHA-256 of the seed."""
    if len(seed) != SEED_BYTES:
        raise ValueError(f"a draw seed is {SEED_BYTES} bytes, not {len(seed)}")
    return hashlib.sha256(seed).hexdigest()


def key(seed: bytes, closing_hash: str, user_id: str) -> str:
    """A party's key: hex SHA-256 of seed ‖ closingHash (32 raw bytes) ‖ UTF-8(userId)."""
    return hashlib.sha256(seed + bytes.fromhex(closing_hash) + user_id.encode()).hexdigest()


def order(seed: bytes, closing_hash: str, user_ids: Iterable[str]) -> list[tuple[str, str]]:
    """(key, userId) of every party, in drawn order: ascending key. Two ids never share a key
    (that would be a SHA-256 collision); the id breaks the tie anyway, so the order is total."""
    if not is_digest(closing_hash):
        raise ValueError(f"the closing hash must be 64 lowercase hex digits: {closing_hash!r}")
    return sorted((key(seed, closing_hash, user_id), user_id) for user_id in set(user_ids))
