"""Tickets: accepted commands waiting to be applied, and their results.

Accepting is on the hot path of every request and of 10,000-item batches, so new tickets go in
with COPY (one round trip for any number) and their sequence numbers, which fix the acceptance
order, come from the table's identity column in COPY order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from ulid import ULID

from models.tables import Batch, Event, Ticket, User

CommandType = Literal["register", "unregister"]


@dataclass(frozen=True)
class NewTicket:
    type: CommandType
    user_id: str
    event_id: str


@dataclass(frozen=True)
class TicketView:
    ticket_id: str
    seq: int
    type: str
    user_id: str
    event_id: str
    batch_id: str | None
    owner: str
    status: str
    result: dict[str, Any] | None
    created_at: dt.datetime
    completed_at: dt.datetime | None


_COLUMNS = (
    Ticket.ticket_id,
    Ticket.seq,
    Ticket.type,
    Ticket.user_id,
    Ticket.event_id,
    Ticket.batch_id,
    Ticket.owner,
    Ticket.status,
    Ticket.result,
    Ticket.created_at,
    Ticket.completed_at,
)


def new_ticket_ids(count: int) -> list[str]:
    """ULIDs, sortable by creation."""
    return [str(ULID()) for _ in range(count)]


def insert_tickets(
    session: Session,
    tickets: Sequence[NewTicket],
    owner: str,
    batch_id: str | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """COPY the tickets in, in the given order, and return their ids in that order."""
    now = now or dt.datetime.now(dt.UTC)
    ids = new_ticket_ids(len(tickets))
    hold_accept_locks(session, {t.event_id for t in tickets})
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(
            "COPY tickets (ticket_id, type, user_id, event_id, batch_id, owner, status,"
            " created_at) FROM STDIN"
        ) as copy,
    ):
        for ticket_id, ticket in zip(ids, tickets, strict=True):
            copy.write_row(
                (
                    ticket_id,
                    ticket.type,
                    ticket.user_id,
                    ticket.event_id,
                    batch_id,
                    owner,
                    "pending",
                    now,
                )
            )
    return ids


# Accepting tickets for an event holds a SHARED advisory lock on the event's bucket until the
# accepting transaction ends; an applier takes the same lock EXCLUSIVELY for an instant (a
# barrier) before it reads, so every ticket whose `seq` it has already seen handed out is
# committed or rolled back by then: no smaller `seq` can appear after a larger one was applied.
# Buckets, not events, so that a 10,000-event batch holds at most ACCEPT_BUCKETS locks.
ACCEPT_LOCK_SPACE = 7427
ACCEPT_BUCKETS = 1024


def hold_accept_locks(session: Session, event_ids: Collection[str]) -> None:
    if not event_ids:
        return
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock_shared(:space, b) FROM ("
            " SELECT DISTINCT hashtext(e) & :mask AS b"
            " FROM unnest(CAST(:events AS text[])) AS e ORDER BY 1) AS buckets"
        ),
        {"space": ACCEPT_LOCK_SPACE, "mask": ACCEPT_BUCKETS - 1, "events": sorted(event_ids)},
    )


def settled_seq(sessions: sessionmaker[Session], event_id: str) -> int:
    """The highest `seq` below which the event has no ticket still being accepted: read the
    sequence, then wait for the accepting transactions of the event's bucket that may hold a
    smaller one (see hold_accept_locks).

    Its own short transaction with a transaction-scoped lock: the barrier can never outlive
    it, whatever fails, so it cannot leak and stall the bucket's accepts."""
    with sessions.begin() as session:
        watermark = session.execute(
            text(
                "SELECT coalesce(pg_sequence_last_value("
                "CAST(pg_get_serial_sequence('tickets', 'seq') AS regclass)), 0)"
            )
        ).scalar_one()
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:e) & :mask)"),
            {"space": ACCEPT_LOCK_SPACE, "mask": ACCEPT_BUCKETS - 1, "e": event_id},
        )
    return int(watermark)


_ACCEPT_ONE = text(
    """
    INSERT INTO tickets (ticket_id, type, user_id, event_id, owner, status, created_at)
    SELECT :ticket_id, :type, CAST(:user_id AS varchar), CAST(:event_id AS varchar), :owner,
           'pending', :now
      FROM (SELECT pg_advisory_xact_lock_shared(
                     :space, hashtext(CAST(:event_id AS varchar)) & :mask)) AS accept_lock
     WHERE EXISTS (SELECT 1 FROM users WHERE user_id = CAST(:user_id AS varchar))
       AND EXISTS (SELECT 1 FROM events WHERE event_id = CAST(:event_id AS varchar))
    RETURNING seq
    """
)


