"""The command line: start the stack, run the scenarios, report.

Exit status: 0 when every scenario that ran gave the right answer (missed targets are reported,
and fail the run only with --strict-targets, because on a shared machine they are noisy);
1 when any scenario was wrong or could not run; 2 with --strict-targets and a missed target.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import Bench, ScenarioResult
from benchmarks.report import Report, build_report, markdown, update_docs, write_json
from benchmarks.scale import SCALES
from benchmarks.scenarios import SCENARIOS, run_scenario, warm_up
from benchmarks.stack import StackOptions, running_stack

DEFAULT_DOCS = Path("docs/BENCHMARKS.md")
# py-spy runs during these with --profile: the command path under load (hot), the applier
# alone on full batches (drain), single commands with their long-polls (moderate), and the
# hot load beside thousands of open waiters (waiters).
PROFILED = ("hot", "moderate", "waiters", "drain")


@dataclass(frozen=True)
class Options:
    scale: str = "full"
    only: tuple[str, ...] = ()
    out: Path = Path("bench-results.json")
    docs: Path | None = None
    load_processes: int | None = None
    worker_processes: int = 2
    durable: bool = True
    wipe: bool = False
    profile: Path | None = None
    time_budget: float | None = None
    strict_targets: bool = False
    database_url: str | None = None  # None: embedded servers in a temporary directory
    redis_url: str | None = None
    keep_logs: Path | None = None
    long_polls: int | None = None  # None: the scale's
    streams: int | None = None


def parse(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument(
        "--only", nargs="+", choices=list(SCENARIOS), default=(), metavar="SCENARIO",
        help=f"run only these ({', '.join(SCENARIOS)}); they still run in that order",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"))
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument(
        "--docs", type=Path, default=None,
        help=f"write the table into this file (default: {DEFAULT_DOCS} on a complete full run)",
    )  # fmt: skip
    docs.add_argument("--no-docs", action="store_true")
    parser.add_argument(
        "--load-processes", type=int, default=None,
        help="processes of the load generator (default: 2 at full scale, 1 at smoke)",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("TESSERA_WORKER_PROCESSES", "2")),
        help="Celery worker processes [TESSERA_WORKER_PROCESSES or 2]",
    )  # fmt: skip
    parser.add_argument(
        "--no-durable", action="store_true",
        help="embedded PostgreSQL with fsync off (faster, not what production runs)",
    )  # fmt: skip
    parser.add_argument(
        "--wipe", action="store_true",
        help="allow emptying the Tessera tables of a DATABASE_URL that holds data",
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="DIR",
        help=f"py-spy the API and workers during {', '.join(PROFILED)} into DIR",
    )  # fmt: skip
    parser.add_argument(
        "--time-budget", type=float, default=None, metavar="SECONDS",
        help="skip the scenarios that would start after this (default: 20 min full, 5 min smoke)",
    )  # fmt: skip
    parser.add_argument(
        "--keep-logs", type=Path, default=None, metavar="DIR",
        help="copy the API, worker, beat and PostgreSQL logs into DIR at the end",
    )  # fmt: skip
    parser.add_argument(
        "--long-polls", type=int, default=None, metavar="N",
        help="open long-polls in the waiters scenario (default: 2,000 full, 16 smoke)",
    )  # fmt: skip
    parser.add_argument(
        "--streams", type=int, default=None, metavar="N",
        help="open SSE streams in the waiters scenario (default: 1,000 full, 8 smoke)",
    )  # fmt: skip
    parser.add_argument("--strict-targets", action="store_true")
    args = parser.parse_args(argv)
    for name in ("long_polls", "streams"):
        if getattr(args, name) is not None and getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 or more")
    complete_full = args.scale == "full" and not args.only
    docs_path = None if args.no_docs else (args.docs or (DEFAULT_DOCS if complete_full else None))
    return Options(
        scale=args.scale,
        only=tuple(args.only),
        out=args.out,
        docs=docs_path,
        load_processes=args.load_processes,
        worker_processes=args.workers,
        durable=not args.no_durable,
        wipe=args.wipe,
        profile=args.profile,
        time_budget=args.time_budget,
        strict_targets=args.strict_targets,
        keep_logs=args.keep_logs,
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        long_polls=args.long_polls,
        streams=args.streams,
    )


def run(options: Options, command: str = "python -m benchmarks") -> Report:
    """Run the selected scenarios on a fresh stack and return the report (files written)."""
    scale = SCALES[options.scale]
    if options.long_polls is not None:
        scale = dataclasses.replace(scale, waiters_long_polls=options.long_polls)
    if options.streams is not None:
        scale = dataclasses.replace(scale, waiters_streams=options.streams)
    load_processes = options.load_processes or (2 if scale.name == "full" else 1)
    budget = options.time_budget or (20 * 60 if scale.name == "full" else 5 * 60)
    selected = [name for name in SCENARIOS if not options.only or name in options.only]
    started_at = dt.datetime.now(dt.UTC)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    started = time.monotonic()
    stack_options = StackOptions(
        worker_processes=options.worker_processes,
        durable=options.durable,
        wipe_external=options.wipe,
        apply_batch_size=_int_env("TESSERA_APPLY_BATCH_SIZE"),
        database_url=options.database_url,
        redis_url=options.redis_url,
        keep_logs=options.keep_logs,
    )
    with running_stack(stack_options) as stack:
        bench = Bench(stack, scale, load_processes, options.profile, say=_say)
        _say(f"stack up at {stack.base_url} ({time.monotonic() - started:.1f} s)")
        warm_up(bench)
        for name in selected:
            if time.monotonic() - started > budget:
                bench.results[name] = ScenarioResult(
                    name, SCENARIOS[name][0], "skipped", {"reason": "time budget spent"}
                )
                continue
            profiled = options.profile is not None and name in PROFILED
            bench.profile_dir = options.profile if profiled else None
            run_scenario(bench, name)
        version = stack.conn.execute("SHOW server_version").fetchone()
        setup = {
            "postgres": f"PostgreSQL {version[0] if version else '?'}"
            + (" (embedded)" if not options.database_url else "")
            + ("" if options.durable else ", fsync off"),
            "apiWorkerClass": stack.api_worker_class(),
            "apiWorkers": stack.api_processes(),
            "apiThreads": int(os.environ.get("TESSERA_API_THREADS", "16")),
            "workerProcesses": options.worker_processes,
            "applyBatchSize": stack_options.apply_batch_size or 500,
            "clients": scale.clients,
            "loadProcesses": load_processes,
            "loadAverageAtStart": load_at_start,
            "elapsedS": round(time.monotonic() - started, 1),
        }
    report = build_report(bench, command, started_at, setup)
    write_json(report, options.out)
    table = markdown(report)
    if options.docs is not None:
        update_docs(options.docs, table)
    return report


def _int_env(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def _say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - this is a command-line tool's progress output


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    words = sys.argv[1:] if argv is None else list(argv)
    report = run(options, shlex.join(["python", "-m", "benchmarks", *words]))
    _say("")
    _say(markdown(report))
    _say(f"results: {options.out}" + (f", table: {options.docs}" if options.docs else ""))
    if not report.correct:
        _say("FAILED: a scenario gave a wrong answer or could not run")
        return 1
    if options.strict_targets and not report.targets_met:
        _say("targets missed (--strict-targets)")
        return 2
    return 0
