"""`python -m benchmarks.applier`: the apply pass alone, in this process, on a backlog.

N pending tickets (accepted with the API's own `insert_tickets`) over E events, then apply
passes until none is left, as `workers.apply.drain` runs them but without Celery, Redis
wake-ups or HTTP: applied/s, this process's CPU and PostgreSQL's per ticket, and where the
statements' time goes. The figures in docs/BENCHMARKS.md that name this command come from it.

`--limit 1` measures one-ticket passes (a quiet event's: CPU per ticket is per pass), and
`--calls` counts the Python calls per pass, exactly (timings are then meaningless).
`--appliers 2 --events-per-pass 50` measures what two appliers over disjoint events would do
on this machine (processes forked from this one, each pass taking at most that many events).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import multiprocessing
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from models.domain import ledger
from models.domain.rules import EventSeats, Policy
from models.storage import ledger_store, locks
from models.storage.db import migrate
from models.storage.tickets import NewTicket, insert_tickets
from tessera.config import Settings
from tessera.tools.servers import servers
from workers import runtime
from workers.apply import PassState, apply_pass

WORKING = (PassState.APPLIED, PassState.PARTIAL)
WAITING = (PassState.BUSY, PassState.RACED)  # another applier holds the rest: look again


class _NoSender:
    def send_task(self, name: str, args: list[Any], **_: Any) -> object:
        return None


class StatementTimes:
    """Wall time per statement (first 90 characters), measured around the driver's execute."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self._started: dict[int, float] = {}

    def _before(self, conn: Any, *_: Any) -> None:
        self._started[id(conn)] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        entry = self.times[" ".join(statement.split())[:90]]
        entry[0] += 1
        entry[1] += time.perf_counter() - self._started.pop(id(conn), time.perf_counter())

    @contextmanager
    def listening(self) -> Iterator[StatementTimes]:
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)
        try:
            yield self
        finally:
            event.remove(Engine, "before_cursor_execute", self._before)
            event.remove(Engine, "after_cursor_execute", self._after)

    def top(self, count: int) -> list[str]:
        ranked = sorted(self.times.items(), key=lambda item: -item[1][1])[:count]
        return [f"  {seconds * 1000:9.1f} ms {int(n):6d}x  {text}" for text, (n, seconds) in ranked]


def _postgres_cpu() -> float:
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if "postgres" in (process.info["name"] or ""):
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
    return total


