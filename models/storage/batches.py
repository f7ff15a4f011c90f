"""Batches: up to 10,000 commands accepted together, their progress and their tickets."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from ulid import ULID

from models.domain.results import ResultStatus
from models.storage.tables import Batch, Ticket
from models.storage.tickets import TICKET_COLUMNS, NewTicket, TicketView, insert_tickets


@dataclass(frozen=True)
class AcceptedBatch:
    batch_id: str
    ticket_ids: list[str]


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str
    owner: str
    total: int
    pending: int
    completed: int
    failed: int
    results: dict[str, int]  # completed tickets by result status


def accept_batch(
    session: Session, owner: str, items: list[NewTicket], trace_context: str | None = None
) -> AcceptedBatch:
    """The batch row and its tickets, in item order (their events woken after commit), with
    the accepting request's trace context when it was traced."""
    batch_id = str(ULID())
    session.add(Batch(batch_id=batch_id, owner=owner, total=len(items)))
    session.flush()
    tickets = insert_tickets(session, items, owner, batch_id=batch_id, trace_context=trace_context)
    return AcceptedBatch(batch_id, tickets)


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
    results = {status.value: 0 for status in ResultStatus}
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
    query = select(*TICKET_COLUMNS).where(Ticket.batch_id == batch_id)
    if after_seq is not None:
        query = query.where(Ticket.seq > after_seq)
    rows = session.execute(query.order_by(Ticket.seq).limit(limit))
    return [TicketView(*row) for row in rows]
