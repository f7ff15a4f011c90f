"""`Idempotency-Key` claims: a key names the ticket or batch its first accepted request made.

A key is claimed and bound to its resource in the one transaction that accepts the command, so
only accepted (202) requests are remembered: a refused request, or one whose API process or
database dies before the commit, leaves nothing, and its key works again at once. A concurrent
duplicate waits on the uncommitted claim (briefly), then replays or is told it is in flight.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from psycopg.errors import LockNotAvailable
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.domain.errors import IdempotencyKeyInFlight, IdempotencyKeyReused
from models.storage.tables import IdempotencyKey

R = TypeVar("R")

RETENTION = dt.timedelta(hours=24)
IN_FLIGHT_WAIT = "1s"  # how long a duplicate waits for the first request's commit


@dataclass(frozen=True)
class ClaimRequest:
    """What a request brings: who sends it, its key, and what it asks (its fingerprint)."""

    owner: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Claim:
    owner: str
    key: str
    replay_of: str | None  # the resource id of an earlier accepted request, if any


def fingerprint(method: str, path: str, body: Any) -> str:
    """Same method, path and JSON body (compared as parsed JSON) → same fingerprint."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def claim(session: Session, request: ClaimRequest) -> Claim:
    """In the transaction that accepts the command: take the key, or learn what it names.

    The key's row is inserted by the accepting transaction, so it exists only once that commits.
    A duplicate arriving meanwhile waits on the uncommitted row for at most `IN_FLIGHT_WAIT`:
    then it replays the first request's answer, or is told it is in flight if the first is
    still being accepted. If the first is refused or dies, its row never existed."""
    owner, key = request.owner, request.key
    session.execute(text(f"SET LOCAL lock_timeout = '{IN_FLIGHT_WAIT}'"))
    try:
        inserted = session.execute(
            insert(IdempotencyKey)
            .values(owner=owner, key=key, request_fingerprint=request.fingerprint)
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        ).scalar_one_or_none()
    except OperationalError as error:
        if isinstance(error.orig, LockNotAvailable):
            raise IdempotencyKeyInFlight from None
        raise
    session.execute(text("SET LOCAL lock_timeout = 0"))
    if inserted is not None:
        return Claim(owner, key, None)
    row, now = session.execute(
        select(IdempotencyKey, func.now())
        .where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
        .with_for_update(of=IdempotencyKey)
    ).one()
    # A committed row without a resource can only be a claim left by the former two-step
    # protocol; nobody is accepting it any more.
    if row.created_at < now - RETENTION or row.resource_id is None:
        row.request_fingerprint = request.fingerprint
        row.resource_id = None
        row.created_at = now
        return Claim(owner, key, None)
    if row.request_fingerprint != request.fingerprint:
        raise IdempotencyKeyReused
    return Claim(owner, key, row.resource_id)


def bind(session: Session, claim_: Claim, resource_id: str) -> None:
    """Inside the accepting transaction: the key now names what it created."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.owner == claim_.owner, IdempotencyKey.key == claim_.key)
        .values(resource_id=resource_id)
    )


_BIND_MANY = text(
    """
    UPDATE idempotency_keys AS k SET resource_id = v.resource_id
      FROM unnest(CAST(:owners AS text[]), CAST(:keys AS text[]), CAST(:resources AS text[]))
           AS v(owner, key, resource_id)
     WHERE k.owner = v.owner AND k.key = v.key
    """
)


def bind_many(session: Session, bound: list[tuple[Claim, str]]) -> None:
    """`bind` for many claims, in one statement."""
    if not bound:
        return
    session.execute(
        _BIND_MANY,
        {
            "owners": [claim_.owner for claim_, _ in bound],
            "keys": [claim_.key for claim_, _ in bound],
            "resources": [resource_id for _, resource_id in bound],
        },
    )


@dataclass(frozen=True)
class Replay:
    """The request repeats an accepted one: here is what that one created."""

    resource_id: str


def accept_once(
    session: Session,
    request: ClaimRequest | None,
    accept: Callable[[Session], R],
    resource_id: Callable[[R], str],
) -> R | Replay:
    """Run `accept` unless the request's key names an earlier accepted request; in the same
    transaction, bind the key to what `accept` created."""
    if request is None:
        return accept(session)
    claimed = claim(session, request)
    if claimed.replay_of is not None:
        return Replay(claimed.replay_of)
    accepted = accept(session)
    bind(session, claimed, resource_id(accepted))
    return accepted


def purge_expired(session: Session) -> int:
    """Forget keys past their retention (by the database's clock)."""
    deleted = session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < func.now() - RETENTION)
    )
    return int(getattr(deleted, "rowcount", 0) or 0)
