"""The system under test: the real stack on free ports, plus the direct database access the
benchmark needs to seed data, wait for the workers and read the timings back.

Users and events are seeded with COPY (a benchmark of the command path should not spend minutes
on 20,000 `POST /users`); everything that is measured goes through HTTP.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis
from sqlalchemy.orm import Session, sessionmaker

from models.storage.db import make_engine, make_sessionmaker, migrate, psycopg_url
from models.storage.tables import Base
from tessera.tools.servers import EmbeddedPostgres, EmbeddedRedis, ServerUrls, servers
from tests.localstack import LocalStack

# Tables that hold what a scenario leaves behind (users and events included: each scenario
# seeds its own).
_TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)
BATCH_SIZE_VARIABLE = "TESSERA_APPLY_BATCH_SIZE"
# the class's name only: in the JSON log format the message ends in `"}`
_WORKER_CLASS = re.compile(r"Using worker: ([\w.]+)")


class BenchError(RuntimeError):
    """The benchmark could not run (as opposed to: it ran and found a wrong answer)."""


@dataclass(frozen=True)
class StackOptions:
    worker_processes: int = 2
    durable: bool = True
    wipe_external: bool = False
    apply_batch_size: int | None = None  # None: the application's default
    database_url: str | None = None  # None: embedded PostgreSQL in a temporary directory
    redis_url: str | None = None  # None: embedded Redis there too
    keep_logs: Path | None = None  # copy every process's log here before the cleanup


@dataclass
class BenchStack:
    """A running stack and a psycopg connection to its database (autocommit)."""

    urls: ServerUrls
    local: LocalStack
    admin_key: str
    options: StackOptions
    conn: psycopg.Connection[tuple[Any, ...]]
    redis: redis.Redis
    sessions: sessionmaker[Session]  # SQLAlchemy, for the project's own helpers
    postgres_pid: int | None = None  # the embedded postmaster (None: an external server)
    redis_pid: int | None = None

    @property
    def base_url(self) -> str:
        return self.local.base_url

    # --- data ---------------------------------------------------------------------------

    def wipe(self) -> None:
        """Empty every Tessera table and forget coalesced wake-ups, between scenarios.

        Only the drain keys are deleted from Redis, never the whole database: Celery keeps its
        queue bindings there too."""
        self.wait_idle()
        for attempt in range(5):
            try:
                self.conn.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
                break
            except psycopg.errors.DeadlockDetected:
                # the live stack's sweeper (or a draining worker) held a lock we collided with
                if attempt == 4:
                    raise
                time.sleep(0.1)
        keys = list(self.redis.scan_iter(match="tessera:drain*", count=1000))
        if keys:
            self.redis.delete(*keys)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no ticket is pending (a previous scenario's stragglers)."""
        self.wait_applied(timeout=timeout)

    def seed_users(self, user_ids: Iterable[str]) -> int:
        count = 0
        with (
            self.conn.cursor() as cursor,
            cursor.copy("COPY users (user_id, name) FROM STDIN") as copy,
        ):
            for user_id in user_ids:
                copy.write_row((user_id, user_id))
                count += 1
        return count

    def seed_events(
        self,
        event_ids: Sequence[str],
        capacity: int,
        waitlist: bool = True,
        *,
        max_party_size: int = 1,
        policy: str = "strict",
        ledger: bool = True,
    ) -> None:
        """COPY the events in; with `ledger`, each begins its ledger as `POST /events` would
        (without, they are events from before ledgers: nothing is recorded for them)."""
        with (
            self.conn.cursor() as cursor,
            cursor.copy(
                "COPY events (event_id, title, description, date, location, capacity,"
                " organizer, status, waitlist_enabled, max_party_size, waitlist_policy)"
                " FROM STDIN"
            ) as copy,
        ):
            for event_id in event_ids:
                copy.write_row(
                    (
                        event_id,
                        "Benchmark",
                        "",
                        dt.date(2030, 1, 1),
                        "Hall",
                        capacity,
                        "Tessera",
                        "active",
                        waitlist,
                        max_party_size,
                        policy,
                    )
                )
        if ledger:
            self._start_ledgers(event_ids, capacity, waitlist, max_party_size, policy)

    def _start_ledgers(
        self,
        event_ids: Sequence[str],
        capacity: int,
        waitlist: bool,
        max_party_size: int,
        policy: str,
    ) -> None:
        from models.domain import ledger
        from models.domain.rules import EventSeats, Policy
        from models.storage import ledger_store

        seats = EventSeats.empty(
            capacity,
            waitlist_enabled=waitlist,
            max_party_size=max_party_size,
            policy=Policy(policy),
        )
        settings = ledger.settings_json(seats)
        with self.sessions.begin() as session:
            for event_id in event_ids:
                ledger_store.start(session, event_id, ledger.created_entry(event_id, settings))

    def pending_count(self) -> int:
        row = self.conn.execute("SELECT count(*) FROM tickets WHERE status = 'pending'").fetchone()
        assert row is not None
        return int(row[0])

    def wait_applied(self, timeout: float) -> bool:
        """Wait (bounded) until no ticket is pending; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pending_count() == 0:
                return True
            time.sleep(0.05)
        return self.pending_count() == 0

    # --- processes ------------------------------------------------------------------------

    def restart_workers(self, apply_batch_size: int | None) -> None:
        """Restart the Celery worker with another apply batch size (None: the configured
        one), e.g. for the naive reference point."""
        self.wait_idle()
        self.local.stop("worker")
        env = {k: v for k, v in self.local.env.items() if k != BATCH_SIZE_VARIABLE}
        size = apply_batch_size or self.options.apply_batch_size
        if size is not None:
            env[BATCH_SIZE_VARIABLE] = str(size)
        self.local.env = env
        self.local.start_worker(concurrency=self.options.worker_processes)

    def group_rss(self, name: str) -> int:
        """Resident memory of a process and all its descendants, in bytes (a gunicorn master
        and its workers; a Celery main process and its pool)."""
        process = self.local.processes.get(name)
        if process is None:
            return 0
        total = 0
        try:
            root = psutil.Process(process.pid)
            for member in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += member.memory_info().rss
        except psutil.NoSuchProcess:
            return 0
        return total

    def api_worker_class(self) -> str:
        """gunicorn's worker class, as the API logged it at boot ("Using worker: gthread")."""
        with contextlib.suppress(OSError):
            found = _WORKER_CLASS.search(self.local.log_path("api").read_text(errors="replace"))
            if found is not None:
                return found.group(1)
        return "unknown"

    def api_processes(self) -> int:
        """The API's worker processes (the gunicorn master's children)."""
        process = self.local.processes.get("api")
        if process is None:
            return 0
        with contextlib.suppress(psutil.NoSuchProcess):
            return len(psutil.Process(process.pid).children())
        return 0

    def cpu_groups(self) -> dict[str, list[int]]:
        """The root pid of every process group whose CPU time a scenario accounts for."""
        groups: dict[str, list[int]] = {
            name: [self.local.processes[name].pid]
            # noop and memory: the reference apps (HTTP limit, in-memory contract)
            for name in ("api", "worker", "beat", "noop", "memory")
            if name in self.local.processes
        }
        if self.postgres_pid is not None:
            groups["postgres"] = [self.postgres_pid]
        if self.redis_pid is not None:
            groups["redis"] = [self.redis_pid]
        return groups


