"""A replicated PostgreSQL for the multi-host lab: one etcd and three Patroni nodes (Debian's
`etcd-server` and `patroni`, over Debian's PostgreSQL), each on its own host (network namespace)
of the lab's bridge. Patroni runs in `synchronous_mode_strict`, so a commit returns only once a
synchronous standby has it: the configuration docs/SCALING.md asks for.

Patroni and PostgreSQL run as the `postgres` system user (PostgreSQL refuses root). Faults:
`kill_node` pulls a node's cable and SIGKILLs every process in its namespace (a dead machine),
`switchover` is `patronictl switchover`, and the lab's network cut isolates a node.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests

from tests.faults.netns import Network

PACKAGES = ("patroni", "etcd-server", "postgresql")
PG_BIN_ROOT = Path("/usr/lib/postgresql")
NODES = ("pg1", "pg2", "pg3")
DCS_HOST = "etcd"
HOSTS = {DCS_HOST: 5, "pg1": 41, "pg2": 42, "pg3": 43}
PORT = 5432
REST_PORT = 8008
PASSWORD = "lab-postgres-password"  # the lab's own, on its private bridge only
SCOPE = "tessera"
# Patroni's clock: the leader's key lives `ttl` seconds; replicas look every `loop_wait`.
# A dead primary's key expires within ttl, then the synchronous standby promotes itself.
# Patroni wants loop_wait + 2 * retry_timeout <= ttl. A primary that cannot update its key
# within retry_timeout demotes itself, so on this shared, loaded machine retry_timeout stays
# 2 s rather than 1 s; ttl is the smallest those allow (it was 6; docs/SCALING.md).
TTL = 5
LOOP_WAIT = 1
RETRY_TIMEOUT = 2


def unavailable_reason() -> str | None:
    """Why a Patroni cluster cannot run here (its packages missing), or None."""
    for program in ("patroni", "patronictl", "etcd"):
        if shutil.which(program) is None:
            return f"the failover lab needs Debian's {' '.join(PACKAGES)} (no `{program}`)"
    if pg_bin_dir() is None:
        return "the failover lab needs Debian's PostgreSQL server (/usr/lib/postgresql/*/bin)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "the failover lab needs the `postgres` system user (Debian's postgresql package)"
    return None


def pg_bin_dir() -> Path | None:
    found = sorted(PG_BIN_ROOT.glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


@dataclass
class PatroniCluster:
    root: Path
    net: Network
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def database_url(self, database: str = "tessera") -> str:
        """libpq's multi-host URL: psycopg tries each node until one is the primary."""
        hosts = ",".join(f"{self.net.address(node)}:{PORT}" for node in NODES)
        return (
            f"postgresql://postgres:{PASSWORD}@{hosts}/{database}?target_session_attrs=read-write"
        )

    # --- life cycle -------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self._start_etcd()
        for node in NODES:
            self.start_node(node)
        self.wait_for_cluster(timeout)
        with psycopg.connect(self.database_url("postgres"), autocommit=True) as connection:
            connection.execute("CREATE DATABASE tessera")

    def _start_etcd(self) -> None:
        address = self.net.address(DCS_HOST)
        data = self.root / "etcd"
        argv = [
            "etcd", "--name", "e1", "--data-dir", str(data),
            "--listen-client-urls", f"http://{address}:2379",
            "--advertise-client-urls", f"http://{address}:2379",
            "--listen-peer-urls", f"http://{address}:2380",
            "--initial-advertise-peer-urls", f"http://{address}:2380",
            "--initial-cluster", f"e1=http://{address}:2380",
            "--enable-v2=true",  # Debian's Patroni speaks etcd's v2 API (python3-etcd)
        ]  # fmt: skip
        self.processes[DCS_HOST] = self.net.spawn(
            DCS_HOST, argv, dict(os.environ), self.root / "logs" / "etcd.log"
        )

    def start_node(self, node: str) -> None:
        home = self.root / node
        home.mkdir(exist_ok=True)
        entry = pwd.getpwnam("postgres")
        os.chown(home, entry.pw_uid, entry.pw_gid)
        home.chmod(0o700)
        config = home / "patroni.json"  # JSON is YAML: no YAML writer needed
        config.write_text(json.dumps(self._config(node), indent=2))
        os.chown(config, entry.pw_uid, entry.pw_gid)
        argv = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups",
                "patroni", str(config)]  # fmt: skip
        env = {**os.environ, "HOME": str(home)}
        self.processes[node] = self.net.spawn(node, argv, env, self.root / "logs" / f"{node}.log")

    def _config(self, node: str) -> dict[str, object]:
        address = self.net.address(node)
        subnet = self.net.subnet
        return {
            "scope": SCOPE,
            "name": node,
            "restapi": {
                "listen": f"{address}:{REST_PORT}",
                "connect_address": f"{address}:{REST_PORT}",
            },
            "etcd": {"host": f"{self.net.address(DCS_HOST)}:2379"},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL,
                    "loop_wait": LOOP_WAIT,
                    "retry_timeout": RETRY_TIMEOUT,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    "synchronous_mode_strict": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {
                            "synchronous_commit": "on",
                            "wal_log_hints": "on",
                            "max_connections": 300,
                            # After a failover the surviving standby must stream from the new
                            # primary before a commit can return (synchronous_mode_strict):
                            # its WAL receiver retries every 5 s by default.
                            "wal_retrieve_retry_interval": "500ms",
                            "fsync": "off",  # one machine plays every host; disks are not tested
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"auth": "md5"}],
            },
            "postgresql": {
                "listen": f"{address}:{PORT}",
                "connect_address": f"{address}:{PORT}",
                "data_dir": str(self.root / node / "data"),
                "bin_dir": str(pg_bin_dir()),
                "pgpass": str(self.root / node / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": PASSWORD},
                    "replication": {"username": "replicator", "password": PASSWORD},
                },
                "parameters": {"unix_socket_directories": str(self.root / node)},
                "pg_hba": [
                    "local all all trust",
                    f"host all all {subnet} md5",
                    f"host replication replicator {subnet} md5",
                ],
            },
            "tags": {},
        }

    def stop(self) -> None:
        for name in list(self.processes):
            self._kill(name)

    def _kill(self, name: str) -> None:
        """SIGKILL every process in the host's namespace (what a dead machine leaves)."""
        namespace = self.net.hosts[name].namespace
        pids = subprocess.run(
            ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        process = self.processes.pop(name, None)
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)

    # --- what the cluster says --------------------------------------------------------------

    def members(self) -> list[dict[str, object]]:
        """`patronictl list` as data (asked of any node's REST API that answers)."""
        for node in NODES:
            if node not in self.processes:
                continue
            with contextlib.suppress(requests.RequestException, ValueError, KeyError):
                url = f"http://{self.net.address(node)}:{REST_PORT}/cluster"
                members: list[dict[str, object]] = requests.get(url, timeout=2).json()["members"]
                return members
        return []

    def role_of(self, role: str) -> list[str]:
        return [str(m["name"]) for m in self.members() if m.get("role") == role]

    def leader(self) -> str | None:
        leaders = self.role_of("leader")
        return leaders[0] if leaders else None

    def wait_for_cluster(self, timeout: float = 120.0, exclude: str | None = None) -> str:
        """Until there is a leader and a synchronous standby (among nodes but `exclude`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            members = [m for m in self.members() if m.get("name") != exclude]
            roles = {
                str(m.get("role")) for m in members if m.get("state") in ("running", "streaming")
            }
            leader = [str(m["name"]) for m in members if m.get("role") == "leader"]
            if leader and "sync_standby" in roles:
                return leader[0]
            time.sleep(0.5)
        raise TimeoutError(f"no leader with a synchronous standby: {self.members()}")

    # --- faults -----------------------------------------------------------------------------

    def kill_node(self, node: str) -> None:
        """The machine dies: its cable first (nothing it had open is closed properly), then
        every process on it."""
        self.net.link_down(node)
        self._kill(node)

    def revive_node(self, node: str) -> None:
        self.net.link_up(node)
        if node not in self.processes:
            self.start_node(node)

    def switchover(self, candidate: str | None = None) -> None:
        leader = self.leader()
        argv = ["patronictl", "-c", str(self.root / str(leader) / "patroni.json"),
                "switchover", SCOPE, "--leader", str(leader), "--force"]  # fmt: skip
        if candidate:
            argv += ["--candidate", candidate]
        subprocess.run(
            self.net.command(str(leader), argv), check=True, capture_output=True, timeout=60
        )
