"""The per-event apply loop: drain an event's pending tickets in acceptance order, a batch per
transaction, under that event's locks.

Two locks, for two reasons:
- a transaction-scoped advisory lock on the event makes one worker at a time the event's
  applier. A second worker that cannot take it leaves at once (it is not needed: the holder
  looks for new tickets again after it lets go, see `drain_event`), so a hot event never ties
  up more than one worker process;
- the event row's `FOR UPDATE` lock (taken by `models.seats.lock_seats`) serialises the
  applier with the API's synchronous seat changes (capacity changes, user deletion).

A ticket is completed by `UPDATE … WHERE status = 'pending'` in the same transaction as its
seats, and the count of rows updated is checked, so a ticket can never be applied twice.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models import updates
from models.errors import EventNotFound
from models.rules import (
    DenialCode,
    Denied,
    Outcome,
    Register,
    Registered,
    Unregister,
    Unregistered,
    Waitlisted,
    handle,
)
from models.seats import existing_user_ids, lock_seats, save_seats
from models.tables import Event
from models.tickets import TicketView, has_pending, pending_tickets, settled_seq
from tessera.messaging import clear_wake, publish
from tessera.telemetry import record_batch
from workers.runtime import Runtime

log = logging.getLogger("tessera.worker")


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


class TicketConflict(RuntimeError):
    """A ticket we were applying was no longer pending: roll back rather than apply twice."""


def result_of(outcome: Outcome) -> dict[str, Any]:
    """The ticket's `result`, in the contract's shape."""
    match outcome:
        case Registered():
            return _result("registered", "registered")
        case Waitlisted(position=position):
            return _result("waitlisted", f"waitlisted at position {position}", position=position)
        case Denied(code=code):
            return _result("denied", outcome.message, code=code.value)
        case Unregistered(promoted_user_id=promoted):
            message = "unregistered" + (
                f"; {promoted} promoted from the waitlist" if promoted else ""
            )
            return _result("unregistered", message, promoted=promoted)
    raise TypeError(f"no ticket result for {outcome!r}")


def _result(
    status: str,
    message: str,
    *,
    code: str | None = None,
    position: int | None = None,
    promoted: str | None = None,
) -> dict[str, Any]:
    return {
        "status": status,
        "code": code,
        "message": message,
        "position": position,
        "promotedUserId": promoted,
    }


def denied(code: DenialCode, user_id: str) -> dict[str, Any]:
    return result_of(Denied(user_id, code))


def _try_advisory_lock(session: Session, event_id: str) -> bool:
    return bool(
        session.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:event_id, 7426))"),
            {"event_id": event_id},
        ).scalar_one()
    )


def _decide(
    session: Session, event_id: str, batch: list[TicketView]
) -> tuple[list[dict[str, Any]], list[updates.Update]]:
    """Run the rules over one batch; returns each ticket's result and the promotions."""
    users = existing_user_ids(session, {t.user_id for t in batch})
    unregisters = sum(1 for t in batch if t.type == "unregister")
    try:
        seats = lock_seats(session, event_id, users, waitlist_heads=unregisters)
    except EventNotFound:
        return [denied(DenialCode.EVENT_NOT_FOUND, t.user_id) for t in batch], []
    results: list[dict[str, Any]] = []
    promotions: list[updates.Update] = []
    for ticket in batch:
        if ticket.user_id not in users:
            results.append(denied(DenialCode.USER_NOT_FOUND, ticket.user_id))
            continue
        command = (
            Register(ticket.user_id) if ticket.type == "register" else Unregister(ticket.user_id)
        )
        outcome = handle(seats, command)
        results.append(result_of(outcome))
        if isinstance(outcome, Unregistered) and outcome.promoted_user_id:
            promotions.append(updates.promoted(event_id, outcome.promoted_user_id))
    save_seats(session, event_id, seats, dt.datetime.now(dt.UTC))
    return results, promotions


_COMPLETE = text(
    """
    UPDATE tickets AS t
       SET status = v.status, result = CAST(v.result AS jsonb), completed_at = :now
      FROM unnest(CAST(:ids AS text[]), CAST(:statuses AS text[]), CAST(:results AS text[]))
           AS v(ticket_id, status, result)
     WHERE t.ticket_id = v.ticket_id AND t.status = 'pending'
    """
)


def _complete(
    session: Session, batch: list[TicketView], statuses: list[str], results: list[Any]
) -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    done = session.execute(
        _COMPLETE,
        {
            "now": now,
            "ids": [t.ticket_id for t in batch],
            "statuses": statuses,
            "results": [json.dumps(r) if r is not None else None for r in results],
        },
    )
    if getattr(done, "rowcount", len(batch)) != len(batch):
        raise TicketConflict(f"{len(batch)} tickets to complete, but not all were pending")
    return now


def apply_batch(runtime: Runtime, event_id: str, limit: int) -> tuple[BatchState, int]:
    """One transaction: take the event, apply up to `limit` pending tickets, commit, publish."""
    started = time.perf_counter()
    with runtime.sessions.begin() as session:
        if not _try_advisory_lock(session, event_id):
            return BatchState.BUSY, 0
        # Only tickets no smaller `seq` can still join: apply order is `seq` order.
        settled = settled_seq(runtime.sessions, event_id)
        batch = pending_tickets(session, event_id, limit, up_to_seq=settled)
        if not batch:
            return BatchState.DRAINED, 0
        results, promotions = _decide(session, event_id, batch)
        _complete(session, batch, ["completed"] * len(batch), results)
        published = updates.append(
            session,
            [
                updates.ticket_completed(event_id, t.user_id, t.ticket_id, "completed", r)
                for t, r in zip(batch, results, strict=True)
            ]
            + promotions,
        )
    publish(runtime.redis, published)
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


def fail_ticket(runtime: Runtime, ticket: TicketView) -> None:
    """A ticket that cannot be applied on its own after retries: report it as failed."""
    with runtime.sessions.begin() as session:
        # Under the event's locks like any apply, so event-log ids stay in commit order.
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:event_id, 7426))"),
            {"event_id": ticket.event_id},
        )
        session.execute(
            select(Event.event_id).where(Event.event_id == ticket.event_id).with_for_update()
        )
        _complete(session, [ticket], ["failed"], [None])
        published = updates.append(
            session,
            [
                updates.ticket_completed(
                    ticket.event_id, ticket.user_id, ticket.ticket_id, "failed", None
                )
            ],
        )
    publish(runtime.redis, published)


TRANSIENT = (OperationalError,)
MAX_ATTEMPTS_PER_TICKET = 3


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
            if not has_pending(session, event_id):
                return report


def _fail_head(runtime: Runtime, event_id: str, error: BaseException) -> None:
    with runtime.sessions.begin() as session:
        head = pending_tickets(session, event_id, 1)
    if head:
        log.error("ticket %s failed on its own: %r", head[0].ticket_id, error)
        try:
            fail_ticket(runtime, head[0])
        except TicketConflict:
            log.info("ticket %s was completed by another worker meanwhile", head[0].ticket_id)