def _tables_hold_data(conn: psycopg.Connection[tuple[Any, ...]]) -> bool:
    for table in ("users", "events", "tickets"):
        row = conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()  # noqa: S608
        if row is not None and row[0]:
            return True
    return False


@contextlib.contextmanager
def running_stack(options: StackOptions) -> Iterator[BenchStack]:
    """Servers (embedded in a temp dir unless DATABASE_URL / REDIS_URL are set), migrations,
    then API, workers and beat as subprocesses; everything started here is stopped after."""
    data_dir = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    database_url = options.database_url
    redis_url = options.redis_url
    admin_key = "bench-" + secrets.token_urlsafe(24)
    try:
        with servers(data_dir, database_url, redis_url, durable=options.durable) as urls:
            migrate(urls.database_url)
            conn: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(
                psycopg_url(urls.database_url), autocommit=True
            )
            if database_url and _tables_hold_data(conn) and not options.wipe_external:
                conn.close()
                raise BenchError(
                    "DATABASE_URL points at a database with data in it; the benchmark empties "
                    "its Tessera tables. Pass --wipe to allow that."
                )
            worker_env = {}
            if options.apply_batch_size is not None:
                worker_env[BATCH_SIZE_VARIABLE] = str(options.apply_batch_size)
            local = LocalStack(
                urls,
                data_dir / "stack",
                env={
                    "TESSERA_API_KEYS": f"{admin_key}:admin",
                    "TESSERA_RATE_LIMIT": "off",
                    # one key stands for every client of the load (`waiters` opens 1,000
                    # streams with it): the per-caller cap on open streams (100) would refuse
                    # 900 of them
                    "TESSERA_MAX_STREAMS_PER_PRINCIPAL": "100000",
                    "TESSERA_WORKER_PROCESSES": str(options.worker_processes),
                    # LocalStack's defaults are tuned for fault tests (1 s); a benchmark runs
                    # the production cadence, so a backlog older than 1 s is not re-woken
                    # more often than it would be in production.
                    "TESSERA_SWEEP_INTERVAL": "2",
                    "TESSERA_SWEEP_MIN_AGE": "2",
                    **worker_env,
                },
            )
            client = redis.Redis.from_url(urls.redis_url)
            engine = make_engine(urls.database_url, pool_size=1, max_overflow=1)
            stack = BenchStack(
                urls,
                local,
                admin_key,
                options,
                conn,
                client,
                make_sessionmaker(engine),
                postgres_pid=None if database_url else EmbeddedPostgres(data_dir).postmaster_pid(),
                redis_pid=None if redis_url else EmbeddedRedis(data_dir).pid(),
            )
            try:
                local.start(workers=options.worker_processes)
                stack.wipe()
                yield stack
            finally:
                local.stop_all()
                client.close()
                engine.dispose()
                conn.close()
    finally:
        if options.keep_logs is not None:
            _keep_logs(data_dir, options.keep_logs)
        shutil.rmtree(data_dir, ignore_errors=True)


