"""The multi-host fault lab: PostgreSQL, Redis, two API hosts, three worker hosts and a
scheduler host (celery beat), each in its own network namespace on one private bridge
(tests/faults/netns.py). Every host runs the production commands: `tessera api`, a bare
`tessera worker` (which restarts its Celery worker by itself), `tessera beat`. The test process
sits on the bridge (the subnet's first address) and drives load through both APIs.

It offers what the checks of tests/faults/verify.py read (rows, scalar, faults, crashes, urls),
so every drill is measured like the single-host ones.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import requests
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from models.storage.db import migrate, psycopg_url, sqlalchemy_url
from tessera.tools.processes import child_env, stop_groups
from tessera.tools.servers import EmbeddedPostgres, EmbeddedRedis, ServerUrls
from tests.faults.lab import ADMIN_KEY, CLIENT_KEY, OTHER_CLIENT_KEY, FaultRecord
from tests.faults.lab import _commit_synchronously as commit_synchronously
from tests.faults.netns import Network
from tests.localstack import FAST_SWEEPER

log = logging.getLogger("tessera.faults")

# every API host must share it: the keys' owners are derived from it
MULTIHOST_SECRET_KEY = "multihost-server-secret-0123456789abcdef"
HOSTS = {"postgres": 2, "redis": 3, "api1": 11, "api2": 12, "w1": 21, "w2": 22, "w3": 23}
HOSTS_WITH_SCHEDULER = {**HOSTS, "sched": 30}
APIS = ("api1", "api2")
WORKERS = ("w1", "w2", "w3")
POSTGRES_PORT = 5432
REDIS_PORT = 6379
API_PORT = 8000
WORKER_CONCURRENCY = 2


def faketime_library() -> Path | None:
    """libfaketime's shared library, as the `libfaketime` wheel ships it (dev dependency)."""
    try:
        import libfaketime
    except ImportError:
        return None
    found = sorted(Path(libfaketime.__file__).parent.rglob("libfaketime.so.1"))
    return found[0] if found else None