def accept_one(session: Session, ticket: NewTicket, owner: str) -> TicketView | None:
    """Insert one ticket if its user and event exist, in one round trip (the hot path of every
    single command); None when either is missing, and nothing is written."""
    now = dt.datetime.now(dt.UTC)
    (ticket_id,) = new_ticket_ids(1)
    seq = session.execute(
        _ACCEPT_ONE,
        {
            "ticket_id": ticket_id,
            "type": ticket.type,
            "user_id": ticket.user_id,
            "event_id": ticket.event_id,
            "owner": owner,
            "now": now,
            "space": ACCEPT_LOCK_SPACE,
            "mask": ACCEPT_BUCKETS - 1,
        },
    ).scalar_one_or_none()
    if seq is None:
        return None
    return TicketView(
        ticket_id,
        seq,
        ticket.type,
        ticket.user_id,
        ticket.event_id,
        None,
        owner,
        "pending",
        None,
        now,
        None,
    )


def create_batch(session: Session, batch_id: str, owner: str, total: int) -> None:
    session.add(Batch(batch_id=batch_id, owner=owner, total=total))
    session.flush()


def get_ticket(session: Session, ticket_id: str) -> TicketView | None:
    row = session.execute(select(*_COLUMNS).where(Ticket.ticket_id == ticket_id)).one_or_none()
    return None if row is None else TicketView(*row)


def existing(session: Session, user_id: str, event_id: str) -> tuple[bool, bool]:
    """Whether the user and the event exist (for the 404-at-once rule)."""
    user = session.scalar(select(func.count()).where(User.user_id == user_id))
    event = session.scalar(select(func.count()).where(Event.event_id == event_id))
    return bool(user), bool(event)


def pending_tickets(
    session: Session, event_id: str, limit: int, up_to_seq: int | None = None
) -> list[TicketView]:
    """An event's pending tickets in acceptance order (served by a partial index), optionally
    only those with `seq <= up_to_seq`."""
    query = select(*_COLUMNS).where(Ticket.event_id == event_id, Ticket.status == "pending")
    if up_to_seq is not None:
        query = query.where(Ticket.seq <= up_to_seq)
    rows = session.execute(query.order_by(Ticket.seq).limit(limit))
    return [TicketView(*row) for row in rows]


def has_pending(session: Session, event_id: str) -> bool:
    found = session.scalar(
        select(Ticket.seq).where(Ticket.event_id == event_id, Ticket.status == "pending").limit(1)
    )
    return found is not None


def stale_pending_events(session: Session, older_than: dt.datetime, limit: int = 1000) -> list[str]:
    """Events with a ticket pending since before `older_than`: their wake-up may be lost."""
    return list(
        session.scalars(
            select(Ticket.event_id)
            .where(Ticket.status == "pending")
            .group_by(Ticket.event_id)
            .having(func.min(Ticket.created_at) < older_than)
            .limit(limit)
        )
    )


# --- batches ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str
    owner: str
    total: int
    pending: int
    completed: int
    failed: int
    results: dict[str, int]  # completed tickets by result status


RESULT_STATUSES = ("registered", "waitlisted", "denied", "unregistered")


def batch_summary(session: Session, batch_id: str) -> BatchSummary | None:
    """The batch's progress, from one aggregate over its tickets (one statement, so one
    snapshot: the counts always add up to the total)."""
    outcome = Ticket.result["status"].astext
    rows = session.execute(
        select(Batch.owner, Batch.total, Ticket.status, outcome, func.count(Ticket.ticket_id))
        .select_from(Batch)
        .outerjoin(Ticket, Ticket.batch_id == Batch.batch_id)
        .where(Batch.batch_id == batch_id)
        .group_by(Batch.owner, Batch.total, Ticket.status, outcome)
    ).all()
    if not rows:
        return None
    by_status = {"pending": 0, "completed": 0, "failed": 0}
    results = dict.fromkeys(RESULT_STATUSES, 0)
    for _owner, _total, status, result_status, count in rows:
        if status is None:  # a batch without tickets (the outer join's empty side)
            continue
        by_status[status] += count
        if status == "completed" and result_status in results:
            results[result_status] += count
    owner, total = rows[0][0], rows[0][1]
    return BatchSummary(batch_id, owner, total, **by_status, results=results)


def batch_owner(session: Session, batch_id: str) -> str | None:
    owner: str | None = session.scalar(select(Batch.owner).where(Batch.batch_id == batch_id))
    return owner


def batch_ticket_ids(session: Session, batch_id: str) -> list[str]:
    """The batch's ticket ids in item order (served by ix_tickets_batch_id_seq)."""
    return list(
        session.scalars(
            select(Ticket.ticket_id).where(Ticket.batch_id == batch_id).order_by(Ticket.seq)
        )
    )


def batch_tickets(
    session: Session, batch_id: str, after_seq: int | None, limit: int
) -> list[TicketView]:
    """A page of the batch's tickets in item order: keyset on `seq`, which COPY assigned in
    item order."""
    query = select(*_COLUMNS).where(Ticket.batch_id == batch_id)
    if after_seq is not None:
        query = query.where(Ticket.seq > after_seq)
    rows = session.execute(query.order_by(Ticket.seq).limit(limit))
    return [TicketView(*row) for row in rows]
