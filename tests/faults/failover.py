"""The multi-host lab over a replicated PostgreSQL: the hosts of tests/faults/multihost.py
(Redis, two APIs, three workers, a scheduler), with a three-node Patroni cluster
(tests/faults/patroni.py) in place of the single PostgreSQL host. Every Tessera process gets the
multi-host URL with `target_session_attrs=read-write`, as an operator would write it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from models.storage.db import migrate, sqlalchemy_url
from tessera.tools.servers import EmbeddedPostgres, EmbeddedRedis, ServerUrls
from tests.faults import patroni
from tests.faults.load import Sent
from tests.faults.multihost import APIS, HOSTS_WITH_SCHEDULER, REDIS_PORT, WORKERS, MultiHostLab
from tests.faults.multihost import _on_host as on_host
from tests.faults.netns import Network
from tests.faults.patroni import NODES, PatroniCluster

log = logging.getLogger("tessera.faults")

FAILOVER_HOSTS = {
    **{name: n for name, n in HOSTS_WITH_SCHEDULER.items() if name != "postgres"},
    **patroni.HOSTS,
}


@dataclass
class FailoverLab(MultiHostLab):
    cluster: PatroniCluster | None = None
    dead_nodes: set[str] = field(default_factory=set)
    # Seconds from the last fault until Patroni named a new leader, and until it also had a
    # synchronous standby (commits can return again): the cluster's share of the gap without
    # writes (the rest is Tessera finding it).
    new_leader_after: float | None = None
    writable_after: float | None = None

    @classmethod
    def start(cls, root: Path | None = None) -> FailoverLab:
        root = (root or Path(tempfile.mkdtemp(prefix="tessera-failover-"))).resolve()
        root.chmod(0o711)  # Patroni runs as `postgres`: it must reach its own directory
        net = Network.create(FAILOVER_HOSTS)
        cluster = PatroniCluster(root / "patroni", net)
        redis = EmbeddedRedis(root, host=net.address("redis"))
        try:
            cluster.start()
            on_host(
                net,
                "redis",
                f"EmbeddedRedis(Path({str(root)!r}), host={redis.host!r}).start(port={REDIS_PORT})",
            )
            urls = ServerUrls(cluster.database_url(), redis.url())
            migrate(urls.database_url)
            engine = create_engine(sqlalchemy_url(urls.database_url), poolclass=NullPool)
            # never started: the cluster is the database (the field is the single-host lab's)
            postgres = EmbeddedPostgres(root / "unused")
            lab = cls(root, net, postgres, redis, urls, engine, cluster=cluster)
        except BaseException:
            cluster.stop()
            with contextlib.suppress(Exception):
                redis.stop(sig=signal.SIGKILL)
            net.destroy()
            raise
        try:
            for name in (*APIS, *WORKERS, "sched"):
                lab.start_host(name)
            lab.wait_ready()
        except BaseException:
            lab.close()
            raise
        return lab

    @property
    def patroni(self) -> PatroniCluster:
        assert self.cluster is not None
        return self.cluster

    def close(self) -> None:
        for name in list(self.processes):
            self._stop_process(name)
        self.engine.dispose()
        self.redis.stop(sig=signal.SIGKILL)
        self.patroni.stop()
        self.net.destroy()
        # Patroni's and etcd's logs stay with the lab's other logs: where a failover's seconds
        # went is read there
        with contextlib.suppress(OSError):
            shutil.copytree(self.root / "patroni" / "logs", self.root / "logs", dirs_exist_ok=True)
        shutil.rmtree(self.root / "patroni", ignore_errors=True)
        shutil.rmtree(self.root / "redis", ignore_errors=True)

    def heal(self) -> None:
        """Mend every cut, bring dead nodes back (they rejoin as standbys, pg_rewind'ed),
        then what the multi-host lab heals."""
        self.net.mend_all()
        for node in list(self.dead_nodes):
            self.patroni.revive_node(node)
            self.dead_nodes.discard(node)
        self.patroni.wait_for_cluster()
        super().heal()

    # --- faults -----------------------------------------------------------------------------

    def kill_primary(self) -> str:
        leader = self.patroni.wait_for_cluster()
        fault = self.record(f"primary {leader} host killed")
        self.patroni.kill_node(leader)
        self.dead_nodes.add(leader)
        self._watch_for_a_new_leader(leader, fault.at)
        return leader

    def _watch_for_a_new_leader(self, old: str, since: float, timeout: float = 60.0) -> None:
        """In the background, note when a node other than `old` is the running leader, and
        when a synchronous standby other than `old` streams from it."""
        self.new_leader_after = self.writable_after = None

        def watch() -> None:
            while time.monotonic() - since < timeout:
                members = [m for m in self.patroni.members() if m.get("name") != old]
                roles = {
                    str(m.get("role"))
                    for m in members
                    if m.get("state") in ("running", "streaming")
                }
                if self.new_leader_after is None and "leader" in roles:
                    self.new_leader_after = round(time.monotonic() - since, 2)
                if "leader" in roles and "sync_standby" in roles:
                    self.writable_after = round(time.monotonic() - since, 2)
                    return
                time.sleep(0.1)

        threading.Thread(target=watch, name="new-leader-watch", daemon=True).start()

    def switchover(self) -> str:
        leader = self.patroni.wait_for_cluster()
        fault = self.record(f"switchover from {leader}")
        self._watch_for_a_new_leader(leader, fault.at)
        self.patroni.switchover()
        return leader

    def isolate_primary(self) -> str:
        """Cut the primary from every other host (it keeps running)."""
        leader = self.patroni.wait_for_cluster()
        fault = self.record(f"primary {leader} isolated")
        for other in self.net.hosts:
            if other != leader:
                self.net.cut(leader, other)
        self._watch_for_a_new_leader(leader, fault.at)
        return leader


def writes_resumed_after(sent: Sequence[Sent], since: float) -> tuple[float | None, int]:
    """The longest stretch without an accepted write from `since` on (the gap the fault made:
    a switchover's primary takes writes for a while after it was asked to step down), and how
    many attempts were refused 503 from `since` on."""
    attempts = [a for item in sent for a in item.attempts if a.ended >= since]
    refused = sum(1 for a in attempts if a.answer == "503")
    accepted = sorted(a.ended for a in attempts if a.answer == "202")
    if not accepted:
        return None, refused
    moments = [since, *accepted]
    return round(max(b - a for a, b in itertools.pairwise(moments)), 2), refused


@contextlib.contextmanager
def running_failover_lab() -> Iterator[FailoverLab]:
    lab = FailoverLab.start()
    log.info("failover lab in %s", lab.root)
    try:
        yield lab
    finally:
        lab.close()


def unavailable_reason() -> str | None:
    from tests.faults.netns import unavailable_reason as netns_reason

    return netns_reason() or patroni.unavailable_reason()


__all__ = ["NODES", "FailoverLab", "running_failover_lab", "writes_resumed_after"]
