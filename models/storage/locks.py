"""Every lock Tessera takes to order its writes, in one table: the hardest rule in the system is
per-event order, and these are its keys.

- **applier**: advisory `hashtextextended(event_id, APPLIER_SPACE)`, transaction-scoped. Taken
  (try) by the worker applying an event's tickets, (wait) by `fail_ticket`. One applier per
  event: a second worker leaves at once instead of queueing behind the first.
- **accept bucket**: advisory `(ACCEPT_SPACE, hashtext(event_id) & ACCEPT_MASK)`, transaction-
  scoped, EXCLUSIVE. Held by every transaction that inserts tickets, from before it draws their
  `seq` until it commits. So within a bucket, accepting transactions commit one after another
  in `seq` order, and the committed tickets of an event are always a `seq`-prefix of all its
  tickets: an applier that reads the pending ones `ORDER BY seq` applies in `seq` order with no
  barrier. (Accepts are group-committed, one transaction per API process at a time, so this
  serialises a few transactions per second per bucket, not requests.)
- **event row**: `SELECT … FOR UPDATE` on `events`, by the applier and every synchronous seat
  change (capacity change, user deletion): one writer of an event's seats at a time.
- **user row**: `SELECT … FOR UPDATE` on `users`, after the rows of the user's events, by user
  deletion: no new place can be taken for a user being deleted. The applier share-locks the
  users it seats (`FOR KEY SHARE`, `models.storage.seats.existing_user_ids`).
- **migrations**: advisory `MIGRATION_KEY`, session-scoped, by `tessera migrate` (the Alembic
  env): concurrent migrations (several containers starting) run one after another.

Lock order, to stay free of deadlocks: applier lock, then event rows in event-id order, then the
user row. Accept buckets are taken in bucket order, before anything else of the transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, TextualSelect, column, select, text
from sqlalchemy.orm import Session

from models.storage.tables import Event, User

APPLIER_SPACE = 7426
ACCEPT_SPACE = 7427
# Buckets, not events, so that a 10,000-event batch holds at most ACCEPT_BUCKETS locks.
ACCEPT_BUCKETS = 1024
ACCEPT_MASK = ACCEPT_BUCKETS - 1
MIGRATION_KEY = 7426001

# The accept bucket locks of the events `:event_ids`, in bucket order; a statement may run it
# inline, as a subquery (one round trip, not two), with `ACCEPT_PARAMS`.
ACCEPT_LOCKS = (
    "SELECT pg_advisory_xact_lock(:accept_space, b) FROM ("
    " SELECT DISTINCT hashtext(e) & :accept_mask AS b"
    " FROM unnest(CAST(:event_ids AS text[])) AS e ORDER BY 1) AS buckets"
)
ACCEPT_PARAMS = {"accept_space": ACCEPT_SPACE, "accept_mask": ACCEPT_MASK}


def take_event(session: Session, event_id: str) -> None:
    """Become the event's applier for this transaction, waiting for the current one."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:event_id, :space))"),
        {"event_id": event_id, "space": APPLIER_SPACE},
    )


def hold_accept_locks(session: Session, event_ids: Collection[str]) -> None:
    """Until this transaction ends, no other can accept tickets for the events' buckets."""
    if not event_ids:
        return
    session.execute(text(ACCEPT_LOCKS), {**ACCEPT_PARAMS, "event_ids": sorted(event_ids)})


_TAKE_PENDING_EVENTS = text(
    """
    WITH RECURSIVE pending AS (
            -- each event's first pending ticket, one step of the partial index (event, seq)
            -- per event: a GROUP BY read every pending ticket, 5 ms a pass with 100,000 waiting
            (SELECT event_id, seq FROM tickets WHERE status = 'pending'
              ORDER BY event_id, seq LIMIT 1)
            UNION ALL
            SELECT next.event_id, next.seq FROM pending AS p
             CROSS JOIN LATERAL (
                    SELECT event_id, seq FROM tickets
                     WHERE status = 'pending' AND event_id > p.event_id
                     ORDER BY event_id, seq LIMIT 1) AS next),
         waiting AS MATERIALIZED (
            SELECT event_id, min(first) AS first FROM (
                SELECT event_id, seq AS first FROM pending
                UNION ALL
                -- an offer that ran out is ended by the event's applier, in the event's order;
                -- it goes first: its lag is bounded by the contract
                SELECT event_id, 0 FROM events
                 WHERE next_offer_expiry <= now()
                UNION ALL
                -- an on-sale draw that is due (#24): drawn by the applier before anything
                -- accepted at or after the opening
                SELECT event_id, 0 FROM events
                 WHERE draw_due_at <= now()
            ) AS work GROUP BY event_id),
         taken AS (
            SELECT event_id FROM (SELECT event_id FROM waiting ORDER BY first) AS oldest_first
             WHERE pg_try_advisory_xact_lock(hashtextextended(event_id, :space))
             LIMIT :limit)
    SELECT ARRAY(SELECT event_id FROM taken) AS taken, (SELECT count(*) FROM waiting) AS waiting,
           date_trunc('milliseconds', now()) AS now
    """
).columns(column("taken"), column("waiting"), column("now"))


@dataclass(frozen=True)
class Taken:
    events: list[str]  # this transaction is their applier now, those waiting longest first
    others_busy: bool  # nothing taken, though tickets wait: other workers are applying them
    now: dt.datetime  # the transaction's clock (the database's)


def take_pending_events(session: Session, limit: int) -> Taken:
    """Become, for this transaction, the applier of up to `limit` events with pending tickets
    or an open offer past its end, those waiting longest first (offers first), passing over
    the events another worker is applying. The try-lock runs row by row under the LIMIT, so
    no event is locked without being returned; and since one statement sees one snapshot,
    "busy" really means held by another worker, never "a ticket arrived meanwhile"."""
    row = session.execute(
        _TAKE_PENDING_EVENTS,
        {"space": APPLIER_SPACE, "limit": limit},
    ).one()
    events = list(row.taken)
    return Taken(events, others_busy=not events and row.waiting > 0, now=row.now)


def lock_event_rows(session: Session, event_ids: Collection[str], *columns: Any) -> list[Row[Any]]:
    """Lock the events' rows `FOR UPDATE`, in event-id order, reading `event_id` and `columns`
    of each; events that do not exist are simply absent."""
    if not event_ids:
        return []
    names = tuple(each.expression.name for each in columns)
    return list(session.execute(_lock_rows_statement(names), {"event_ids": sorted(event_ids)}))


@functools.cache
def _lock_rows_statement(names: tuple[str, ...]) -> TextualSelect:
    """Built once per set of columns, with its result columns declared: SQLAlchemy then reuses
    the result's description instead of building it, and no cache key is computed per call (a
    Core select of the ~35 seat columns cost ~800 Python calls a pass, a fifth of a one-ticket
    pass; ~250 as text with declared columns)."""
    table = Event.__table__
    return text(
        f"SELECT {', '.join(('event_id', *names))} FROM events"  # noqa: S608 - column names
        " WHERE event_id = ANY(CAST(:event_ids AS text[])) ORDER BY event_id FOR UPDATE"
    ).columns(*(table.c[name] for name in ("event_id", *names)))


def lock_user_row(session: Session, user_id: str) -> bool:
    """Lock the user's row `FOR UPDATE` (after their events'); False if there is none."""
    found = session.execute(
        select(User.user_id).where(User.user_id == user_id).with_for_update()
    ).one_or_none()
    return found is not None
