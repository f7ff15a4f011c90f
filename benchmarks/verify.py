"""Correctness at the end of every scenario: a fast wrong answer is a failed benchmark.

Checked against the database (the source of truth) and the client's own records:
- every command got its 202, and every 202 ticket exists and is `completed` (none pending, none
  failed, none that nobody asked for);
- the contract's invariants, by `models.storage.invariants` (what `tessera check` runs);
- order: per event, a ticket whose 202 came back before another was sent was applied first,
  and for register-only workloads the seats and waitlist positions follow the apply order
  exactly (first `capacity` seated, then positions 1..n).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.load import Results
from models.storage.invariants import run_checks

Connection = psycopg.Connection[tuple[Any, ...]]
MAX_PROBLEMS = 10


def _rows(conn: Connection, query: str) -> list[tuple[Any, ...]]:
    return conn.execute(query).fetchall()


def invariants(sessions: sessionmaker[Session]) -> list[str]:
    """Guarantee 3, by the project's one checker (`models.storage.invariants`, what `tessera check`
    runs), in one snapshot of the database."""
    with sessions() as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        results = run_checks(session, limit=MAX_PROBLEMS)
    return [
        f"invariant broken ({result.name}: {result.description}): {violation}"
        for result in results
        for violation in result.violations
    ][:MAX_PROBLEMS]


def tickets_settled(conn: Connection, results: Results | None, expected: int | None) -> list[str]:
    """Every command answered 202, every 202 ticket is in the database and completed."""
    problems: list[str] = []
    counts = dict(_rows(conn, "SELECT status, count(*) FROM tickets GROUP BY status"))
    if counts.get("pending"):
        problems.append(f"{counts['pending']} tickets still pending")
    if counts.get("failed"):
        problems.append(f"{counts['failed']} tickets failed")
    total = sum(counts.values())
    if expected is not None and total != expected:
        problems.append(f"{total} tickets in the database, {expected} expected")
    if results is not None:
        refused = len(results) - results.count_status(202)
        if refused:
            problems.append(f"{refused} commands were not accepted with 202: {results.errors[:3]}")
        known = {row[0] for row in _rows(conn, "SELECT ticket_id FROM tickets")}
        missing = [t for t in results.ids if t is not None and t not in known]
        if missing:
            problems.append(f"{len(missing)} accepted tickets are missing, e.g. {missing[:3]}")
    return problems


# The order the worker applied an event's tickets in: batch after batch (each batch stamps its
# tickets with one `completed_at`, later than the previous batch's, since batches of an event
# are serialised by its lock), and within a batch by `seq`. Note that this is not simply `seq`
# order: `seq` is drawn at INSERT, but a ticket becomes visible at COMMIT, so two concurrent
# requests may commit out of `seq` order and the later `seq` be applied in an earlier batch. The
# contract allows that (neither was accepted before the other was sent).
APPLY_RANK = """
    SELECT ticket_id, seq,
           row_number() OVER (PARTITION BY event_id ORDER BY completed_at, seq)
      FROM tickets
