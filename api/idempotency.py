"""`Idempotency-Key` for the command endpoints, as the contract states it.

A key is claimed in its own short transaction (so a concurrent duplicate sees it "in flight"
and gets 409), then bound to the ticket or batch in the transaction that accepts the command.
A refused request releases the claim, so only accepted (202) requests are remembered. A claim
left by a crashed process is taken over after `STALE_CLAIM`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from api.errors import ApiError, FieldError, validation_error
from models.tables import IdempotencyKey

HEADER = "Idempotency-Key"
RETENTION = dt.timedelta(hours=24)
STALE_CLAIM = dt.timedelta(seconds=60)
_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]{1,255}$")


@dataclass(frozen=True)
class Claim:
    owner: str
    key: str
    replay_of: str | None  # the resource id of an earlier accepted request, if any


def key_from_request() -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not _PRINTABLE_ASCII.fullmatch(raw):
        raise validation_error([FieldError(HEADER, "must be 1-255 printable ASCII characters")])
    return raw


def fingerprint(method: str, path: str, body: Any) -> str:
    """Same method, path and JSON body (compared as parsed JSON) → same fingerprint."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def claim(sessions: sessionmaker[Session], owner: str, key: str, request_fingerprint: str) -> Claim:
    now = dt.datetime.now(dt.UTC)
    with sessions.begin() as session:
        inserted = session.execute(
            insert(IdempotencyKey)
            .values(owner=owner, key=key, request_fingerprint=request_fingerprint, created_at=now)
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        ).scalar_one_or_none()
        if inserted is not None:
            return Claim(owner, key, None)
        row = session.execute(
            select(IdempotencyKey)
            .where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
            .with_for_update()
        ).scalar_one()
        expired = row.created_at < now - RETENTION
        abandoned = row.resource_id is None and row.created_at < now - STALE_CLAIM
        if expired or abandoned:
            row.request_fingerprint = request_fingerprint
            row.resource_id = None
            row.created_at = now
            return Claim(owner, key, None)
        if row.request_fingerprint != request_fingerprint:
            raise ApiError(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used with a different request.",
            )
        if row.resource_id is None:
            raise ApiError(
                409,
                "IDEMPOTENCY_KEY_IN_FLIGHT",
                "A request with this Idempotency-Key is still being accepted; retry shortly.",
                headers={"Retry-After": "1"},
            )
        return Claim(owner, key, row.resource_id)


def bind(session: Session, claim_: Claim, resource_id: str) -> None:
    """Inside the accepting transaction: the key now names what it created."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.owner == claim_.owner, IdempotencyKey.key == claim_.key)
        .values(resource_id=resource_id)
    )


def release(sessions: sessionmaker[Session], claim_: Claim) -> None:
    """The request was refused: forget the claim so the key may be retried."""
    with sessions.begin() as session:
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.owner == claim_.owner,
                IdempotencyKey.key == claim_.key,
                IdempotencyKey.resource_id.is_(None),
            )
        )
