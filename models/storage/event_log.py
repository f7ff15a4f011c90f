"""Status updates of an event's tickets and registrations: built from outcomes, appended to the
event log in the same transaction as the change (with a webhook delivery per matching
subscription: the outbox), announced after commit, read back by SSE.

The log is the stream (`GET /events/{id}/updates`); Redis pub/sub only says "look now". Every
writer of an event's log rows holds that event's row lock, so ids within one event grow in
commit order and `id > cursor` never skips a row. Rows older than `RETENTION` are purged by the
sweeper and no longer replayed.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from models.domain.updates import (
    OFFER_ACCEPTED,
    OFFER_DECLINED,
    OFFER_EXPIRED,
    OFFER_MADE,
    REGISTRATION_DRAWN,
    REGISTRATION_PROMOTED,
    TICKET_COMPLETED,
    Update,
    promoted,
    promotions,
    settled,
    ticket_completed,
)
from models.storage.db import after_commit
from models.storage.tables import EventLogEntry

# The updates' vocabulary (`models.domain.updates`) is the log's too: its readers import it from
# here.
__all__ = [
    "MAX_READ",
    "OFFER_ACCEPTED",
    "OFFER_DECLINED",
    "OFFER_EXPIRED",
    "OFFER_MADE",
    "REGISTRATION_DRAWN",
    "REGISTRATION_PROMOTED",
    "RETENTION",
    "TICKET_COMPLETED",
    "Update",
    "append",
    "entries_after",
    "latest_id",
    "promoted",
    "promotions",
    "purge_expired",
    "settled",
    "ticket_completed",
]

# How far back a reconnecting stream can replay (`Last-Event-ID`), and so how long rows live.
RETENTION = dt.timedelta(hours=1)
MAX_READ = 1000


_APPEND = text(
    """
    WITH logged AS (
        INSERT INTO event_log (event_id, kind, payload)
        SELECT v.item->>0, v.item->>1, v.item->2
          FROM jsonb_array_elements(CAST(:updates AS jsonb)) WITH ORDINALITY AS v(item, n)
         ORDER BY v.n
        RETURNING id, kind, payload, created_at
    ), queued AS (
        INSERT INTO webhook_deliveries
               (webhook_id, message_id, kind, payload, message_at, next_attempt_at)
        SELECT w.webhook_id,
               'msg_' || left(encode(sha256(convert_to(l.id || '@' || l.created_at, 'UTF8')),
                                     'hex'), 32),
               l.kind, l.payload, l.created_at, now()
          FROM logged l
          JOIN webhooks w ON NOT w.disabled AND (l.kind = ANY (w.events) OR '*' = ANY (w.events))
        RETURNING webhook_id
    )
    SELECT id, ARRAY(SELECT DISTINCT webhook_id FROM queued) AS subscriptions FROM logged
    """
)


def append(session: Session, updates: list[Update]) -> list[Update]:
    """Write the updates to the event log, and a webhook delivery of each to every active
    subscription whose `events` match, and have them published (and the deliveries sent)
    once the transaction commits; return them carrying their log ids (the SSE `id:`).

    One statement over one JSON array, whatever the number of updates and subscriptions: the outbox
    rows are written by the same INSERT, from the rows it logs, so a delivery exists exactly
    when the change it reports committed (`models.storage.webhooks`). With no subscription, the join
    finds nothing and costs nothing measurable."""
    if not updates:
        return []
    # One JSON document, not text arrays: psycopg escapes every quote of every element of a
    # text[] in Python, which cost a 20,000-party draw seconds; one json.dumps costs a tenth.
    document = json.dumps([[u.event_id, u.kind, u.payload] for u in updates], separators=(",", ":"))
    rows = session.execute(_APPEND, {"updates": document}).all()
    # Identity values are drawn in insertion order (ORDER BY n), so our ids sorted ascending
    # are in the order of `updates`.
    ids = sorted(row.id for row in rows)
    subscriptions: list[str] = list(rows[0].subscriptions) if rows else []
    written = [
        Update(u.event_id, u.kind, u.payload, log_id)
        for u, log_id in zip(updates, ids, strict=True)
    ]
    after_commit(session, lambda messenger: messenger.publish(written))
    if subscriptions:
        after_commit(session, lambda messenger: messenger.deliver(subscriptions))
    return written


# --- reading it back --------------------------------------------------------------------


def entries_after(session: Session, event_id: str, after: int) -> list[Update]:
    """The event's entries with ids above `after` still within the replay window, in order."""
    rows = session.execute(
        select(EventLogEntry.id, EventLogEntry.kind, EventLogEntry.payload)
        .where(
            EventLogEntry.event_id == event_id,
            EventLogEntry.id > after,
            EventLogEntry.created_at > func.now() - RETENTION,
        )
        .order_by(EventLogEntry.id)
        .limit(MAX_READ)
    )
    return [Update(event_id, row.kind, row.payload, row.id) for row in rows]


def latest_id(session: Session, event_id: str) -> int:
    latest = session.scalar(
        select(func.max(EventLogEntry.id)).where(EventLogEntry.event_id == event_id)
    )
    return int(latest or 0)


def purge_expired(session: Session) -> int:
    """Delete entries past the replay window (by the database's clock, like the reads)."""
    deleted = session.execute(
        delete(EventLogEntry).where(EventLogEntry.created_at < func.now() - RETENTION)
    )
    return int(getattr(deleted, "rowcount", 0) or 0)