@dataclass
class MultiHostLab:
    # the hosts (and their last octet) a variant of the lab may extend
    HOST_NUMBERS: ClassVar[Mapping[str, int]] = HOSTS_WITH_SCHEDULER

    root: Path
    net: Network
    postgres: EmbeddedPostgres
    redis: EmbeddedRedis
    urls: ServerUrls
    engine: Engine
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    host_env: dict[str, dict[str, str]] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    _log_marks: dict[str, int] = field(default_factory=dict)
    _dead: set[str] = field(default_factory=set)

    # --- life cycle -------------------------------------------------------------------------

    @classmethod
    def start(cls, root: Path | None = None) -> MultiHostLab:
        root = (root or Path(tempfile.mkdtemp(prefix="tessera-hosts-"))).resolve()
        net = Network.create(cls.HOST_NUMBERS)
        try:
            postgres = EmbeddedPostgres(
                root, durable=False, host=net.address("postgres"), clients=net.subnet
            )
            redis = EmbeddedRedis(root, host=net.address("redis"))
            _on_host(
                net,
                "postgres",
                f"EmbeddedPostgres(Path({str(root)!r}), durable=False, host={postgres.host!r},"
                f" clients={net.subnet!r}).start(port={POSTGRES_PORT})",
            )
            _on_host(
                net,
                "redis",
                f"EmbeddedRedis(Path({str(root)!r}), host={redis.host!r}).start(port={REDIS_PORT})",
            )
            urls = ServerUrls(postgres.url(), redis.url())
            migrate(urls.database_url)
            commit_synchronously(urls.database_url)
            engine = create_engine(sqlalchemy_url(urls.database_url), poolclass=NullPool)
            lab = cls(root, net, postgres, redis, urls, engine)
        except BaseException:
            _stop_servers(root, net)
            net.destroy()
            raise
        try:
            lab.before_hosts()
            for name in (*APIS, *WORKERS, "sched"):
                lab.start_host(name)
            lab.wait_ready()
        except BaseException:
            lab.close()
            raise
        return lab

    def before_hosts(self) -> None:
        """What a variant of the lab adds once PostgreSQL and Redis run, before any Tessera
        process starts (a pooler, sentinels); it may change `urls`, which they are given."""

    def close(self) -> None:
        for name in list(self.processes):
            self._stop_process(name)
        self.engine.dispose()
        self.redis.stop(sig=signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.postgres.stop(mode="immediate")
        self.net.destroy()
        for name in ("postgres", "redis"):
            shutil.rmtree(self.root / name, ignore_errors=True)

    def env(self, name: str) -> dict[str, str]:
        return child_env(
            self.urls,
            {
                **FAST_SWEEPER,
                "TESSERA_API_KEYS": (
                    f"{ADMIN_KEY}:admin,{CLIENT_KEY}:client,{OTHER_CLIENT_KEY}:client"
                ),
                "TESSERA_RATE_LIMIT": "off",
                "TESSERA_SECRET_KEY": MULTIHOST_SECRET_KEY,
                "TESSERA_DATA_DIR": str(self.root / name),
                **self.host_env.get(name, {}),
            },
        )

    def argv(self, name: str) -> list[str]:
        tessera = [sys.executable, "-m", "tessera.tools.cli"]
        if name in APIS:
            return [*tessera, "api", "--host", self.net.address(name), "--port", str(API_PORT)]
        if name in WORKERS:
            return [*tessera, "worker", "--concurrency", str(WORKER_CONCURRENCY)]
        return [*tessera, "beat"]

    def log_path(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def start_host(self, name: str, env: Mapping[str, str] | None = None) -> None:
        """Start the host's process (again), optionally with extra environment (kept)."""
        if env is not None:
            self.host_env[name] = dict(env)
        log = self.log_path(name)
        self._log_marks[name] = log.stat().st_size if log.exists() else 0
        self.processes[name] = self.net.spawn(name, self.argv(name), self.env(name), log)
        self._dead.discard(name)

    def _stop_process(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            stop_groups([process], grace=15, sig=sig)

    def stop_host(self, name: str) -> None:
        self._stop_process(name)
        self._dead.add(name)

    def restart_host(self, name: str, env: Mapping[str, str] | None = None) -> None:
        self._stop_process(name)
        self.start_host(name, env)
        if name in WORKERS:
            self.wait_for_worker(name)

    def wait_for_worker(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log_path(name)
            if log.exists() and b" ready." in log.read_bytes()[self._log_marks.get(name, 0) :]:
                return
            time.sleep(0.1)
        raise TimeoutError(f"the worker on {name} did not start")

    @property
    def base_urls(self) -> list[str]:
        return [f"http://{self.net.address(name)}:{API_PORT}" for name in APIS]

    @property
    def base_url(self) -> str:
        return self.base_urls[0]

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        for url in self.base_urls:
            while True:
                with contextlib.suppress(requests.RequestException):
                    if requests.get(url + "/ready", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} did not become ready")
                time.sleep(0.2)
        for name in WORKERS:
            if name not in self._dead:
                self.wait_for_worker(name, max(1.0, deadline - time.monotonic()))

    def heal(self) -> None:
        """Mend every cut and cable, restart every host stopped or killed."""
        self.net.mend_all()
        for name in (*APIS, *WORKERS, "sched"):
            if name in self._dead or not self.running(name):
                self.restart_host(name)
        self.wait_ready()

    def running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    @contextlib.contextmanager
    def supervised(self) -> Iterator[None]:
        """Record the Celery worker crashes the hosts' `tessera worker` recovered from."""
        marks = {name: self._log_size(name) for name in WORKERS}
        yield
        for name in WORKERS:
            tail = self._read_from(name, marks[name])
            lines = [line.strip() for line in tail.splitlines()]
            self.crashes += [f"{name}: {line}" for line in lines if "exited with code" in line]

    def _log_size(self, name: str) -> int:
        path = self.log_path(name)
        return path.stat().st_size if path.exists() else 0

    def _read_from(self, name: str, offset: int) -> str:
        path = self.log_path(name)
        return path.read_bytes()[offset:].decode(errors="replace") if path.exists() else ""

    # --- faults -----------------------------------------------------------------------------

    def record(self, kind: str, mid_batch: bool | None = None) -> FaultRecord:
        fault = FaultRecord(kind, time.time(), time.monotonic(), mid_batch)
        self.faults.append(fault)
        log.info("fault injected: %s", kind)
        return fault

    def healed(self, fault: FaultRecord) -> None:
        fault.healed_at = time.monotonic()

    def cut(self, a: str, b: str) -> FaultRecord:
        mid_batch = self.holds_event_lock(a) if a in WORKERS else None
        self.net.cut(a, b)
        return self.record(f"{a} cut from {b}", mid_batch)

    def cut_mid_batch(
        self, candidates: Sequence[str], peer: str, attempts: int = 30
    ) -> tuple[str, FaultRecord]:
        """Cut whichever worker of `candidates` applies a batch from `peer`, while it does.
        A batch takes milliseconds, so the cut is only known to have landed inside one if the
        event's lock is still held (its COMMIT never arrived) a moment later; otherwise mend
        and try again. Returns the worker cut."""
        worker = candidates[0]
        for _ in range(attempts):
            worker, backends = self.wait_for_applier(candidates)
            self.net.cut(worker, peer)
            time.sleep(0.3)
            if self.scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = ANY(:pids)",
                pids=backends,
            ):
                return worker, self.record(f"{worker} cut from {peer}", mid_batch=True)
            self.net.mend(worker, peer)
        return worker, self.record(f"{worker} cut from {peer}", mid_batch=False)

    def mend(self, a: str, b: str, fault: FaultRecord) -> None:
        self.net.mend(a, b)
        self.healed(fault)

    def kill_host_mid_batch(
        self, candidates: Sequence[str] = WORKERS, attempts: int = 30
    ) -> tuple[FaultRecord, list[int]]:
        """The whole host dies while it applies a batch: its cable is pulled first, so nothing
        it had open is closed properly (no FIN, no RST), then every process on it is
        SIGKILLed. As in `cut_mid_batch`, the pull counts only if the event's lock is still
        held a moment later (otherwise the cable goes back and we wait for the next batch).
        Returns the fault and the dead host's backends that hold an event's lock."""
        for _ in range(attempts):
            name, backends = self.wait_for_applier(candidates)
            self.net.link_down(name)
            fault = self.record(f"{name} host killed", mid_batch=True)
            time.sleep(0.3)
            if self.scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = ANY(:pids)",
                pids=backends,
            ):
                break
            self.faults.remove(fault)
            self.net.link_up(name)
        else:
            raise TimeoutError(f"{name} never held an event's lock when its cable was pulled")
        process = self.processes.pop(name, None)
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        self._dead.add(name)
        return fault, backends

    # --- what PostgreSQL says ---------------------------------------------------------------

    def lock_holders(self, name: str) -> list[int]:
        """Backends of host `name` holding an event's advisory lock (an applier mid-batch)."""
        return [
            int(row[0])
            for row in self.rows(
                "SELECT DISTINCT a.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock'"
                " AND a.client_addr = CAST(:addr AS inet)",
                addr=self.net.address(name),
            )
        ]

    def holds_event_lock(self, name: str) -> bool:
        return bool(self.lock_holders(name))

    def wait_for_event_lock(self, name: str, timeout: float = 20.0) -> list[int]:
        """Poll (every few ms, bounded) until host `name` applies a batch; its backends."""
        return self.wait_for_applier([name], timeout)[1]

    def wait_for_applier(
        self, candidates: Sequence[str] = WORKERS, timeout: float = 20.0
    ) -> tuple[str, list[int]]:
        """Poll until one of the worker hosts `candidates` applies a batch: that host and its
        backends. (One worker drains at a time, whichever took the wake-up: a drill that cuts
        "a worker mid-batch" cuts the one that is working.)"""
        addresses = {self.net.address(name): name for name in candidates}
        deadline = time.monotonic() + timeout
        with psycopg.connect(
            psycopg_url(self.urls.database_url), autocommit=True, connect_timeout=3
        ) as connection:
            while time.monotonic() < deadline:
                rows = connection.execute(
                    "SELECT DISTINCT host(a.client_addr), a.pid"
                    " FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                    " WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock'"
                    " AND host(a.client_addr) = ANY(%s)",
                    (list(addresses),),
                ).fetchall()
                if rows:
                    host = addresses[rows[0][0]]
                    return host, [int(pid) for address, pid in rows if addresses[address] == host]
                time.sleep(0.002)
        raise TimeoutError(f"none of {list(candidates)} applied a batch within {timeout}s")

    def seconds_until_released(
        self, pids: list[int], since: float, timeout: float = 120.0
    ) -> float:
        """From `since` (monotonic) until none of these backends holds an advisory lock."""
        started = since
        while time.monotonic() - started < timeout:
            held = self.scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = ANY(:pids)",
                pids=pids,
            )
            if not held:
                return time.monotonic() - started
            time.sleep(0.05)
        raise TimeoutError(f"backends {pids} still hold their locks after {timeout}s")

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def execute(self, sql: str, **params: Any) -> None:
        """Run a statement and commit it."""
        with self.engine.begin() as connection:
            connection.execute(text(sql), params)

    def database_now(self) -> dt.datetime:
        now: dt.datetime = self.scalar("SELECT now()")
        return now

    def seed_users(self, user_ids: list[str]) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO users (user_id, name) VALUES (:u, :u) ON CONFLICT DO NOTHING"),
                [{"u": user} for user in user_ids],
            )

    def create_event(
        self, event_id: str, capacity: int, waitlist: bool = True, **settings: object
    ) -> None:
        response = requests.post(
            self.base_url + "/events",
            json={
                "eventId": event_id,
                "title": "Multi-host drill",
                "description": "",
                "date": "2026-12-01",
                "location": "Hall H",
                "capacity": capacity,
                "organizer": "Reliability",
                "status": "active",
                "waitlistEnabled": waitlist,
                **settings,
            },
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text


def _on_host(net: Network, host: str, start: str) -> None:
    """Run `start` (Python, with `root` a Path and the embedded servers imported) in a helper
    process on `host`, so the server it starts runs, and stays, in that host's namespace."""
    code = (
        "from pathlib import Path\n"
        "from tessera.tools.servers import EmbeddedPostgres, EmbeddedRedis\n"
    )
    subprocess.run(
        net.command(host, [sys.executable, "-c", code + start]),
        check=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )


def _stop_servers(root: Path, net: Network) -> None:
    with contextlib.suppress(Exception):
        EmbeddedRedis(root).stop(sig=signal.SIGKILL)
    with contextlib.suppress(Exception):
        EmbeddedPostgres(root).stop(mode="immediate")


@contextlib.contextmanager
def running_multihost_lab() -> Iterator[MultiHostLab]:
    lab = MultiHostLab.start()
    log.info("multi-host lab in %s", lab.root)
    try:
        yield lab
    finally:
        lab.close()
