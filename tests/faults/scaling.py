"""The spread load on the multi-host lab with 1, 2 and 3 worker hosts: how far more worker hosts
take one PostgreSQL (docs/SCALING.md). Needs root (network namespaces).

    python -m tests.faults.scaling [--events 200] [--users 20] [--clients 48]
                                   [--backlog-users 100] [--hosts 1 2 3] [--out F.json]

Each number of worker hosts gets two rounds. Through HTTP: fresh events and users, the load
(registers, a quarter of them unregistering again) from `--clients` clients spread over both
API hosts as fast as they are answered, the backlog drained, then accepted/s, applied/s (first
acceptance to last completion), 202-to-done p50/p99 and lost tickets (accepted, never
completed). The appliers alone: `--events x --backlog-users` registers committed at once and
drained (applied/s from the first completion to the last).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.storage.db import make_sessionmaker
from models.storage.tickets import NewTicket, insert_tickets
from tests.faults.lab import CLIENT_KEY
from tests.faults.load import LoadPlan, LoadRunner
from tests.faults.multihost import WORKERS, MultiHostLab, running_multihost_lab


def one_round(
    lab: MultiHostLab, hosts: int, events: int, users: int, clients: int
) -> dict[str, Any]:
    _use_worker_hosts(lab, hosts)
    prefix = f"scale{hosts}-{uuid.uuid4().hex[:6]}"
    event_ids = [f"{prefix}-e{i}" for i in range(events)]
    user_ids = [f"{prefix}-u{i:04}" for i in range(users)]
    lab.seed_users(user_ids)
    for event_id in event_ids:
        lab.create_event(event_id, capacity=max(1, users // 2))
    plan = LoadPlan(
        events=event_ids, users=user_ids, rate=100_000.0, clients=clients, key=CLIENT_KEY
    )
    runner = LoadRunner(lab.base_urls, plan).start()
    _wait_out(runner)
    sent = runner.stop()
    accepted = sum(1 for s in sent if s.accepted)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _pending(lab, prefix):
        time.sleep(0.2)
    row = lab.rows(
        """
        SELECT count(*), extract(epoch FROM max(completed_at) - min(created_at)),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY completed_at - created_at),
               percentile_cont(0.99) WITHIN GROUP (ORDER BY completed_at - created_at)
          FROM tickets WHERE event_id LIKE :p AND status = 'completed'
        """,
        p=f"{prefix}-%",
    )[0]
    applied, span, p50, p99 = int(row[0]), float(row[1] or 0), row[2], row[3]
    seconds = max(1e-9, runner.stopped_at - runner.started_at)
    return {
        "workerHosts": hosts,
        "commands": len(sent),
        "accepted": accepted,
        "acceptedPerS": round(accepted / seconds, 1),
        "applied": applied,
        "appliedPerS": round(applied / span, 1) if span else None,
        "ticketP50Ms": round(p50.total_seconds() * 1000, 1) if p50 is not None else None,
        "ticketP99Ms": round(p99.total_seconds() * 1000, 1) if p99 is not None else None,
        "lost": accepted - applied,
    }


def backlog_round(lab: MultiHostLab, hosts: int, events: int, per_event: int) -> dict[str, Any]:
    """The appliers alone: a backlog of `events x per_event` registers committed at once (no
    wake-up: the sweeper finds it), drained by `hosts` worker hosts."""
    _use_worker_hosts(lab, hosts)
    prefix = f"drain{hosts}-{uuid.uuid4().hex[:6]}"
    event_ids = [f"{prefix}-e{i}" for i in range(events)]
    user_ids = [f"{prefix}-u{i:04}" for i in range(per_event)]
    lab.seed_users(user_ids)
    for event_id in event_ids:
        lab.create_event(event_id, capacity=max(1, per_event // 2))
    with make_sessionmaker(lab.engine).begin() as session:
        insert_tickets(
            session,
            [NewTicket("register", u, e) for u in user_ids for e in event_ids],
            owner="scaling",
        )
    total = events * per_event
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and _pending(lab, prefix):
        time.sleep(0.2)
    row = lab.rows(
        "SELECT count(*), extract(epoch FROM max(completed_at) - min(completed_at))"
        " FROM tickets WHERE event_id LIKE :p AND status = 'completed'",
        p=f"{prefix}-%",
    )[0]
    applied, span = int(row[0]), float(row[1] or 0)
    return {
        "workerHosts": hosts,
        "backlog": total,
        "applied": applied,
        "appliedPerS": round(applied / span, 1) if span else None,
        "lost": total - applied,
    }


def _use_worker_hosts(lab: MultiHostLab, hosts: int) -> None:
    for name in WORKERS[hosts:]:
        if lab.running(name):
            lab.stop_host(name)
    for name in WORKERS[:hosts]:
        if not lab.running(name):
            lab.start_host(name)
        lab.wait_for_worker(name)


def _pending(lab: MultiHostLab, prefix: str) -> int:
    return int(
        lab.scalar(
            "SELECT count(*) FROM tickets WHERE event_id LIKE :p AND status = 'pending'",
            p=f"{prefix}-%",
        )
    )


def _wait_out(runner: LoadRunner) -> None:
    """Let the clients work through their scripts (bounded: 10 minutes)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and any(t.is_alive() for t in runner.threads):
        time.sleep(0.2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--clients", type=int, default=48)
    parser.add_argument("--backlog-users", type=int, default=100, help="per event")
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    results = []
    with running_multihost_lab() as lab:
        for hosts in args.hosts:
            for result in (
                one_round(lab, hosts, args.events, args.users, args.clients),
                backlog_round(lab, hosts, args.events, args.backlog_users),
            ):
                sys.stdout.write(json.dumps(result) + "\n")
                sys.stdout.flush()
                results.append(result)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
