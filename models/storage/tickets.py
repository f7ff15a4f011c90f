"""Tickets: accepted commands waiting to be applied, and their results.

Accepting is on the hot path of every request: single commands are accepted in groups
(`accept_many`, one transaction for every command an API process received meanwhile) and
batches with COPY; their sequence numbers, which fix the acceptance order, come from the
table's identity column. Completing is on the applier's hot path: one set-based UPDATE per
pass. Both are SQL here on purpose, in this one module. Every timestamp is the database's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import String, TextualSelect, any_, bindparam, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from ulid import ULID

from models.domain.errors import (
    DomainError,
    EventNotFound,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    UserNotFound,
)
from models.storage import idempotency, locks
from models.storage.db import acceptance_clock, after_commit
from models.storage.tables import Ticket

CommandType = Literal[
    "register", "unregister", "accept_offer", "decline_offer", "approve", "reject"
]


@dataclass(frozen=True)
class NewTicket:
    type: CommandType
    user_id: str
    event_id: str
    seats: int = 1  # a register's party size


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
    seats: int = 1
    trace_context: str | None = None  # read only for a traced pass (`pending_tickets`)


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
    Ticket.seats,
)


def new_ticket_ids(count: int) -> list[str]:
    """ULIDs, sortable by creation."""
    return [str(ULID()) for _ in range(count)]


def _wake_after_commit(session: Session, event_ids: Sequence[str]) -> None:
    wanted = list(dict.fromkeys(event_ids))
    after_commit(session, lambda messenger: messenger.wake(wanted))


# --- accept single commands, in groups --------------------------------------------------


@dataclass(frozen=True)
class Accept:
    """One single command to accept: what, for whom, and its claim on an Idempotency-Key."""

    ticket: NewTicket
    owner: str
    claim: idempotency.ClaimRequest | None = None
    trace_context: str | None = None  # the accepting request's traceparent, if traced


AcceptOutcome = TicketView | idempotency.Replay | DomainError

_LOCK_AND_FIND = text(
    f"""
    SELECT (SELECT count(*) FROM ({locks.ACCEPT_LOCKS}) AS held) AS held,
           ARRAY(SELECT event_id FROM events
                  WHERE event_id = ANY(CAST(:event_ids AS text[]))) AS events,
           ARRAY(SELECT user_id FROM users
                  WHERE user_id = ANY(CAST(:user_ids AS text[]))) AS users
    """  # noqa: S608 - a constant of models.storage.locks, no input
)
_INSERT_TEMPLATE = """
    INSERT INTO tickets (ticket_id, type, user_id, event_id, seats, owner, status, created_at{0})
    SELECT v.ticket_id, v.type, v.user_id, v.event_id, v.seats, v.owner, 'pending',
           -- read after the bucket lock is held: acceptance times grow with `seq`
           date_trunc('milliseconds', clock_timestamp()){1}
      FROM unnest(CAST(:ticket_ids AS text[]), CAST(:types AS text[]), CAST(:user_ids AS text[]),
                  CAST(:event_ids AS text[]), CAST(:seats AS int[]), CAST(:owners AS text[]){2})
           WITH ORDINALITY AS v(ticket_id, type, user_id, event_id, seats, owner{0}, n)
     ORDER BY v.n
    RETURNING ticket_id, seq, created_at
    """
_INSERT_UNTRACED = text(_INSERT_TEMPLATE.format("", "", ""))
# With tracing on, the group's tickets carry their requests' trace contexts: one more array.
_INSERT_TRACED = text(
    _INSERT_TEMPLATE.format(", trace_context", ", v.trace_context", ", CAST(:traces AS text[])")
)


def accept_many(session: Session, accepts: Sequence[Accept]) -> list[AcceptOutcome]:
    """Accept many single commands in this transaction, each on its own terms: a new ticket, a
    replay of the ticket its Idempotency-Key already names, or the error that refuses it
    (unknown event or user, a key in flight or reused), which leaves nothing behind and never
    affects its neighbours. The accepted tickets' events are woken once, after commit."""
    events = sorted({a.ticket.event_id for a in accepts})
    found = session.execute(
        _LOCK_AND_FIND,
        {
            **locks.ACCEPT_PARAMS,
            "event_ids": events,
            "user_ids": sorted({a.ticket.user_id for a in accepts}),
        },
    ).one()
    known_events, known_users = set(found.events), set(found.users)
    outcomes: list[AcceptOutcome | None] = []
    for accept in accepts:
        if accept.ticket.event_id not in known_events:
            outcomes.append(EventNotFound(accept.ticket.event_id))
        elif accept.ticket.user_id not in known_users:
            outcomes.append(UserNotFound(accept.ticket.user_id))
        else:
            outcomes.append(None)
    claims, same_key_as = _claim_keys(session, accepts, outcomes)
    fresh = [i for i, outcome in enumerate(outcomes) if outcome is None]
    if fresh:
        ids = new_ticket_ids(len(fresh))
        params: dict[str, list[Any]] = {
            "ticket_ids": ids,
            "types": [accepts[i].ticket.type for i in fresh],
            "user_ids": [accepts[i].ticket.user_id for i in fresh],
            "event_ids": [accepts[i].ticket.event_id for i in fresh],
            "seats": [accepts[i].ticket.seats for i in fresh],
            "owners": [accepts[i].owner for i in fresh],
        }
        traces = [accepts[i].trace_context for i in fresh]
        statement = _INSERT_UNTRACED
        if any(traces):
            statement, params["traces"] = _INSERT_TRACED, traces
        rows = session.execute(statement, params)
        inserted = {ticket_id: (seq, created_at) for ticket_id, seq, created_at in rows}
        for i, ticket_id in zip(fresh, ids, strict=True):
            ticket, (seq, created_at) = accepts[i].ticket, inserted[ticket_id]
            outcomes[i] = TicketView(
                ticket_id,
                seq,
                ticket.type,
                ticket.user_id,
                ticket.event_id,
                None,
                accepts[i].owner,
                "pending",
                None,
                created_at,
                None,
                ticket.seats,
            )
        idempotency.bind_many(
            session,
            [(claim, _ticket_id(outcomes[i])) for i, claim in claims.items()],
        )
        _wake_after_commit(session, [accepts[i].ticket.event_id for i in fresh])
    for i, first in same_key_as.items():
        earlier = outcomes[first]
        outcomes[i] = (
            idempotency.Replay(earlier.ticket_id) if isinstance(earlier, TicketView) else earlier
        )
    return [outcome for outcome in outcomes if outcome is not None]


