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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from models.db import after_commit
from models.results import rfc3339
from models.rules import (
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    Outcome,
    offers_by,
    promoted_by,
)
from models.tables import EventLogEntry
from models.tickets import TicketView

TICKET_COMPLETED = "ticket.completed"
REGISTRATION_PROMOTED = "registration.promoted"
OFFER_MADE = "offer.made"
OFFER_ACCEPTED = "offer.accepted"
OFFER_DECLINED = "offer.declined"
OFFER_EXPIRED = "offer.expired"

# How far back a reconnecting stream can replay (`Last-Event-ID`), and so how long rows live.
RETENTION = dt.timedelta(hours=1)
MAX_READ = 1000


@dataclass(frozen=True)
class Update:
    event_id: str
    kind: str
    payload: dict[str, Any]
    log_id: int | None = None


def promoted(event_id: str, user_id: str) -> Update:
    return Update(
        event_id,
        REGISTRATION_PROMOTED,
        {"eventId": event_id, "userId": user_id, "status": "registered"},
    )


def ticket_completed(
    ticket: TicketView, status: str, result: dict[str, Any] | None, completed_at: dt.datetime
) -> Update:
    """What a waiting client needs to answer without reading the ticket again: its outcome, and
    when it was accepted and completed (the 202-to-done time)."""
    return Update(
        ticket.event_id,
        TICKET_COMPLETED,
        {
            "eventId": ticket.event_id,
            "userId": ticket.user_id,
            "ticketId": ticket.ticket_id,
            "status": status,
            "result": result,
            "createdAt": rfc3339(ticket.created_at),
            "completedAt": rfc3339(completed_at),
        },
    )


def promotions(event_id: str, user_ids: Iterable[str]) -> list[Update]:
    return [promoted(event_id, user_id) for user_id in user_ids]


def settled(event_id: str, outcome: Outcome) -> list[Update]:
    """What a command's outcome tells the event's watchers beyond its ticket: an offer
    accepted, declined or ended, then who its settling seated and the offers it made."""
    updates: list[Update] = []
    match outcome:
        case OfferAccepted(user_id, seats):
            updates.append(_offer_update(OFFER_ACCEPTED, event_id, user_id, seats))
        case OfferDeclined(user_id):
            updates.append(_offer_update(OFFER_DECLINED, event_id, user_id, None))
        case OfferExpired(user_id, seats, expired_at):
            updates.append(
                _offer_update(
                    OFFER_EXPIRED, event_id, user_id, seats, expiredAt=rfc3339(expired_at)
                )
            )
    updates += promotions(event_id, promoted_by(outcome))
    updates += [
        _offer_update(OFFER_MADE, event_id, o.user_id, o.seats, expiresAt=rfc3339(o.expires_at))
        for o in offers_by(outcome)
    ]
    return updates


def _offer_update(
    kind: str, event_id: str, user_id: str, seats: int | None, **more: str | None
) -> Update:
    payload: dict[str, Any] = {"eventId": event_id, "userId": user_id}
    if seats is not None:
        payload["seats"] = seats
    return Update(event_id, kind, {**payload, **more})


_APPEND = text(
    """
    WITH logged AS (
        INSERT INTO event_log (event_id, kind, payload)
        SELECT v.event_id, v.kind, CAST(v.payload AS jsonb)
          FROM unnest(CAST(:event_ids AS text[]), CAST(:kinds AS text[]),
                      CAST(:payloads AS text[]))
               WITH ORDINALITY AS v(event_id, kind, payload, n)
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

    One statement over arrays, whatever the number of updates and subscriptions: the outbox
    rows are written by the same INSERT, from the rows it logs, so a delivery exists exactly
    when the change it reports committed (`models.webhooks`). With no subscription, the join
    finds nothing and costs nothing measurable."""
    if not updates:
        return []
    rows = session.execute(
        _APPEND,
        {
            "event_ids": [u.event_id for u in updates],
            "kinds": [u.kind for u in updates],
            "payloads": [json.dumps(u.payload, separators=(",", ":")) for u in updates],
        },
    ).all()
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
