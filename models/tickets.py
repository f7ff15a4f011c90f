"""Tickets: accepted commands waiting to be applied, and their results.

Accepting is on the hot path of every request and of 10,000-item batches, so new tickets go in
with COPY (one round trip for any number), or a single statement for a single command; their
sequence numbers, which fix the acceptance order, come from the table's identity column.
Completing is on the applier's hot path: one set-based UPDATE per batch. Both are SQL here on
purpose (SQLAlchemy Core and raw COPY), in this one module.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from ulid import ULID

from models import locks
from models.db import after_commit
from models.errors import EventNotFound, UserNotFound
from models.rules import Command, Register, Unregister
from models.tables import Event, Ticket

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


class TicketConflict(RuntimeError):
    """A ticket being completed was no longer pending: roll back rather than apply twice."""


TICKET_COLUMNS = (
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


def _wake_after_commit(session: Session, event_ids: Sequence[str]) -> None:
    wanted = list(dict.fromkeys(event_ids))
    after_commit(session, lambda messenger: messenger.wake(wanted))


# --- accept -----------------------------------------------------------------------------


def insert_tickets(
    session: Session,
    tickets: Sequence[NewTicket],
    owner: str,
    batch_id: str | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """COPY the tickets in, in the given order, and return their ids in that order; their
    events are woken once the transaction commits."""
    now = now or dt.datetime.now(dt.UTC)
    ids = new_ticket_ids(len(tickets))
    locks.hold_accept_locks(session, {t.event_id for t in tickets})
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
    _wake_after_commit(session, [t.event_id for t in tickets])
    return ids


# The accept bucket lock (`models.locks`) is taken inline: one round trip for the whole accept.
_ACCEPT_ONE = text(
    """
    INSERT INTO tickets (ticket_id, type, user_id, event_id, owner, status, created_at)
    SELECT :ticket_id, :type, CAST(:user_id AS varchar), CAST(:event_id AS varchar), :owner,
           'pending', :now
      FROM (SELECT pg_advisory_xact_lock_shared(
                     :accept_space, hashtext(CAST(:event_id AS varchar)) & :accept_mask))
           AS accept_lock
     WHERE EXISTS (SELECT 1 FROM users WHERE user_id = CAST(:user_id AS varchar))
       AND EXISTS (SELECT 1 FROM events WHERE event_id = CAST(:event_id AS varchar))
    RETURNING seq
    """
)


def accept_one(session: Session, ticket: NewTicket, owner: str) -> TicketView:
    """Insert one ticket, in one round trip (the hot path of every single command), and wake
    its event after commit. A missing event or user raises EventNotFound / UserNotFound, and
    nothing is written."""
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
            **locks.ACCEPT_PARAMS,
        },
    ).scalar_one_or_none()
    if seq is None:
        if session.scalar(select(func.count()).where(Event.event_id == ticket.event_id)) == 0:
            raise EventNotFound(ticket.event_id)
        raise UserNotFound(ticket.user_id)
    _wake_after_commit(session, [ticket.event_id])
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


# --- read -------------------------------------------------------------------------------


def get_ticket(session: Session, ticket_id: str) -> TicketView | None:
    row = session.execute(
        select(*TICKET_COLUMNS).where(Ticket.ticket_id == ticket_id)
    ).one_or_none()
    return None if row is None else TicketView(*row)


def pending_tickets(
    session: Session, event_id: str, limit: int, up_to_seq: int | None = None
) -> list[TicketView]:
    """An event's pending tickets in acceptance order (served by a partial index), optionally
    only those with `seq <= up_to_seq`."""
    query = select(*TICKET_COLUMNS).where(Ticket.event_id == event_id, Ticket.status == "pending")
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


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_age_seconds: float  # 0 when nothing is pending


def backlog(session: Session) -> Backlog:
    """How many tickets wait to be applied, and for how long the oldest has (by the
    database's clock, the one that stamped it)."""
    pending, age = session.execute(
        select(
            func.count(),
            func.coalesce(func.extract("epoch", func.now() - func.min(Ticket.created_at)), 0),
        ).where(Ticket.status == "pending")
    ).one()
    return Backlog(int(pending), max(float(age), 0.0))


# --- complete ---------------------------------------------------------------------------

_COMPLETE = text(
    """
    UPDATE tickets AS t
       SET status = v.status, result = CAST(v.result AS jsonb), completed_at = :now
      FROM unnest(CAST(:ids AS text[]), CAST(:statuses AS text[]), CAST(:results AS text[]))
           AS v(ticket_id, status, result)
     WHERE t.ticket_id = v.ticket_id AND t.status = 'pending'
    """
)


def complete(
    session: Session,
    batch: Sequence[TicketView],
    statuses: Sequence[str],
    results: Sequence[dict[str, Any] | None],
) -> dt.datetime:
    """Mark the tickets done with their results, in one statement over arrays. Raises
    TicketConflict (the caller rolls back) if any of them was no longer pending."""
    now = dt.datetime.now(dt.UTC)
    done = session.execute(
        _COMPLETE,
        {
            "now": now,
            "ids": [t.ticket_id for t in batch],
            "statuses": list(statuses),
            "results": [json.dumps(r) if r is not None else None for r in results],
        },
    )
    if getattr(done, "rowcount", len(batch)) != len(batch):
        raise TicketConflict(f"{len(batch)} tickets to complete, but not all were pending")
    return now


def command_of(ticket: TicketView) -> Command:
    """The rules' command a ticket carries."""
    if ticket.type == "register":
        return Register(ticket.user_id)
    return Unregister(ticket.user_id)