def _claim_keys(
    session: Session, accepts: Sequence[Accept], outcomes: list[AcceptOutcome | None]
) -> tuple[dict[int, idempotency.Claim], dict[int, int]]:
    """Claim the Idempotency-Keys of the commands still standing, each in a savepoint so that a
    key in flight elsewhere refuses only its own command. A key repeated within the group is
    claimed once; its repeats become replays of the first (or share its refusal)."""
    claims: dict[int, idempotency.Claim] = {}
    same_key_as: dict[int, int] = {}
    first_of: dict[tuple[str, str], int] = {}
    for i, accept in enumerate(accepts):
        request = accept.claim
        if request is None or outcomes[i] is not None:
            continue
        key = (request.owner, request.key)
        if key in first_of:
            first = first_of[key]
            if accepts[first].claim == request:
                same_key_as[i] = first
                outcomes[i] = IdempotencyKeyInFlight()  # a placeholder until the first is known
            else:
                outcomes[i] = IdempotencyKeyReused()
            continue
        first_of[key] = i
        try:
            with session.begin_nested():
                claim = idempotency.claim(session, request)
        except (IdempotencyKeyInFlight, IdempotencyKeyReused) as refused:
            outcomes[i] = refused
            continue
        if claim.replay_of is not None:
            outcomes[i] = idempotency.Replay(claim.replay_of)
        else:
            claims[i] = claim
    return claims, same_key_as


def _ticket_id(outcome: AcceptOutcome | None) -> str:
    assert isinstance(outcome, TicketView)
    return outcome.ticket_id


# --- accept batches ---------------------------------------------------------------------


