"""`Idempotency-Key` for the command endpoints, as the contract states it.

A key is claimed and bound to its ticket or batch in the one transaction that accepts the
command, so only accepted (202) requests are remembered: a refused request, or one whose API
process or database dies before the commit, leaves nothing, and its key works again at once.
A concurrent duplicate waits on the uncommitted claim (briefly), then replays or gets 409.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from flask import request
from psycopg.errors import LockNotAvailable
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from api.errors import ApiError, FieldError, validation_error
from models.tables import IdempotencyKey

HEADER = "Idempotency-Key"
RETENTION = dt.timedelta(hours=24)
IN_FLIGHT_WAIT = "1s"  # how long a duplicate waits for the first request's commit
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


def claim(session: Session, owner: str, key: str, request_fingerprint: str) -> Claim:
    """In the transaction that accepts the command: take the key, or learn what it names.

    The key's row is inserted by the accepting transaction, so it exists only once that commits.
    A duplicate arriving meanwhile waits on the uncommitted row for at most `IN_FLIGHT_WAIT`:
    then it replays the first request's answer, or is told 409 IN_FLIGHT if the first is still
    being accepted. If the first is refused or dies, its row never existed."""
    now = dt.datetime.now(dt.UTC)
    session.execute(text(f"SET LOCAL lock_timeout = '{IN_FLIGHT_WAIT}'"))
    try:
        inserted = session.execute(
            insert(IdempotencyKey)
            .values(owner=owner, key=key, request_fingerprint=request_fingerprint, created_at=now)
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        ).scalar_one_or_none()
    except OperationalError as error:
        if isinstance(error.orig, LockNotAvailable):
            raise ApiError(
                409,
                "IDEMPOTENCY_KEY_IN_FLIGHT",
                "A request with this Idempotency-Key is still being accepted; retry shortly.",
                headers={"Retry-After": "1"},
            ) from None
        raise
    session.execute(text("SET LOCAL lock_timeout = 0"))
    if inserted is not None:
        return Claim(owner, key, None)
    row = session.execute(
        select(IdempotencyKey)
        .where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
        .with_for_update()
    ).scalar_one()
    # A committed row without a resource can only be a claim left by the former two-step
    # protocol; nobody is accepting it any more.
    if row.created_at < now - RETENTION or row.resource_id is None:
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
    return Claim(owner, key, row.resource_id)


def bind(session: Session, claim_: Claim, resource_id: str) -> None:
    """Inside the accepting transaction: the key now names what it created."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.owner == claim_.owner, IdempotencyKey.key == claim_.key)
        .values(resource_id=resource_id)
    )