"""


def acceptance_order(conn: Connection, results: Results, event_ids: Sequence[str]) -> list[str]:
    """Per event: if ticket A's 202 came back before B was sent, A was applied first
    (CONTRACT.md guarantee 2), and A has the smaller `seq` (what the applier orders by)."""
    seq_of: dict[str, int] = {}
    rank_of: dict[str, int] = {}
    for ticket_id, seq, rank in _rows(conn, APPLY_RANK):
        seq_of[ticket_id] = seq
        rank_of[ticket_id] = rank
    by_event: dict[str, list[int]] = defaultdict(list)
    for index, ticket_id in enumerate(results.ids):
        if ticket_id is not None and ticket_id in seq_of:
            by_event[event_ids[index]].append(index)
    problems: list[str] = []
    for event_id, indices in by_event.items():
        for label, key in (("applied", rank_of), ("given a seq", seq_of)):
            problem = _first_inversion(results, indices, key)
            if problem is not None:
                problems.append(
                    f"event {event_id}: ticket {problem} was sent after another ticket's 202 "
                    f"came back, yet {label} before it"
                )
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems


def _first_inversion(results: Results, indices: list[int], key: dict[str, int]) -> str | None:
    """The first ticket whose key is not above every key answered before it was sent."""
    by_answer = sorted(indices, key=lambda i: results.answered[i])
    latest = -1
    cursor = 0
    for later in sorted(indices, key=lambda i: results.sent[i]):
        while cursor < len(by_answer) and results.answered[by_answer[cursor]] < results.sent[later]:
            latest = max(latest, key[str(results.ids[by_answer[cursor]])])
            cursor += 1
        if key[str(results.ids[later])] <= latest:
            return str(results.ids[later])
    return None


def register_only_outcomes(conn: Connection) -> list[str]:
    """For workloads of registers only, distinct users per event, on fresh events: in apply
    order the first `capacity` tickets are seated and the rest hold positions 1, 2, … (or are
    denied EVENT_FULL without a waitlist); the tables agree with the tickets."""
    rows = _rows(
        conn,
        """
        SELECT t.event_id, t.user_id, t.result->>'status', (t.result->>'position')::int,
               e.capacity, e.waitlist_enabled
          FROM tickets t JOIN events e USING (event_id)
         ORDER BY t.event_id, t.completed_at, t.seq
        """,
    )
    standing = {
        (event_id, user_id): (kind, place)
        for event_id, user_id, kind, place in _rows(
            conn,
            """
            SELECT event_id, user_id, standing,
                   row_number() OVER (PARTITION BY event_id, standing ORDER BY place_order)
              FROM registrations
            """,
        )
    }
    problems: list[str] = []
    index_in_event = 0
    previous = None
    for event_id, user_id, status, position, capacity, waitlist in rows:
        index_in_event = index_in_event + 1 if event_id == previous else 0
        previous = event_id
        expected: tuple[str, int | None]
        if index_in_event < capacity:
            expected = ("registered", None)
        elif waitlist:
            expected = ("waitlisted", index_in_event - capacity + 1)
        else:
            expected = ("denied", None)
        if (status, position if expected[0] == "waitlisted" else None) != expected:
            problems.append(
                f"event {event_id}: ticket #{index_in_event + 1} in apply order ({user_id}) is "
                f"{status}/{position}, expected {expected[0]}/{expected[1]}"
            )
        elif expected[0] != "denied":
            held = standing.get((event_id, user_id))
            want = (expected[0], 1 + index_in_event if expected[1] is None else expected[1])
            if held is None or held[0] != want[0] or held[1] != want[1]:
                problems.append(
                    f"event {event_id}: {user_id} holds {held}, tickets say {want[0]} #{want[1]}"
                )
        if len(problems) >= MAX_PROBLEMS:
            break
    if not rows:
        problems.append("no tickets to check")
    return problems


def replayed_outcomes(conn: Connection, limit: int = 20) -> list[str]:
    """For workloads of registers, unregisters and approval decisions on events nobody
    reconfigures: replay each event's tickets in apply order (completion, then `seq`) through
    the pure rules, from an empty event with the event's settings, and require the same result
    on every ticket and the same seats, line and pending applications in the tables. Works for
    parties, both policies and both admissions."""
    from models.domain.passes import command_for
    from models.domain.results import result_of
    from models.domain.rules import Admission, EventSeats, Policy, Standing

    settings = {
        row[0]: row[1:]
        for row in _rows(
            conn,
            "SELECT event_id, capacity, waitlist_enabled, max_party_size, waitlist_policy,"
            " bypass_limit, admission FROM events",
        )
    }
    replays: dict[str, EventSeats] = {}
    problems: list[str] = []
    compared = ("status", "code", "position", "promotedUserIds")
    for event_id, user_id, kind, seats, created_at, result in _rows(
        conn,
        """
        SELECT event_id, user_id, type, seats, created_at, result FROM tickets
         WHERE status = 'completed' ORDER BY event_id, completed_at, seq
        """,
    ):
        if event_id not in settings:
            continue
        replay = replays.get(event_id)
        if replay is None:
            capacity, waitlist, max_party, policy, bypass, admission = settings[event_id]
            replay = replays[event_id] = EventSeats.empty(
                capacity,
                waitlist_enabled=waitlist,
                max_party_size=max_party,
                policy=Policy(policy),
                bypass_limit=bypass,
                admission=Admission(admission),
            )
        expected = result_of(replay.handle(command_for(kind, user_id, seats, created_at)))
        if any(result.get(k) != expected[k] for k in compared) and len(problems) < limit:
            problems.append(
                f"event {event_id}: {kind} of {user_id} gave "
                f"{ {k: result.get(k) for k in compared} }, the rules replayed give "
                f"{ {k: expected[k] for k in compared} }"
            )
    tables: dict[str, tuple[set[tuple[str, int]], list[str], set[str]]] = defaultdict(
        lambda: (set(), [], set())
    )
    for event_id, user_id, standing, seats in _rows(
        conn,
        "SELECT event_id, user_id, standing, seats FROM registrations"
        " ORDER BY event_id, place_order",
    ):
        if standing == Standing.REGISTERED:
            tables[event_id][0].add((user_id, seats))
        elif standing == Standing.APPLIED:  # no seat and no place in the line
            tables[event_id][2].add(user_id)
        else:
            tables[event_id][1].append(user_id)
    for event_id, replay in replays.items():
        members = [(u, m) for u, m in replay.members.items() if m is not None]
        seated = {(u, m.seats) for u, m in members if m.standing is Standing.REGISTERED}
        applied = {u for u, m in members if m.standing is Standing.APPLIED}
        if (seated, list(replay.waitlist), applied) != tables[event_id] and len(problems) < limit:
            problems.append(f"event {event_id}: the tables differ from the replayed rules")
    return problems


def ledgers_verify(database_url: str, event_ids: list[str]) -> list[str]:
    """Each event's ledger, written under the load, verifies through the rules against the
    event's views (`tessera verify`)."""
    from models.domain.ledger_verify import verify
    from tessera.tools.ledger_sources import DatabaseSource

    problems: list[str] = []
    source = DatabaseSource(database_url)
    for event_id in event_ids:
        snapshot = source.snapshot(event_id, with_views=True)
        verdict = verify(snapshot.entries, snapshot.views, event_id=event_id)
        if not verdict.ok:
            problems.append(f"ledger of {event_id} does not verify: {verdict.divergence}")
    return problems
