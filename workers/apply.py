"""The apply loop: drain pending tickets in acceptance order, many events per transaction, under
their locks (see `models.storage.locks` for which and why).

A pass takes every event with pending tickets that no other worker is applying (up to a
bound), applies up to `apply_batch_size` of their tickets through the rules, each event's in
`seq` order and the batch shared among the events (`models.storage.tickets.pending_share`: one
event's backlog does not hold back the others), and commits: so a thousand lightly loaded
events cost about what one hot event costs. A ticket is
completed by `UPDATE … WHERE status = 'pending'` in the same transaction as its seats, and the
row count is checked, so a ticket can never be applied twice. The status updates written with
it are published once that transaction commits.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.domain import ledger, passes
from models.domain.passes import Step
from models.storage import event_log, ledger_store, locks, tickets
from models.storage.db import database_now
from models.storage.seats import Wanted, existing_user_ids, lock_windows, save_windows
from models.storage.tables import Event
from models.storage.tickets import TicketConflict, TicketView
from tessera import tracing
from tessera.messaging import mark_draining, stop_draining, wait_for_nudge
from workers.runtime import Runtime

log = logging.getLogger("tessera.worker")

TRANSIENT = (OperationalError,)
MAX_ATTEMPTS_PER_TICKET = 3
MARK_EVERY_SECONDS = 5.0  # well within the drain key's time to live
LINGER_SECONDS = 2.0  # how long a drain that ran dry waits for more before it stops
GATHER_SECONDS = 0.025  # the longest pass-to-pass interval the gathering may impose
GATHER_MIN_SECONDS = 0.010  # the shortest, once passes follow each other
GATHER_PER_TICKET_SECONDS = 0.0008


class PassState(enum.Enum):
    APPLIED = "applied"
    PARTIAL = "partial"  # applied, and tickets of its events were left for the next pass
    DRAINED = "drained"  # nothing was pending
    BUSY = "busy"  # everything pending belongs to events other workers are applying
    RACED = "raced"  # the events taken had been applied by the worker that just let them go


@dataclass
class DrainReport:
    applied: int = 0
    batches: int = 0
    busy: bool = False
    batch_sizes: list[int] = field(default_factory=list)
    events: set[str] = field(default_factory=set)


def drain(runtime: Runtime, linger: float = 0.0) -> DrainReport:
    """Apply every pending ticket, pass after pass.

    Once it has work, it keeps the drain key set so that accepts queue no more tasks meanwhile;
    when it runs dry it waits up to `linger` seconds for a sender's nudge, then clears the key
    and looks once more before it stops (see tessera.messaging). A task that finds only events
    another worker is applying leaves them, and the key, to that worker: it looks again after
    each pass it makes."""
    report = DrainReport()
    limit = max(1, runtime.settings.apply_batch_size)
    failures = 0
    marked_at: float | None = None
    released = False
    while True:
        started = time.monotonic()
        try:
            state, applied = apply_pass(runtime, limit, report.events)
        except TRANSIENT:
            raise  # the task retries with backoff; nothing was committed
        except Exception as error:
            # Not a connection problem: maybe one ticket the rules cannot take. Find it by
            # going one ticket at a time, and give up on a ticket only after several tries.
            failures += 1
            if limit > 1:
                log.warning("apply pass failed (%r); isolating one ticket at a time", error)
                limit = 1
            elif failures >= MAX_ATTEMPTS_PER_TICKET:
                _fail_oldest(runtime, error)
                failures = 0
            continue
        failures = 0
        if state in (PassState.DRAINED, PassState.BUSY):
            report.busy = state is PassState.BUSY
            if released:
                return report
            if marked_at is not None:
                marked_at = _keep_marked(runtime, marked_at)
                if wait_for_nudge(runtime.redis, linger):
                    continue
            elif state is PassState.BUSY:
                # We never had work: whoever holds those events is draining and looks again
                # after its pass; the key is its business.
                return report
            # Nothing more for us: from now on an accept queues a new task; one last look for
            # the tickets committed before that.
            stop_draining(runtime.redis)
            released, marked_at = True, None
            continue
        released = False
        marked_at = _keep_marked(runtime, marked_at)
        if state in (PassState.APPLIED, PassState.PARTIAL):
            report.applied += applied
            report.batches += 1
            report.batch_sizes.append(applied)
            if state is PassState.APPLIED and applied < limit:
                # Let the next batch gather for a moment: a pass costs about the same for one
                # ticket as for fifty (~3.4 ms of worker CPU and ~1.5 ms of PostgreSQL's for
                # one). The moment grows with the load (the size of this batch), so a busy event
                # is applied in fewer, larger passes. A quiet one is still applied at once: the
                # first ticket after a lull finds the drain waiting for a nudge, not gathering.
                gather = min(
                    GATHER_SECONDS, max(GATHER_MIN_SECONDS, applied * GATHER_PER_TICKET_SECONDS)
                )
                time.sleep(max(0.0, gather - (time.monotonic() - started)))


def _keep_marked(runtime: Runtime, marked_at: float | None) -> float:
    """While we work, senders need not queue more tasks: keep the drain key alive."""
    if marked_at is None or time.monotonic() - marked_at > MARK_EVERY_SECONDS:
        mark_draining(runtime.redis)
        return time.monotonic()
    return marked_at


def apply_pass(runtime: Runtime, limit: int, seen: set[str] | None = None) -> tuple[PassState, int]:
    """One transaction: take the events, apply up to `limit` of their tickets and end their
    offers that ran out, commit (the event log's updates go out once it commits)."""
    started = time.perf_counter()
    with tracing.span("tessera.apply_pass") as span, runtime.sessions.begin() as session:
        taken = locks.take_pending_events(session, limit)
        events = taken.events
        if not events:
            return (PassState.BUSY if taken.others_busy else PassState.DRAINED), 0
        applied = apply_events(session, events, taken.now, limit)
        if applied is None:
            return PassState.RACED, 0
        if span is not None:
            span.set_attributes(
                {"tessera.events": len(events), "tessera.tickets": len(applied.batch)}
            )
    if seen is not None:
        seen.update(events)
    batch = applied.batch
    log.info(
        "applied batch",
        extra={
            "events": len(events),
            "eventId": events[0],
            "applied": len(batch),
            "offersExpired": applied.expired,
            "draws": applied.drawn,
            "firstTicketId": batch[0].ticket_id if batch else None,
            "lastTicketId": batch[-1].ticket_id if batch else None,
            "durationMs": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return (PassState.PARTIAL if applied.partial else PassState.APPLIED), len(batch)


@dataclass(frozen=True)
class Applied:
    batch: list[TicketView]
    expired: int
    drawn: int = 0
    partial: bool = False  # some event's pending tickets were left for the next pass


def apply_events(
    session: Session, events: list[str], now: dt.datetime, limit: int
) -> Applied | None:
    """Load → decide → save, for events this transaction is the applier of: up to `limit` of
    their pending tickets, and their offers that ran out by `now` (the transaction's clock, to
    the millisecond). None: there was nothing to do (another worker just did it)."""
    # Committed tickets are a `seq`-prefix per event (see models.storage.locks): apply in `seq`
    # order.
    # Only those accepted by the pass's `now` (its transaction's start): under READ
    # COMMITTED this statement also sees tickets committed since, and a ticket must not be
    # completed before it was accepted (the clock drill caught one, 601 ms < 6xx ms).
    traced = tracing.enabled()
    share = tickets.pending_share(
        session, events, limit, accepted_by=now, with_trace_context=traced
    )
    batch = share.tickets
    if traced:  # the pass's span links to the trace of each request whose ticket it applies
        tracing.link_to(t.trace_context for t in batch)
    users = existing_user_ids(session, {t.user_id for t in batch})
    # A draw at the end of the pass only if no ticket may still be pending behind the batch.
    lines = passes.ticket_lines(events, batch, users, now, whole=share.whole)
    heads: dict[str, ledger.Head] = {}
    windows = lock_windows(session, _wanted(lines, now), heads)

    decided = passes.decide(windows, lines, ledger.Chain(heads), now)
    if not batch and not decided.expired and not decided.drawn:
        return None

    ledger_store.write(session, decided.chain, move_heads=False)
    save_windows(session, windows, now, ledger_heads=decided.chain.heads)
    results = [decided.results[t.ticket_id] for t in batch]
    tickets.complete(session, batch, ["completed"] * len(batch), results, now)
    event_log.append(session, decided.updates)
    return Applied(batch, decided.expired, decided.drawn, partial=len(share.whole) < len(events))


def _wanted(lines: Mapping[str, list[Step]], now: dt.datetime) -> dict[str, Wanted]:
    wanted: dict[str, Wanted] = {}
    for event_id, line in lines.items():
        users, commands = passes.commands_of(line)
        wanted[event_id] = Wanted(users, commands, offers_due_by=now, draw_due_by=now)
    return wanted


def fail_ticket(runtime: Runtime, ticket: TicketView) -> None:
    """A ticket that cannot be applied on its own after retries: report it as failed."""
    with runtime.sessions.begin() as session:
        # Under the event's locks like any apply, so event-log ids stay in commit order.
        locks.take_event(session, ticket.event_id)
        rows = locks.lock_event_rows(session, [ticket.event_id], Event.ledger_length)
        # A failed ticket wrote no entry: its message names the event's head
        # (`models.domain.updates`).
        index = max(rows[0].ledger_length, 0) if rows else 0
        now = database_now(session)
        tickets.complete(session, [ticket], ["failed"], [None], now)
        event_log.append(session, [event_log.ticket_completed(ticket, "failed", None, now, index)])


def _fail_oldest(runtime: Runtime, error: BaseException) -> None:
    with runtime.sessions.begin() as session:
        events = locks.take_pending_events(session, 1).events
        head = tickets.pending_tickets(session, events, 1) if events else []
    if head:
        log.error("ticket %s failed on its own: %r", head[0].ticket_id, error)
        try:
            fail_ticket(runtime, head[0])
        except TicketConflict:
            log.info("ticket %s was completed by another worker meanwhile", head[0].ticket_id)
