"""What every scenario module shares: the run's context (`Bench`), a scenario's result, the
measurements read from the database and the worker's log, the settling wait, the common
correctness checks and profiling. The scenario modules (`scenarios`, `waiting`, `webhooks`)
build on this one and never on each other's internals.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import verify
from benchmarks.load import Call, Extract, Results, Target, run_closed
from benchmarks.profiling import recording, summarise
from benchmarks.scale import Scale
from benchmarks.stack import BenchStack

Figures = dict[str, Any]


@dataclass
class ScenarioResult:
    name: str
    title: str
    status: str  # "ok" | "failed" (wrong answer) | "skipped" | "error" (could not run)
    figures: Figures = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    profiles: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Bench:
    stack: BenchStack
    scale: Scale
    load_processes: int
    profile_dir: Path | None = None
    say: Callable[[str], None] = print
    results: dict[str, ScenarioResult] = field(default_factory=dict)

    def target(self, extract: Extract = "ticket") -> Target:
        return Target(self.stack.base_url, self.stack.admin_key, extract)

    def closed(
        self, calls: list[Call], clients: int | None = None, extract: Extract = "ticket"
    ) -> Results:
        return run_closed(
            self.target(extract),
            calls,
            clients or self.scale.clients,
            self.load_processes,
            self.scale.scenario_time_limit,
        )

    def figure(self, scenario: str, name: str) -> float | None:
        result = self.results.get(scenario)
        if result is None or result.status != "ok":
            return None
        value = result.figures.get(name)
        return float(value) if isinstance(value, int | float) else None


# --- shared measurements ---------------------------------------------------------------


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 2)


def per_second(count: int, seconds: float) -> float | None:
    if not seconds or math.isnan(seconds) or seconds <= 0:
        return None
    return round(count / seconds, 1)


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (no interpolation: p99.9 of 9,000 samples is a real sample)."""
    clean = sorted(v for v in values if not math.isnan(v))
    if not clean:
        return None
    rank = max(1, math.ceil(fraction * len(clean)))
    return clean[rank - 1]


def applied_figures(bench: Bench, where: str = "TRUE") -> Figures:
    """Applied/s (first ticket `createdAt` → last `completedAt`) and ticket latency
    (`completedAt - createdAt`), from the database."""
    latency = "extract(epoch FROM completed_at - created_at)"
    row = bench.stack.conn.execute(
        f"""
        SELECT count(*), min(created_at), max(completed_at),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY {latency}),
               percentile_cont(0.99) WITHIN GROUP (ORDER BY {latency})
          FROM tickets WHERE status = 'completed' AND {where}
        """  # noqa: S608 - `where` is ours, never input
    ).fetchone()
    assert row is not None
    count, first, last, p50, p99 = row
    span = (last - first).total_seconds() if first and last else math.nan
    return {
        "applied": int(count),
        "appliedPerS": per_second(int(count), span),
        "applySpanS": round(span, 2) if not math.isnan(span) else None,
        "ticketLatencyP50Ms": ms(float(p50)) if p50 is not None else None,
        "ticketLatencyP99Ms": ms(float(p99)) if p99 is not None else None,
    }


def accepted_figures(results: Results) -> Figures:
    accepted = results.count_status(202)
    return {"accepted": accepted, "acceptedPerS": per_second(accepted, results.span())}


def worker_log_offset(stack: BenchStack) -> int:
    path = stack.local.log_path("worker")
    return path.stat().st_size if path.exists() else 0


_SWEEP_WAKES = re.compile(rb'"msg":"waking (\d+) event')
_APPLY_TASK = re.compile(rb"Task tessera\.(?:apply\w*|drain)\[")


def worker_batches(stack: BenchStack, offset: int) -> Figures:
    """What the workers logged since `offset`: apply batches (how many, their mean size, and
    the rate of one applier while it holds an event: tickets / summed batch time), apply
    tasks received, and events the sweeper re-woke (each one an extra task: a storm of them
    is what a backlog on many events looks like)."""
    path = stack.local.log_path("worker")
    batches = applied = tasks = swept = 0
    busy_ms = 0.0
    with contextlib.suppress(OSError), path.open("rb") as log:
        log.seek(offset)
        for line in log:
            if _APPLY_TASK.search(line) and line.rstrip().endswith(b"received"):
                tasks += 1
            elif (wakes := _SWEEP_WAKES.search(line)) is not None:
                swept += int(wakes.group(1))
            elif b'"applied batch"' in line:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                batches += 1
                applied += int(entry.get("applied", 0))
                busy_ms += float(entry.get("durationMs", 0.0))
    return {
        "applyBatches": batches,
        "meanBatch": round(applied / batches, 1) if batches else None,
        "applierBusyPerS": per_second(applied, busy_ms / 1000.0),
        "applyTasks": tasks,
        "sweeperWakes": swept,
    }


class QueueDepth:
    """Samples the Celery queue's length in Redis (a background thread, 4 times a second)
    while a block runs: wake-ups waiting for a worker."""

    def __init__(self, stack: BenchStack, queue: str = "tessera") -> None:
        self.stack = stack
        self.queue = queue
        self.deepest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            with contextlib.suppress(Exception):  # a diagnostic: never fail the run
                depth = int(self.stack.redis.llen(self.queue))
                self.deepest = max(self.deepest, depth)

    def __enter__(self) -> QueueDepth:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def settle(bench: Bench) -> list[str]:
    if bench.stack.wait_applied(bench.scale.apply_timeout):
        return []
    pending = bench.stack.pending_count()
    return [f"{pending} tickets still pending {bench.scale.apply_timeout:.0f} s after the load"]


def common_checks(
    bench: Bench,
    results: Results | None,
    event_ids: list[str] | None,
    expected: int | None,
) -> list[str]:
    conn = bench.stack.conn
    problems = verify.tickets_settled(conn, results, expected)
    problems += verify.invariants(bench.stack.sessions)
    if results is not None and event_ids is not None:
        problems += verify.acceptance_order(conn, results, event_ids)
    return problems


@contextlib.contextmanager
def profiled(bench: Bench, scenario: str) -> Iterator[ScenarioResult | None]:
    """py-spy on the API and the worker groups while the block runs (with --profile)."""
    holder = ScenarioResult(scenario, "", "ok")
    if bench.profile_dir is None:
        yield None
        return
    targets = {
        "api": bench.stack.local.processes["api"].pid,
        "worker": bench.stack.local.processes["worker"].pid,
    }
    with recording(targets, bench.profile_dir / scenario, idle={"worker"}) as outputs:
        yield holder
    for output in outputs:
        summary = summarise(output)
        holder.profiles.append(
            {
                "process": summary.name,
                "root": summary.root,
                "samples": summary.samples,
                "file": str(output),
                "topProject": [[s.frame, s.percent] for s in summary.top_project],
                "topLeaves": [[s.frame, s.percent] for s in summary.top_leaves],
            }
        )
