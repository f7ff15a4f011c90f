"""What a run found: the machine, every scenario's figures, the targets as ratios against this
machine's own limits, as `bench-results.json` and as a markdown table (printed, and written
into docs/BENCHMARKS.md between markers)."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from benchmarks.scenarios import Bench, ScenarioResult

START_MARKER = "<!-- benchmarks:results:start -->"
END_MARKER = "<!-- benchmarks:results:end -->"


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "ramGiB": round(psutil.virtual_memory().total / 2**30, 1),
        "cpuModel": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadAverage": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() or None


@dataclass(frozen=True)
class TargetCheck:
    target: str
    measured: float | None
    reference: float | None
    ratio: float | None
    required: str
    passed: bool | None  # None: not measured in this run
    note: str = ""


def _ratio(measured: float | None, reference: float | None) -> float | None:
    if measured is None or not reference:
        return None
    return round(measured / reference, 3)


def _at_least(
    target: str, measured: float | None, reference: float | None, share: float, required: str
) -> TargetCheck:
    ratio = _ratio(measured, reference)
    return TargetCheck(
        target, measured, reference, ratio, required, None if ratio is None else ratio >= share
    )


def targets(bench: Bench) -> list[TargetCheck]:
    f = bench.figure
    hot_applied = f("hot", "appliedPerS")
    db = f("db-limit", "rowsPerS")
    checks = [
        _at_least("hot applied/s vs naive applied/s", hot_applied, f("naive", "appliedPerS"),
                  10, ">= 10x"),
        _at_least("hot applied/s vs DB limit rows/s", hot_applied, db, 0.30, ">= 0.30"),
        _at_least("spread applied/s vs hot applied/s", f("spread", "appliedPerS"), hot_applied,
                  0.8, ">= 0.8"),
        _at_least("hot accepted/s vs HTTP limit req/s", f("hot", "acceptedPerS"),
                  f("http-limit", "requestsPerS"), 0.40, ">= 0.40"),
        _at_least("bulk accepted items/s vs DB limit rows/s", f("bulk", "acceptedItemsPerS"), db,
                  0.25, ">= 0.25"),
    ]  # fmt: skip
    p99, p50 = f("moderate", "latencyP99Ms"), f("moderate", "latencyP50Ms")
    checks.append(
        TargetCheck("moderate load p99 (ms)", p99, 100.0, _ratio(p99, 100.0), "<= 100 ms",
                    None if p99 is None else p99 <= 100.0)
    )  # fmt: skip
    checks.append(
        TargetCheck("moderate load p50 (ms)", p50, 20.0, _ratio(p50, 20.0), "<= 20 ms",
                    None if p50 is None else p50 <= 20.0)
    )  # fmt: skip
    growth = f("soak", "workerRssGrowthPct")
    checks.append(
        TargetCheck("soak worker RSS growth (%)", growth, 10.0, _ratio(growth, 10.0), "< 10 %",
                    None if growth is None else growth < 10.0)
    )  # fmt: skip
    # Informational (no target): the applier alone, from a backlog, against the same limits.
    drained, naive_drained = f("drain", "appliedPerS"), f("naive", "drainAppliedPerS")
    checks.append(
        TargetCheck("info: backlog drain applied/s vs DB limit", drained, db, _ratio(drained, db),
                    "-", None, "the applier without HTTP in the way")
    )  # fmt: skip
    checks.append(
        TargetCheck("info: backlog drain, batched vs batch size 1", drained, naive_drained,
                    _ratio(drained, naive_drained), "-", None, "what batching buys the applier")
    )  # fmt: skip
    return checks


@dataclass
class Report:
    command: str
    date: str
    scale: str
    machine: dict[str, Any]
    setup: dict[str, Any]
    scenarios: list[ScenarioResult]
    targets: list[TargetCheck]
    commit: str | None = None

    @property
    def correct(self) -> bool:
        return all(s.status in {"ok", "skipped"} for s in self.scenarios)

    @property
    def targets_met(self) -> bool:
        return all(t.passed is not False for t in self.targets)

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "date": self.date,
            "commit": self.commit,
            "scale": self.scale,
            "machine": self.machine,
            "setup": self.setup,
            "correct": self.correct,
            "targetsMet": self.targets_met,
            "scenarios": {s.name: asdict(s) for s in self.scenarios},
            "targets": [asdict(t) for t in self.targets],
        }


def build_report(bench: Bench, command: str, started: dt.datetime, setup: dict[str, Any]) -> Report:
    return Report(
        command=command,
        date=started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        scale=bench.scale.name,
        machine=machine(),
        setup=setup,
        scenarios=list(bench.results.values()),
        targets=targets(bench),
        commit=git_commit(),
    )


def write_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")


# --- markdown ---------------------------------------------------------------------------


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _notes_http(f: dict[str, Any]) -> str:
    return f"{_num(f.get('requestsPerS'))} req/s"


def _notes_db(f: dict[str, Any]) -> str:
    return (
        f"{_num(f.get('rowsPerS'))} rows/s ({_num(f.get('rows'))} per transaction); "
        f"{_num(f.get('rowsPerSIn500RowTransactions'))} rows/s in 500-row transactions"
    )


def _notes_batches(f: dict[str, Any]) -> str:
    return (
        f"{_num(f.get('applyBatches'))} apply batches, mean {_num(f.get('meanBatch'))} tickets; "
        f"one applier while busy: {_num(f.get('applierBusyPerS'))}/s"
    )


def _notes_bulk(f: dict[str, Any]) -> str:
    if "reason" in f:
        return str(f["reason"])
    return (
        f"{_num(f.get('batches'))} POST /batches; request p50 "
        f"{_num(f.get('batchRequestP50Ms'))} ms; mean apply batch {_num(f.get('meanBatch'))}"
    )


def _notes_moderate(f: dict[str, Any]) -> str:
    return (
        f"{_num(f.get('targetRatePerS'))}/s offered ({f.get('rateSource')}); 202 to done: "
        f"p50 {_num(f.get('latencyP50Ms'))} / p99 {_num(f.get('latencyP99Ms'))} / "
        f"p99.9 {_num(f.get('latencyP999Ms'))} ms; POST p50 {_num(f.get('postP50Ms'))} / "
        f"p99 {_num(f.get('postP99Ms'))} ms; {_num(f.get('sendsLateOver10Ms'))} sends > 10 ms late"
    )


def _notes_drain(f: dict[str, Any]) -> str:
    return (
        f"{_num(f.get('appliedPerS'))}/s from wake-up to last completion; "
        f"{_num(f.get('applyBatches'))} apply batches, mean {_num(f.get('meanBatch'))}"
    )


def _notes_naive(f: dict[str, Any]) -> str:
    return (
        f"{_notes_batches(f)}; backlog of {_num(f.get('drainTickets'))} at batch size 1: "
        f"{_num(f.get('drainAppliedPerS'))}/s"
    )


def _notes_soak(f: dict[str, Any]) -> str:
    series = ", ".join(
        f"{_num(s['commands'])}: {s['workerMiB']} / {s['apiMiB']}" for s in f.get("rss", [])
    )
    return (
        f"via {f.get('via')}, {_num(f.get('commandsPerS'))} commands/s overall; "
        f"RSS MiB (worker / API) after N commands: {series}; growth from "
        f"{_num(f.get('growthFrom'))}: worker {_num(f.get('workerRssGrowthPct'))} %, "
        f"API {_num(f.get('apiRssGrowthPct'))} %"
    )


_NOTES = {
    "http-limit": _notes_http,
    "db-limit": _notes_db,
    "hot": _notes_batches,
    "spread": _notes_batches,
    "naive": _notes_naive,
    "bulk": _notes_bulk,
    "moderate": _notes_moderate,
    "drain": _notes_drain,
    "soak": _notes_soak,
}


def _cpu(f: dict[str, Any]) -> str:
    cpu = f.get("cpuMsPerCommand")
    if not cpu:
        return ""
    parts = ", ".join(f"{k} {v}" for k, v in cpu.items() if k != "wallS")
    return f"; CPU ms per command: {parts}"


def _notes(result: ScenarioResult) -> str:
    notes = _NOTES.get(result.name)
    text = (notes(result.figures) if notes else "") + _cpu(result.figures)
    if "maxQueue" in result.figures:
        text += (
            f"; {_num(result.figures.get('applyTasks'))} apply tasks, "
            f"{_num(result.figures.get('sweeperWakes'))} sweeper wake-ups, "
            f"deepest queue {_num(result.figures.get('maxQueue'))}"
        )
    load = result.figures.get("loadAverage")
    if load:
        text += f"; load avg {load[0]} to {load[1]}"
    return text


def _commands(result: ScenarioResult) -> str:
    f = result.figures
    for key in ("commands", "items", "requests", "rows", "tickets"):
        if key in f:
            return _num(f[key])
    return "-"


def _scenario_row(result: ScenarioResult) -> str:
    f = result.figures
    accepted = f.get("acceptedPerS", f.get("acceptedItemsPerS", f.get("requestsPerS")))
    applied = f.get("appliedPerS", f.get("appliedItemsPerS", f.get("rowsPerS")))
    status = result.status if not result.problems else f"{result.status}: {result.problems[0]}"
    return (
        f"| {result.title} | {status} | {_commands(result)} | {_num(accepted)} | "
        f"{_num(applied)} | {_num(f.get('ticketLatencyP50Ms'))} | "
        f"{_num(f.get('ticketLatencyP99Ms'))} | {_notes(result)} |"
    )


def _target_row(t: TargetCheck) -> str:
    verdict = {True: "**pass**", False: "**FAIL**", None: "not measured"}[t.passed]
    if t.required == "-":
        verdict = t.note
    return (
        f"| {t.target} | {_num(t.measured)} | {_num(t.reference)} | {_num(t.ratio, 3)} | "
        f"{t.required} | {verdict} |"
    )


def markdown(report: Report) -> str:
    m = report.machine
    s = report.setup
    lines = [
        f"Command: `{report.command}`  ",
        f"Date: {report.date} (commit {report.commit or 'unknown'}), scale `{report.scale}`  ",
        f"Machine: {m['nproc']} CPUs ({m['cpuModel']}), {m['ramGiB']} GiB RAM, Python "
        f"{m['python']}; load average at start {s.get('loadAverageAtStart')}, at end "
        f"{m['loadAverage']}  ",
        f"Stack: {s.get('postgres')}; API gunicorn gthread {s.get('apiWorkers')}x"
        f"{s.get('apiThreads')}; {s.get('workerProcesses')} worker processes; apply batch size "
        f"{s.get('applyBatchSize')}; load generator: {s.get('clients')} clients in "
        f"{s.get('loadProcesses')} process(es); whole run {s.get('elapsedS')} s",
        "",
        "| scenario | result | commands | accepted/s | applied/s | ticket p50 ms "
        "| ticket p99 ms | notes |",
        "|---|---|---:|---:|---:|---:|---:|---|",
        *(_scenario_row(result) for result in report.scenarios),
        "",
        "| target | measured | reference | ratio | required | result |",
        "|---|---:|---:|---:|---|---|",
        *(_target_row(t) for t in report.targets),
    ]
    profiles = [(r.name, p) for r in report.scenarios for p in r.profiles if p["samples"]]
    if profiles:
        lines += ["", "Profiles (py-spy; share of the samples taken inside one request/task):", ""]
        for scenario, profile in profiles:
            where = "; ".join(f"{frame} {share} %" for frame, share in profile["topProject"][:8])
            leaves = "; ".join(f"{frame} {share} %" for frame, share in profile["topLeaves"][:4])
            lines.append(
                f"- {scenario} / {profile['process']} ({profile['samples']} samples): {where}."
                f" Leaves: {leaves}"
            )
    return "\n".join(lines) + "\n"


DOC_HEADER = """# Benchmarks

`python -m benchmarks` (or `make bench`) starts the real stack and measures it against this
machine's own limits. The table below is rewritten by every full run.

"""


def update_docs(path: Path, table: str) -> None:
    """Replace what is between the markers (or append the markers and the table)."""
    block = f"{START_MARKER}\n{table}{END_MARKER}"
    text = path.read_text() if path.exists() else DOC_HEADER
    if START_MARKER in text and END_MARKER in text:
        before = text.split(START_MARKER, 1)[0]
        after = text.split(END_MARKER, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
