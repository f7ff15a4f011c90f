"""`tessera healthcheck worker|webhook-worker|beat`: the container healthchecks of the processes
that serve no HTTP (docker-compose.yml). Exit 0 when healthy, 1 with the reason otherwise.

A worker is healthy when a worker of its kind on this host answers a broadcast ping over the
broker (so the process runs and reaches Redis). Beat is healthy when its schedule file changed
recently: beat rewrites it as it sends the sweeper's and the expiry check's ticks, every few
seconds, and syncs it to disk at least every `BEAT_SYNC_SECONDS`."""

from __future__ import annotations

import socket
import time
from pathlib import Path

PING_TIMEOUT_SECONDS = 3.0
BEAT_SYNC_SECONDS = 180.0  # celery's PersistentScheduler.sync_every
BEAT_STALE_SECONDS = 2 * BEAT_SYNC_SECONDS

# `tessera.tools.processes` names each worker `<prefix><random>@<host>`.
PREFIXES = {"worker": "tessera-", "webhook-worker": "tessera-webhooks-"}


def worker_here(kind: str, nodes: list[str], host: str) -> bool:
    """Whether one of the answering nodes is a worker of this kind on this host."""
    prefix = PREFIXES[kind]
    for node in nodes:
        name, _, node_host = node.partition("@")
        if node_host != host or not name.startswith(prefix):
            continue
        if kind == "worker" and name.startswith(PREFIXES["webhook-worker"]):
            continue
        return True
    return False


def check_worker(kind: str) -> str | None:
    """None when healthy, else why not."""
    from workers.app import app

    replies = app.control.ping(timeout=PING_TIMEOUT_SECONDS) or []
    nodes = [node for reply in replies for node in reply]
    if worker_here(kind, nodes, socket.gethostname()):
        return None
    return f"no {kind} on {socket.gethostname()} answered a ping within {PING_TIMEOUT_SECONDS} s"


def check_beat(schedule: Path, now: float | None = None) -> str | None:
    try:
        age = (time.time() if now is None else now) - schedule.stat().st_mtime
    except OSError:
        return f"no beat schedule at {schedule}"
    if age > BEAT_STALE_SECONDS:
        return f"beat's schedule last changed {age:.0f} s ago"
    return None
