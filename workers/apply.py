"""The per-event apply loop: drain an event's pending tickets in acceptance order, a batch per
transaction, under that event's locks (see `models.locks` for which and why).

A ticket is completed by `UPDATE … WHERE status = 'pending'` in the same transaction as its
seats, and the count of rows updated is checked, so a ticket can never be applied twice. The
status updates written with it are published once that transaction commits.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models import event_log, locks, tickets
from models.errors import EventNotFound
from models.results import denied, result_of
from models.rules import DenialCode, promoted_by
from models.seats import existing_user_ids, lock_seats, save_seats
from models.tickets import TicketConflict, TicketView
from tessera.messaging import clear_wake
from tessera.telemetry import record_batch
from workers.runtime import Runtime

log = logging.getLogger("tessera.worker")

TRANSIENT = (OperationalError,)
MAX_ATTEMPTS_PER_TICKET = 3


class BatchState(enum.Enum):
    APPLIED = "applied"
    DRAINED = "drained"  # nothing was pending
    BUSY = "busy"  # another worker is this event's applier


@dataclass
class DrainReport:
    event_id: str
    applied: int = 0
    batches: int = 0
    busy: bool = False
    batch_sizes: list[int] = field(default_factory=list)


def drain_event(runtime: Runtime, event_id: str) -> DrainReport:
    """Apply every pending ticket of the event, batch by batch.

    Clears the event's wake key first (see tessera.messaging), and after letting go of the
    event looks once more for pending tickets without a lock: a wake-up that arrived while we
    held the event, and was dropped by its worker as BUSY, is served by us."""
    clear_wake(runtime.redis, event_id)
    report = DrainReport(event_id)
    limit = max(1, runtime.settings.apply_batch_size)
    failures = 0
    while True:
        try:
            state, applied = apply_batch(runtime, event_id, limit)
        except TRANSIENT:
            raise  # the task retries with backoff; nothing was committed
        except Exception as error:
            # Not a connection problem: maybe one ticket the rules cannot take. Find it by
            # going one ticket at a time, and give up on a ticket only after several tries.
            failures += 1
            if limit > 1:
                log.warning("batch on %s failed (%r); isolating one by one", event_id, error)
                limit = 1
            elif failures >= MAX_ATTEMPTS_PER_TICKET:
                _fail_head(runtime, event_id, error)
                failures = 0
            continue
        failures = 0
        if state is BatchState.BUSY:
            report.busy = True
            return report
        if state is BatchState.APPLIED:
            report.applied += applied
            report.batches += 1
            report.batch_sizes.append(applied)
            if applied == limit:
                continue  # a full batch: more may be waiting, take the event again at once
        # Drained (or a short batch took all that was visible): look once more without the
        # lock, for tickets committed meanwhile whose wake-up was dropped as BUSY.
        with runtime.sessions.begin() as session:
            if not tickets.has_pending(session, event_id):
                return report


def apply_batch(runtime: Runtime, event_id: str, limit: int) -> tuple[BatchState, int]:
    """One transaction: take the event, apply up to `limit` pending tickets, commit."""
    started = time.perf_counter()
    with runtime.sessions.begin() as session:
        if not locks.try_take_event(session, event_id):
            return BatchState.BUSY, 0
        # Only tickets no smaller `seq` can still join: apply order is `seq` order.
        with runtime.sessions.begin() as barrier:
            settled = locks.settle_barrier(barrier, event_id)
        batch = tickets.pending_tickets(session, event_id, limit, up_to_seq=settled)
        if not batch:
            return BatchState.DRAINED, 0
        results, promoted = decide(session, event_id, batch)
        tickets.complete(session, batch, ["completed"] * len(batch), results)
        event_log.append(
            session,
            [
                event_log.ticket_completed(event_id, t.user_id, t.ticket_id, "completed", r)
                for t, r in zip(batch, results, strict=True)
            ]
            + event_log.promotions(event_id, promoted),
        )
    record_batch(runtime.redis, (r["status"] for r in results), len(batch))
    log.info(
        "applied batch",
        extra={
            "eventId": event_id,
            "applied": len(batch),
            "firstTicketId": batch[0].ticket_id,
            "lastTicketId": batch[-1].ticket_id,
            "durationMs": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return BatchState.APPLIED, len(batch)


def decide(
    session: Session, event_id: str, batch: list[TicketView]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Run the rules over one batch: each ticket's result, and who was promoted, in order."""
    users = existing_user_ids(session, {t.user_id for t in batch})
    commands = [tickets.command_of(t) for t in batch]
    try:
        seats = lock_seats(session, event_id, users, commands)
    except EventNotFound:
        return [denied(DenialCode.EVENT_NOT_FOUND, t.user_id) for t in batch], []
    results: list[dict[str, Any]] = []
    promoted: list[str] = []
    for ticket, command in zip(batch, commands, strict=True):
        if ticket.user_id not in users:
            results.append(denied(DenialCode.USER_NOT_FOUND, ticket.user_id))
            continue
        outcome = seats.handle(command)
        results.append(result_of(outcome))
        promoted += promoted_by(outcome)
    save_seats(session, event_id, seats, dt.datetime.now(dt.UTC))
    return results, promoted


def fail_ticket(runtime: Runtime, ticket: TicketView) -> None:
    """A ticket that cannot be applied on its own after retries: report it as failed."""
    with runtime.sessions.begin() as session:
        # Under the event's locks like any apply, so event-log ids stay in commit order.
        locks.take_event(session, ticket.event_id)
        locks.lock_event_rows(session, [ticket.event_id])
        tickets.complete(session, [ticket], ["failed"], [None])
        event_log.append(
            session,
            [
                event_log.ticket_completed(
                    ticket.event_id, ticket.user_id, ticket.ticket_id, "failed", None
                )
            ],
        )


def _fail_head(runtime: Runtime, event_id: str, error: BaseException) -> None:
    with runtime.sessions.begin() as session:
        head = tickets.pending_tickets(session, event_id, 1)
    if head:
        log.error("ticket %s failed on its own: %r", head[0].ticket_id, error)
        try:
            fail_ticket(runtime, head[0])
        except TicketConflict:
            log.info("ticket %s was completed by another worker meanwhile", head[0].ticket_id)
