"""The fault lab: private embedded PostgreSQL and Redis plus the real stack (gunicorn API, a
Celery worker with two pool processes, beat), and the faults this suite injects into them.

Nothing here is shared with the session fixtures of tests/conftest.py: these servers get
killed, paused and restarted. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
import requests
from psycopg import sql
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from models.storage.db import migrate, psycopg_url, sqlalchemy_url
from tessera.tools.servers import DATABASE_NAME, EmbeddedPostgres, EmbeddedRedis, ServerUrls
from tests.localstack import LocalStack

log = logging.getLogger("tessera.faults")

ADMIN_KEY = "faults-admin-key-0123456789abcdef"
CLIENT_KEY = "faults-client-key-0123456789abcdef"
OTHER_CLIENT_KEY = "faults-other-client-key-0123456789abcdef"
WORKER = "worker"
WORKER_CONCURRENCY = 2
PROCESSES = ("worker", "beat", "api")


@dataclass
class FaultRecord:
    """One injected fault: what, when (wall clock and monotonic), and whether it hit an applier
    in the middle of a batch (an event's advisory lock was held when the signal went out)."""

    kind: str
    at_wall: float
    at: float
    mid_batch: bool | None = None
    healed_at: float | None = None


@dataclass
class FaultLab:
    root: Path
    postgres: EmbeddedPostgres
    redis: EmbeddedRedis
    urls: ServerUrls
    stack: LocalStack
    engine: Engine
    postgres_port: int
    redis_port: int
    faults: list[FaultRecord] = field(default_factory=list)
    _paused: list[int] = field(default_factory=list)
    _killed_pool: set[int] = field(default_factory=set)
    _frozen: list[int] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    _expected_down: set[str] = field(default_factory=set)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    # --- life cycle ---------------------------------------------------------------------

    @classmethod
    def start(cls, root: Path | None = None) -> FaultLab:
        root = root or Path(tempfile.mkdtemp(prefix="tessera-faults-"))
        postgres = EmbeddedPostgres(root, durable=False)
        redis = EmbeddedRedis(root)
        database_url = postgres.start()
        try:
            redis_url = redis.start()
            migrate(database_url)
            _commit_synchronously(database_url)
        except BaseException:
            redis.stop()
            postgres.stop(mode="immediate")
            raise
        urls = ServerUrls(database_url, redis_url)
        stack = LocalStack(
            urls,
            root / "stack",
            env={
                "TESSERA_API_KEYS": (
                    f"{ADMIN_KEY}:admin,{CLIENT_KEY}:client,{OTHER_CLIENT_KEY}:client"
                ),
                "TESSERA_RATE_LIMIT": "off",
                # the webhook drills' receiver listens on loopback; their retries come quickly
                "TESSERA_WEBHOOK_ALLOW_PRIVATE": "1",
                "TESSERA_WEBHOOK_RETRY_SCHEDULE": "1,2,4",
            },
        )
        postgres_port = postgres.running_port()
        redis_port = redis.running_port()
        assert postgres_port is not None
        assert redis_port is not None
        engine = create_engine(sqlalchemy_url(database_url), poolclass=NullPool)
        lab = cls(root, postgres, redis, urls, stack, engine, postgres_port, redis_port)
        try:
            stack.start(workers=WORKER_CONCURRENCY)
        except BaseException:
            lab.close(keep_logs=True)
            raise
        return lab

    def close(self, keep_logs: bool = True) -> None:
        self.thaw()
        self.resume_postgres()
        self.stack.stop_all()
        self.engine.dispose()
        self.redis.stop()
        with contextlib.suppress(Exception):
            self.postgres.stop(mode="immediate")
        if keep_logs:
            for name in ("postgres", "redis"):
                shutil.rmtree(self.root / name, ignore_errors=True)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    @property
    def base_urls(self) -> list[str]:
        return [self.stack.base_url]

    def heal(self, timeout: float = 60.0) -> None:
        """Bring every server and process back, whatever state a scenario left them in."""
        self.thaw()
        self.resume_postgres()
        if self.postgres.running_port() is None:
            self.postgres.start(port=self.postgres_port)
        if self.redis.running_port() is None:
            self.redis.start(port=self.redis_port)
        with self._guard:  # what a fault plan killed and did not restart
            for name in sorted(self._expected_down):
                if not self.stack.running(name):
                    self.stack.restart(name, concurrency=WORKER_CONCURRENCY, timeout=timeout)
            self._expected_down.clear()
        self.restart_the_dead(timeout)
        self.stack.wait_ready(timeout)

    # --- the supervisor's job ---------------------------------------------------------------

    def restart_the_dead(self, timeout: float = 60.0) -> None:
        """Restart whatever died without this lab killing it, as `tessera up`'s supervisor (or
        a container's restart policy) would, and record each such crash."""
        with self._guard:
            for name in PROCESSES:
                if name in self._expected_down or self.stack.running(name):
                    continue
                process = self.stack.processes.get(name)
                code = process.returncode if process is not None else None
                self.crashes.append(
                    f"{name} exited by itself (code {code}): {_last_error(self.log_tail(name))}"
                )
                log.warning("%s died unexpectedly; restarting it", name)
                self.stack.restart(name, concurrency=WORKER_CONCURRENCY, timeout=timeout)

    @contextlib.contextmanager
    def supervised(self, interval: float = 0.25) -> Iterator[None]:
        """During the block, check every `interval` s for processes that died on their own."""
        stopping = threading.Event()

        def watch() -> None:
            while not stopping.wait(interval):
                with contextlib.suppress(Exception):  # e.g. the API waits for PostgreSQL
                    self.restart_the_dead()

        watcher = threading.Thread(target=watch, name="lab-supervisor", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stopping.set()
            watcher.join(90)

    def _record(self, kind: str, mid_batch: bool | None = None) -> FaultRecord:
        record = FaultRecord(kind, time.time(), time.monotonic(), mid_batch)
        self.faults.append(record)
        log.info("fault injected: %s (mid-batch: %s)", kind, mid_batch)
        return record

    # --- the worker ---------------------------------------------------------------------

    def wait_for_apply_in_progress(self, timeout: float = 3.0) -> bool:
        """Wait (bounded) until some worker is inside an apply transaction, i.e. holds an
        event's advisory lock. True if one was seen."""
        deadline = time.monotonic() + timeout
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(
                psycopg_url(self.urls.database_url), autocommit=True, connect_timeout=3
            ) as connection,
        ):
            while time.monotonic() < deadline:
                held = connection.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                ).fetchone()
                if held and held[0]:
                    return True
                time.sleep(0.003)
        return False

    def kill_worker(self) -> FaultRecord:
        """SIGKILL the worker's whole process group (main process and pool), mid-batch if the
        load gives us one within a few seconds."""
        mid_batch = self.wait_for_apply_in_progress()
        with self._guard:
            self._expected_down.add(WORKER)
            self.stack.kill(WORKER, signal.SIGKILL, whole_group=True)
        return self._record("worker SIGKILL (group)", mid_batch)

    def restart_worker(self) -> None:
        with self._guard:
            self.stack.restart(WORKER, concurrency=WORKER_CONCURRENCY)
            self._expected_down.discard(WORKER)
        self.faults[-1].healed_at = time.monotonic()

    def pool(self) -> list[int]:
        """The worker's live pool processes (a killed child stays a zombie until reaped)."""
        live = []
        for pid in self.stack.children_of(WORKER):
            with contextlib.suppress(psutil.NoSuchProcess):
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    live.append(pid)
        return live

    def kill_pool_children(self) -> FaultRecord:
        """SIGKILL the worker's pool processes only; the main process forks new ones."""
        self.wait_for_pool()
        mid_batch = self.wait_for_apply_in_progress()
        children = self.pool()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._killed_pool = set(children)
        return self._record(f"worker pool SIGKILL ({len(children)} children)", mid_batch)

    def wait_for_pool(self, size: int = WORKER_CONCURRENCY, timeout: float = 30.0) -> None:
        """Wait until the worker has `size` live pool processes, none of them one we killed."""
        deadline = time.monotonic() + timeout
        while len(set(self.pool()) - self._killed_pool) < size:
            self.restart_the_dead()
            if time.monotonic() > deadline:
                raise TimeoutError("the worker did not replace its pool processes")
            time.sleep(0.05)
        if self.faults and self.faults[-1].kind.startswith("worker pool"):
            self.faults[-1].healed_at = self.faults[-1].healed_at or time.monotonic()

    def freeze_applier(self, timeout: float = 5.0) -> FaultRecord:
        """SIGSTOP the pool process that is applying a batch right now (it holds an event's
        advisory lock and that event's row lock): a stalled, not a dead, worker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ports = {
                row[0]
                for row in self.rows(
                    "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                    " WHERE l.locktype = 'advisory' AND l.granted"
                )
            }
            for pid in self.pool():
                with contextlib.suppress(psutil.NoSuchProcess):
                    used = {c.laddr.port for c in psutil.Process(pid).net_connections("inet")}
                    if used & ports:
                        os.kill(pid, signal.SIGSTOP)
                        self._frozen.append(pid)
                        return self._record("worker pool process SIGSTOP (applier)", True)
            time.sleep(0.005)
        raise TimeoutError("no pool process was applying a batch")

    def thaw(self) -> None:
        for pid in self._frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        if self._frozen and self.faults:
            self.faults[-1].healed_at = time.monotonic()
        self._frozen = []

    # --- Redis ----------------------------------------------------------------------------

    def kill_redis(self) -> FaultRecord:
        self.redis.stop(sig=signal.SIGKILL)
        return self._record("redis SIGKILL")

    def start_redis(self) -> None:
        """Start Redis again, EMPTY (no persistence), on the port everyone already uses."""
        self.redis.start(port=self.redis_port)
        self.faults[-1].healed_at = time.monotonic()

    # --- PostgreSQL -----------------------------------------------------------------------

    def stop_postgres(self) -> FaultRecord:
        """As a crash would: `pg_ctl stop -m immediate` (no checkpoint, clients cut off)."""
        self.postgres.stop(mode="immediate")
        return self._record("postgres stop -m immediate")

    def start_postgres(self) -> None:
        """Start PostgreSQL again on the recorded port, so every DATABASE_URL stays valid."""
        self.postgres.start(port=self.postgres_port)
        self.faults[-1].healed_at = time.monotonic()

    def pause_postgres(self, whole_cluster: bool) -> FaultRecord:
        """SIGSTOP the postmaster (no new connections are served) or the whole cluster (every
        backend too: open connections stop answering, as on a frozen host)."""
        pid = self.postgres.postmaster_pid()
        assert pid is not None
        pids = [pid]
        if whole_cluster:
            with contextlib.suppress(psutil.NoSuchProcess):
                pids += [child.pid for child in psutil.Process(pid).children(recursive=True)]
        for target in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGSTOP)
        self._paused = pids
        what = "whole cluster" if whole_cluster else "postmaster"
        return self._record(f"postgres SIGSTOP ({what})")

    def resume_postgres(self) -> None:
        for target in reversed(self._paused):
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, signal.SIGCONT)
        if self._paused and self.faults:
            self.faults[-1].healed_at = time.monotonic()
        self._paused = []

    # --- the API --------------------------------------------------------------------------

    def kill_api(self) -> FaultRecord:
        with self._guard:
            self._expected_down.add("api")
            self.stack.kill("api", signal.SIGKILL, whole_group=True)
        return self._record("api SIGKILL (gunicorn group)")

    def restart_api(self) -> None:
        with self._guard:
            self.stack.restart("api")
            self._expected_down.discard("api")
        self.faults[-1].healed_at = time.monotonic()

    # --- reading the truth ----------------------------------------------------------------

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def table_counts(self) -> dict[str, int]:
        tables = (
            "users",
            "events",
            "registrations",
            "tickets",
            "batches",
            "idempotency_keys",
            "event_log",
        )
        return {table: int(self.scalar(f"SELECT count(*) FROM {table}")) for table in tables}

    def seed_users(self, user_ids: list[str]) -> None:
        """Users straight into the table: the scenarios are about commands, not user POSTs."""
        with self.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO users (user_id, name) VALUES (:u, :u) ON CONFLICT DO NOTHING"),
                [{"u": user} for user in user_ids],
            )

    def create_event(self, event_id: str, capacity: int, waitlist: bool = True) -> None:
        response = requests.post(
            self.base_url + "/events",
            json={
                "eventId": event_id,
                "title": "Fault drill",
                "description": "",
                "date": "2026-12-01",
                "location": "Hall F",
                "capacity": capacity,
                "organizer": "Reliability",
                "status": "active",
                "waitlistEnabled": waitlist,
            },
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.stack.log_path(name)
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def now_wall(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


def _last_error(log_text: str) -> str:
    """The most telling line of a log tail: the last CRITICAL/ERROR line, else the last line."""
    lines = [line for line in log_text.splitlines() if line.strip()]
    for line in reversed(lines):
        if "CRITICAL" in line or "Unrecoverable" in line:
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "(empty log)"


def _commit_synchronously(database_url: str) -> None:
    """A test cluster (`durable=False`) runs with `synchronous_commit=off`: a crash of the
    server (what `stop -m immediate` is) then loses the last few hundred milliseconds of
    commits, accepted tickets included. Production clusters are durable; so must this one's
    commits be, or the drills would measure the test configuration. fsync stays off (the
    operating system does not crash here), and a database-level setting outranks the
    server's command line."""
    with psycopg.connect(psycopg_url(database_url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("ALTER DATABASE {} SET synchronous_commit = on").format(
                sql.Identifier(DATABASE_NAME)
            )
        )
        probe = psycopg.connect(psycopg_url(database_url), autocommit=True)
        with probe:
            setting = probe.execute("SHOW synchronous_commit").fetchone()
        assert setting == ("on",), setting


@contextlib.contextmanager
def running_lab() -> Iterator[FaultLab]:
    lab = FaultLab.start()
    log.info("fault lab in %s (logs under %s)", lab.root, lab.stack.data_dir / "logs")
    try:
        yield lab
    finally:
        lab.close(keep_logs=True)