def insert_tickets(
    session: Session,
    tickets: Sequence[NewTicket],
    owner: str,
    batch_id: str | None = None,
    trace_context: str | None = None,
) -> list[str]:
    """COPY the tickets in, in the given order, and return their ids in that order; their
    events are woken once the transaction commits. `trace_context`: the accepting request's
    traceparent, if it was traced (only then is the column written)."""
    ids = new_ticket_ids(len(tickets))
    locks.hold_accept_locks(session, {t.event_id for t in tickets})
    now = acceptance_clock(session)
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(
            "COPY tickets (ticket_id, type, user_id, event_id, seats, batch_id, owner, status,"
            f" created_at{', trace_context' if trace_context else ''}) FROM STDIN"
        ) as copy,
    ):
        traced = (trace_context,) if trace_context else ()
        for ticket_id, ticket in zip(ids, tickets, strict=True):
            copy.write_row(
                (
                    ticket_id,
                    ticket.type,
                    ticket.user_id,
                    ticket.event_id,
                    ticket.seats,
                    batch_id,
                    owner,
                    "pending",
                    now,
                    *traced,
                )
            )
    _wake_after_commit(session, [t.event_id for t in tickets])
    return ids


# --- read -------------------------------------------------------------------------------


# Written as a literal, never a bound parameter: only a plan that sees `'pending'` can use the
# partial index of pending tickets. With a parameter, the generic plan that psycopg's prepared
# statements settle on walked every ticket ever taken in `seq` order on each apply pass.
IS_PENDING = Ticket.status == literal_column("'pending'")


def get_ticket(session: Session, ticket_id: str) -> TicketView | None:
    query = select(*TICKET_COLUMNS).where(Ticket.ticket_id == ticket_id)
    row = session.execute(query).one_or_none()
    return None if row is None else TicketView(*row)


def pending_tickets(
    session: Session,
    event_ids: Collection[str],
    limit: int,
    accepted_by: dt.datetime | None = None,
    with_trace_context: bool = False,
) -> list[TicketView]:
    """The events' pending tickets in acceptance order, up to `limit` of them shared among the
    events (`pending_share`)."""
    return pending_share(session, event_ids, limit, accepted_by, with_trace_context).tickets


@dataclass(frozen=True)
class PendingShare:
    tickets: list[TicketView]  # in `seq` order; of each event, a prefix of its pending ones
    whole: frozenset[str]  # the events none of whose pending tickets were left out


SHARE_ROUNDS = 3
_FOREVER = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
_NEXT_OF_EACH = """
    SELECT {outer}
      FROM unnest(CAST(:event_ids AS text[]), CAST(:after AS bigint[])) AS w(event_id, after)
     CROSS JOIN LATERAL (
            SELECT {inner} FROM tickets AS t
             WHERE t.event_id = w.event_id AND t.status = 'pending' AND t.seq > w.after
               AND t.created_at <= :accepted_by
             ORDER BY t.seq LIMIT :each) AS prefix
    """


def _next_of_each(with_trace_context: bool) -> TextualSelect:
    columns = (*TICKET_COLUMNS, Ticket.trace_context) if with_trace_context else TICKET_COLUMNS
    names = [column.expression.name for column in columns]
    statement = text(
        _NEXT_OF_EACH.format(
            outer=", ".join(f"prefix.{name}" for name in names),
            inner=", ".join(f"t.{name}" for name in names),
        )
    )
    # Its result columns declared: SQLAlchemy reuses the result's description across calls.
    return statement.columns(*(Ticket.__table__.c[name] for name in names))


# The statement without and with the tickets' trace contexts (read only for a traced pass).
_NEXT_OF_EACH_STATEMENTS: dict[bool, TextualSelect] = {
    traced: _next_of_each(traced) for traced in (False, True)
}


