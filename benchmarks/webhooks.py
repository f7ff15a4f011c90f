"""The webhook figures: the hot event without and with one `*` subscription (applied/s, their
ratio), and the deliveries' own figures (messages/s, commit → first attempt, commit →
delivered), against a fast local receiver.

    python -m benchmarks.webhooks [--registers 20000] [--out webhook-results.json]

Runs its own stack (embedded servers, durable PostgreSQL, the API, two worker processes, beat,
a webhook worker). The receiver is a plain HTTP server in this process answering 200 at once,
so what is measured is Tessera's side. Rounds alternate (without, with, without, with, ...) so a
neighbour's load on a shared machine falls on both alike.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from benchmarks.harness import (
    Bench,
    Figures,
    accepted_figures,
    applied_figures,
    common_checks,
    percentile,
    settle,
)
from benchmarks.load import json_call
from benchmarks.scale import SCALES
from benchmarks.scenarios import warm_up
from benchmarks.stack import StackOptions, running_stack

WEBHOOK_WORKER_THREADS = 8


class _Counter:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default (5) drops connections a busy sender opens at once


@contextmanager
def receiver() -> Iterator[tuple[str, _Counter]]:
    """A receiver that reads each request and answers 204 at once."""
    counter = _Counter()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as any production server

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with counter.lock:
                counter.count += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", counter
    finally:
        server.shutdown()
        server.server_close()


def hot_round(bench: Bench, registers: int, hook_url: str | None) -> Figures:
    """The hot event (capacity 10 % of the registers), with a `*` subscription if given."""
    stack = bench.stack
    stack.wipe()
    senders = list(stack.redis.scan_iter(match="tessera:deliver:*"))
    if senders:
        stack.redis.delete(*senders)
    users = [f"h{i:06d}" for i in range(registers)]
    stack.seed_users(users)
    stack.seed_events(["hot"], max(1, registers // 10))
    if hook_url is not None:
        created = requests.post(
            f"{stack.base_url}/webhooks",
            json={"url": hook_url, "events": ["*"]},
            headers={"Authorization": f"Bearer {stack.admin_key}"},
            timeout=10,
        )
        created.raise_for_status()
    calls = [json_call("POST", "/events/hot/registrations", {"userId": u}) for u in users]
    results = bench.closed(calls)
    problems = settle(bench)
    figures: Figures = {**accepted_figures(results), **applied_figures(bench)}
    problems += common_checks(bench, results, ["hot"] * registers, registers)
    if hook_url is not None:
        figures.update(delivery_figures(bench, registers))
    figures["problems"] = problems
    return figures


def delivery_figures(bench: Bench, expected: int, timeout: float = 600.0) -> Figures:
    """Wait until every delivery is delivered, then read their timings from the outbox."""
    conn = bench.stack.conn
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'delivered'), count(*) FROM webhook_deliveries"
        ).fetchone()
        assert row is not None
        if row[0] == row[1] >= expected:
            break
        time.sleep(0.2)
    rows = conn.execute(
        """
        SELECT extract(epoch FROM first_attempt_at - message_at),
               extract(epoch FROM delivered_at - message_at), attempts,
               extract(epoch FROM message_at), extract(epoch FROM delivered_at)
          FROM webhook_deliveries
        """
    ).fetchall()
    to_first = [float(r[0]) for r in rows if r[0] is not None]
    to_delivered = [float(r[1]) for r in rows if r[1] is not None]
    delivered = [r for r in rows if r[4] is not None]
    span = (
        max(float(r[4]) for r in delivered) - min(float(r[3]) for r in delivered)
        if delivered
        else math.nan
    )
    return {
        "deliveries": len(rows),
        "delivered": len(delivered),
        "attemptsPerDelivery": round(statistics.fmean(int(r[2]) for r in rows), 3)
        if rows
        else None,
        "deliveredPerS": round(len(delivered) / span, 1) if span and span > 0 else None,
        "toFirstAttemptP50Ms": ms(percentile(to_first, 0.5)),
        "toFirstAttemptP99Ms": ms(percentile(to_first, 0.99)),
        "toDeliveredP50Ms": ms(percentile(to_delivered, 0.5)),
        "toDeliveredP99Ms": ms(percentile(to_delivered, 0.99)),
    }


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 1)


def run(registers: int, rounds: int, out: Path) -> dict[str, Any]:
    os.environ["TESSERA_WEBHOOK_ALLOW_PRIVATE"] = "1"  # the receiver is on this machine
    scale = SCALES["full"]
    results: dict[str, Any] = {"registers": registers, "without": [], "with": []}
    with running_stack(StackOptions()) as stack, receiver() as (url, counter):
        stack.local.start_webhook_worker(concurrency=WEBHOOK_WORKER_THREADS)
        bench = Bench(stack, scale, load_processes=2)
        warm_up(bench)
        for number in range(rounds):
            for label, hook in (("without", None), ("with", url)):
                figures = hot_round(bench, registers, hook)
                results[label].append(figures)
                print(f"round {number + 1} {label}: {json.dumps(figures)}", flush=True)  # noqa: T201
        results["receiverRequests"] = counter.count
    without = [f["appliedPerS"] for f in results["without"] if f["appliedPerS"]]
    with_ = [f["appliedPerS"] for f in results["with"] if f["appliedPerS"]]
    if without and with_:
        results["appliedPerSWithout"] = statistics.median(without)
        results["appliedPerSWith"] = statistics.median(with_)
        results["ratio"] = round(statistics.median(with_) / statistics.median(without), 3)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhooks", description=__doc__)
    parser.add_argument("--registers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("webhook-results.json"))
    args = parser.parse_args(argv)
    results = run(args.registers, args.rounds, args.out)
    summary = {k: v for k, v in results.items() if k not in {"without", "with"}}
    print(json.dumps(summary, indent=2), flush=True)  # noqa: T201
    wrong = [p for f in results["without"] + results["with"] for p in f["problems"]]
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
