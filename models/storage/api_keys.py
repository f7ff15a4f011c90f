"""API keys made at run time: their storage as digests, and the units of work behind `/keys`
and `tessera keys`.

A key's secret is `tsk_` + 32 random bytes (base64url). Only its SHA-256 is stored: a keyed
derivation buys nothing against a 256-bit random secret (there is no guess to test), and a
plain digest lets every API process find a key from one in-memory table.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session
from ulid import ULID

from models.domain.errors import KeyNotFound
from models.storage.tables import ApiKeyRecord

SECRET_PREFIX = "tsk_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32
ROLES = ("admin", "client")
# The owner (of tickets, batches, idempotency keys) of a key made here: from its id, so
# nothing about the secret is ever stored beside what it created.
OWNER_PREFIX = "rk-"


@dataclass(frozen=True)
class KeyView:
    key_id: str
    name: str
    role: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None


@dataclass(frozen=True)
class KnownKey:
    """What an API process keeps in memory per key: enough to authenticate, nothing secret."""

    key_id: str
    role: str

    @property
    def owner(self) -> str:
        return OWNER_PREFIX + self.key_id


def new_secret() -> str:
    raw = secrets.token_bytes(SECRET_BYTES)
    return SECRET_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def _view(row: ApiKeyRecord) -> KeyView:
    return KeyView(row.key_id, row.name, row.role, row.created_at, row.last_used_at)


def create(session: Session, name: str, role: str) -> tuple[KeyView, str]:
    """A new key and its secret (returned only here: it is never stored)."""
    secret = new_secret()
    row = ApiKeyRecord(key_id=str(ULID()), name=name, role=role, digest=digest(secret))
    session.add(row)
    session.flush()
    session.refresh(row)
    return _view(row), secret


def list_all(session: Session) -> list[KeyView]:
    rows = session.scalars(select(ApiKeyRecord).order_by(ApiKeyRecord.key_id))
    return [_view(row) for row in rows]


def remove(session: Session, key_id: str) -> None:
    gone = session.execute(
        delete(ApiKeyRecord).where(ApiKeyRecord.key_id == key_id).returning(ApiKeyRecord.key_id)
    ).first()
    if gone is None:
        raise KeyNotFound(key_id)


def known(session: Session) -> dict[bytes, KnownKey]:
    """Every key by digest: what an API process answers from memory."""
    rows = session.execute(select(ApiKeyRecord.digest, ApiKeyRecord.key_id, ApiKeyRecord.role))
    return {bytes(d): KnownKey(key_id, role) for d, key_id, role in rows}


def record_use(session: Session, used: Mapping[str, dt.datetime]) -> None:
    """Move `lastUsedAt` forward for many keys in one statement (never backwards: processes
    flush out of order)."""
    if not used:
        return
    params: Sequence[dict[str, object]] = [
        {"k": key_id, "at": at} for key_id, at in sorted(used.items())
    ]
    statement = (
        update(ApiKeyRecord)
        .where(ApiKeyRecord.key_id == bindparam("k"))
        .where(
            (ApiKeyRecord.last_used_at.is_(None)) | (ApiKeyRecord.last_used_at < bindparam("at"))
        )
        .values(last_used_at=bindparam("at"))
    )
    session.connection().execute(statement, params)
