"""The multi-host lab behind a transaction-pooling PgBouncer: Debian's `pgbouncer` on a host of
its own ("bouncer"), configured as docs/SCALING.md says, between every Tessera process (APIs,
workers, the scheduler, `tessera check`) and the lab's PostgreSQL; they are given its URL with
`?pgbouncer=true`. The lab's own checks still read PostgreSQL directly.

Fault: `restart_pooler` stops PgBouncer (every client and server connection through it
closes) and starts it again, as an operator's restart or a crashed pooler's supervisor does.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tessera.tools.servers import ServerUrls
from tests import pgbouncer
from tests.faults.lab import FaultRecord
from tests.faults.multihost import HOSTS_WITH_SCHEDULER, MultiHostLab

log = logging.getLogger("tessera.faults")

BOUNCER = "bouncer"
BOUNCER_PORT = 6432
# Server sessions per database: fewer than the lab's client connections (two APIs' pools,
# three workers' appliers, the scheduler), so transactions do share server sessions.
POOL_SIZE = 12


@dataclass
class BouncerLab(MultiHostLab):
    HOST_NUMBERS: ClassVar[dict[str, int]] = {**HOSTS_WITH_SCHEDULER, BOUNCER: 8}

    bouncer: subprocess.Popen[bytes] | None = None
    direct_urls: ServerUrls | None = None
    ini: Path | None = None

    def before_hosts(self) -> None:
        self.direct_urls = self.urls
        self.root.chmod(0o711)  # PgBouncer runs as `nobody`: it must reach its own directory
        home = self.root / BOUNCER
        home.mkdir(exist_ok=True)
        ini, through = pgbouncer.write_config(
            home,
            self.urls.database_url,
            listen_addr=self.net.address(BOUNCER),
            port=BOUNCER_PORT,
            pool_size=POOL_SIZE,
        )
        self.ini = ini
        self.start_pooler()
        self.urls = ServerUrls(through, self.urls.redis_url)

    def start_pooler(self) -> None:
        assert self.ini is not None
        process = self.net.spawn(
            BOUNCER, pgbouncer.argv(self.ini), {"PATH": "/usr/sbin:/usr/bin:/bin"},
            self.log_path(BOUNCER),
        )  # fmt: skip
        pgbouncer.wait_listening(process, self.net.address(BOUNCER), BOUNCER_PORT)
        self.bouncer = process

    def stop_pooler(self) -> None:
        process, self.bouncer = self.bouncer, None
        if process is not None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    def restart_pooler(self) -> FaultRecord:
        fault = self.record("pgbouncer restarted")
        self.stop_pooler()
        self.start_pooler()
        self.healed(fault)
        return fault

    def heal(self) -> None:
        if self.bouncer is None or self.bouncer.poll() is not None:
            self.start_pooler()
        super().heal()

    def close(self) -> None:
        for name in list(self.processes):
            self._stop_process(name)
        self.stop_pooler()
        super().close()
        shutil.rmtree(self.root / BOUNCER, ignore_errors=True)


@contextlib.contextmanager
def running_bouncer_lab() -> Iterator[BouncerLab]:
    lab = BouncerLab.start()
    assert isinstance(lab, BouncerLab)
    log.info("PgBouncer lab in %s", lab.root)
    try:
        yield lab
    finally:
        lab.close()


def unavailable_reason() -> str | None:
    from tests.faults.netns import unavailable_reason as netns_reason

    return netns_reason() or pgbouncer.unavailable_reason()