def _keep_logs(data_dir: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for log in [*(data_dir / "stack" / "logs").glob("*.log"), data_dir / "postgres.log"]:
        if log.exists():
            shutil.copy(log, target / log.name)


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants, including the children each of them
    has already reaped (PostgreSQL backends that came and went, for the postmaster)."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = member.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


@dataclass
class CpuMeter:
    """Where the machine's CPU went during a block: each process group of the stack, this
    benchmark process with its load processes, and everyone else on the machine (the other
    tenants of a shared box; their share says how far to trust the run).

    CPU per command is the figure that a busy neighbour disturbs least: on two cores the whole
    pipeline is CPU-bound, so it says directly which part to make cheaper."""

    stack: BenchStack
    before: dict[str, float] | None = None
    after: dict[str, float] | None = None

    def _sample(self) -> dict[str, float]:
        sample = {
            name: sum(_tree_cpu(p) for p in pids) for name, pids in self.stack.cpu_groups().items()
        }
        me = psutil.Process().cpu_times()
        sample["load generator"] = me.user + me.system + me.children_user + me.children_system
        machine = psutil.cpu_times()
        sample["machine busy"] = (
            machine.user + machine.nice + machine.system + machine.irq + machine.softirq
        ) + getattr(machine, "steal", 0.0)
        sample["wall"] = time.monotonic()
        return sample

    def __enter__(self) -> CpuMeter:
        self.before = self._sample()
        return self

    def __exit__(self, *_: object) -> None:
        self.after = self._sample()

    def per_command_ms(self, commands: int) -> dict[str, float]:
        """CPU milliseconds per command for each group, plus `others` (the rest of the
        machine) and `wall` (elapsed seconds)."""
        if self.before is None or self.after is None or commands <= 0:
            return {}
        # a group stopped or started inside the block (beat, in `waiters`) is left out
        delta = {k: self.after[k] - self.before[k] for k in self.before if k in self.after}
        ours = sum(v for k, v in delta.items() if k not in {"machine busy", "wall"})
        delta["others"] = max(0.0, delta.pop("machine busy") - ours)
        wall = delta.pop("wall")
        figures = {k: round(1000.0 * v / commands, 2) for k, v in delta.items()}
        figures["wallS"] = round(wall, 1)
        return figures