def _seed(conn: psycopg.Connection[Any], sessions: Any, args: argparse.Namespace) -> None:
    conn.execute(
        "TRUNCATE tickets, registrations, users, events, event_log, ledger_entries,"
        " webhook_deliveries RESTART IDENTITY CASCADE"
    )
    users = [f"d{i:06d}" for i in range(args.tickets)]
    events = [f"b{i:04d}" for i in range(args.events)]
    capacity = args.capacity or max(1, args.tickets // (10 * args.events))
    with conn.cursor() as cursor, cursor.copy("COPY users (user_id, name) FROM STDIN") as copy:
        for user_id in users:
            copy.write_row((user_id, user_id))
    with (
        conn.cursor() as cursor,
        cursor.copy(
            "COPY events (event_id, title, description, date, location, capacity, organizer,"
            " status, waitlist_enabled, max_party_size, waitlist_policy) FROM STDIN"
        ) as copy,
    ):
        for event_id in events:
            row = (event_id, "Backlog", "", dt.date(2030, 1, 1), "Hall", capacity, "Tessera")
            copy.write_row((*row, "active", True, 1, "strict"))
    settings = ledger.settings_json(
        EventSeats.empty(capacity, waitlist_enabled=True, max_party_size=1, policy=Policy.STRICT)
    )
    with sessions.begin() as session:
        for event_id in events:
            ledger_store.start(session, event_id, ledger.created_entry(event_id, settings))
    with sessions.begin() as session:
        tickets = [
            NewTicket("register", user_id, events[k % len(events)])
            for k, user_id in enumerate(users)
        ]
        insert_tickets(session, tickets, owner="bench")
    conn.execute("VACUUM ANALYZE")


def _apply_all(built: runtime.Runtime, limit: int, events_per_pass: int) -> int:
    """Passes until nothing is pending; the number of passes that applied something."""
    take = locks.take_pending_events

    def fewer(session: Session, most: int) -> locks.Taken:
        return take(session, min(most, events_per_pass))

    if events_per_pass:
        locks.take_pending_events = fewer  # type: ignore[assignment]
    passes = 0
    try:
        while True:
            state, _ = apply_pass(built, limit)
            if state in WAITING:
                continue
            if state not in WORKING:
                return passes
            passes += 1
    finally:
        locks.take_pending_events = take


def _run(built: runtime.Runtime, args: argparse.Namespace) -> int:
    if args.appliers == 1:
        return _apply_all(built, args.limit, args.events_per_pass)
    built.engine.dispose()  # each forked applier opens its own connections
    fork = multiprocessing.get_context("fork")
    workers = [
        fork.Process(target=_apply_all, args=(built, args.limit, args.events_per_pass))
        for _ in range(args.appliers)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return 0


class CallCounter:
    """Python calls (and calls into C) while it is on: exact, and slow; time nothing with it."""

    def __init__(self) -> None:
        self.calls = 0

    def _count(self, _frame: Any, event: str, _arg: Any) -> None:
        if event in ("call", "c_call"):
            self.calls += 1

    @contextmanager
    def counting(self) -> Iterator[CallCounter]:
        sys.setprofile(self._count)
        try:
            yield self
        finally:
            sys.setprofile(None)


def _round(
    number: int, built: runtime.Runtime, conn: psycopg.Connection[Any], args: argparse.Namespace
) -> None:
    _seed(conn, built.sessions, args)
    statements = StatementTimes()
    calls = CallCounter()
    profile = cProfile.Profile() if args.profile and number == args.rounds - 1 else None
    forked = args.appliers > 1
    cpu, postgres, wall = time.process_time(), _postgres_cpu(), time.perf_counter()
    with contextlib.ExitStack() as measuring:
        if args.statements:
            measuring.enter_context(statements.listening())
        if args.calls:
            measuring.enter_context(calls.counting())
        if profile is not None:
            profile.enable()
        passes = _run(built, args)
        if profile is not None:
            profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    postgres = _postgres_cpu() - postgres
    row = conn.execute("SELECT count(*) FROM tickets WHERE status = 'completed'").fetchone()
    applied = int(row[0]) if row else 0
    per = 1000 / max(applied, 1)
    worker = "(forked: not measured)" if forked else f"{cpu * per:.3f}"
    print(  # noqa: T201 - a command-line report
        f"round {number}: {applied:,} applied in {wall:.2f} s, {applied / wall:,.0f}/s"
        + (f", {passes} passes" if not forked else f", {args.appliers} appliers")
        + f"; per ticket ms: wall {wall * per:.3f}, applier {worker},"
        f" PostgreSQL {postgres * per:.3f}"
        + (
            f"; Python calls per pass {calls.calls / max(passes, 1):,.0f}"
            if args.calls and not forked
            else ""
        )
    )
    if args.statements and not forked:
        print("\n".join(statements.top(10)))  # noqa: T201
    if profile is not None:
        profile.dump_stats(args.profile)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.applier", description=__doc__)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=1)
    parser.add_argument("--capacity", type=int, default=0, help="per event [tickets/10/events]")
    parser.add_argument("--limit", type=int, default=500, help="tickets per pass [500]")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--appliers", type=int, default=1)
    parser.add_argument("--events-per-pass", type=int, default=0, help="[the pass's limit]")
    parser.add_argument("--statements", action="store_true", help="time each statement")
    parser.add_argument("--calls", action="store_true", help="count Python calls (slow)")
    parser.add_argument("--profile", help="write the last round's cProfile stats here")
    args = parser.parse_args(argv)
    data = Path(tempfile.mkdtemp(prefix="tessera-applier-"))
    try:
        with servers(data, os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")) as urls:
            migrate(urls.database_url)
            built = runtime.build(
                Settings(database_url=urls.database_url, redis_url=urls.redis_url), _NoSender()
            )
            plain_url = urls.database_url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(plain_url, autocommit=True) as conn:
                for number in range(args.rounds):
                    _round(number, built, conn, args)
            built.engine.dispose()
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _entry() -> Callable[[], None]:
    return main


if __name__ == "__main__":
    _entry()()