def pending_share(
    session: Session,
    event_ids: Collection[str],
    limit: int,
    accepted_by: dt.datetime | None = None,
    with_trace_context: bool = False,
) -> PendingShare:
    """Up to `limit` of the events' pending tickets (accepted by `accepted_by`), shared among
    the events: each is offered an equal part (the first ones in `event_ids`' order when there
    are more events than tickets), and what the events with fewer leave is offered again to the
    others, for up to `SHARE_ROUNDS` rounds. Each round reads each event's next tickets through
    the partial index (event, seq), at most `limit` rows in all: reading every event's first
    `limit` and keeping the `limit` oldest read 50,000 rows a pass for a 100-event bulk import,
    and one event's backlog held back every other event's tickets until it was applied."""
    order = list(event_ids)
    statement = _NEXT_OF_EACH_STATEMENTS[with_trace_context]
    taken: dict[str, list[TicketView]] = {event_id: [] for event_id in order}
    whole: set[str] = set()
    room, open_events = limit, order
    for _ in range(SHARE_ROUNDS):
        if room <= 0 or not open_events:
            break
        asked = open_events[:room]
        each = room // len(asked)
        rows = session.execute(
            statement,
            {
                "event_ids": asked,
                "after": [taken[e][-1].seq if taken[e] else 0 for e in asked],
                "accepted_by": accepted_by or _FOREVER,
                "each": each,
            },
        )
        got = dict.fromkeys(asked, 0)
        for row in rows:
            ticket = TicketView(*row)
            taken[ticket.event_id].append(ticket)
            got[ticket.event_id] += 1
            room -= 1
        whole.update(e for e in asked if got[e] < each)
        open_events = [e for e in asked if got[e] == each] + open_events[len(asked) :]
    tickets = sorted((t for line in taken.values() for t in line), key=lambda t: t.seq)
    return PendingShare(tickets, frozenset(whole))


def stale_pending_events(session: Session, older_than: dt.datetime, limit: int = 1000) -> list[str]:
    """Events with a ticket pending since before `older_than`: their wake-up may be lost."""
    return list(
        session.scalars(
            select(Ticket.event_id)
            .where(IS_PENDING)
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
        ).where(IS_PENDING)
    ).one()
    return Backlog(int(pending), max(float(age), 0.0))


# --- complete ---------------------------------------------------------------------------

_COMPLETE = text(
    """
    UPDATE tickets AS t
       SET status = v.status, result = v.result, completed_at = :now
      FROM jsonb_to_recordset(CAST(:done AS jsonb)) AS v(ticket_id text, status text, result jsonb)
     WHERE t.ticket_id = ANY(CAST(:ids AS text[]))  -- the primary key, not every pending ticket
       AND t.ticket_id = v.ticket_id AND t.status = 'pending'
    """
)


def complete(
    session: Session,
    batch: Sequence[TicketView],
    statuses: Sequence[str],
    results: Sequence[dict[str, Any] | None],
    now: dt.datetime,
) -> None:
    """Mark the tickets done at `now` with their results, in one statement. Raises
    TicketConflict (the caller rolls back) if any of them was no longer pending."""
    # One JSON document, not a text array of results: psycopg quotes every element of a text
    # array with a regular expression, and a result is all quotes (a tenth of a 500-ticket
    # pass's Python).
    done = [
        {"ticket_id": t.ticket_id, "status": status, "result": result}
        for t, status, result in zip(batch, statuses, results, strict=True)
    ]
    outcome = session.execute(
        _COMPLETE,
        {
            "now": now,
            "ids": [t.ticket_id for t in batch],
            "done": json.dumps(done, separators=(",", ":")),
        },
    )
    if getattr(outcome, "rowcount", len(batch)) != len(batch):
        raise TicketConflict(f"{len(batch)} tickets to complete, but not all were pending")


@dataclass(frozen=True)
class Settled:
    """What a ticket became: enough to answer a client waiting for it."""

    status: str
    result: dict[str, Any] | None
    completed_at: dt.datetime | None


def settled(session: Session, ticket_ids: Collection[str]) -> dict[str, Settled]:
    """Those of the tickets that are no longer pending, with their outcomes."""
    if not ticket_ids:
        return {}
    ids = bindparam("ticket_ids", sorted(ticket_ids), type_=ARRAY(String))
    rows = session.execute(
        select(Ticket.ticket_id, Ticket.status, Ticket.result, Ticket.completed_at).where(
            Ticket.ticket_id == any_(ids), Ticket.status != "pending"
        )
    )
    return {ticket_id: Settled(status, result, done) for ticket_id, status, result, done in rows}
