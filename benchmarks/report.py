"""What a run found: the machine, every scenario's figures, the targets as ratios against this
machine's own limits, as `bench-results.json` and as a markdown table (printed, and written
into docs/BENCHMARKS.md between markers)."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from benchmarks.harness import Bench, ScenarioResult

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
    informational: bool = False  # shown, never fails the run (e.g. a former target)


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


def _at_most(target: str, measured: float | None, limit: float, required: str) -> TargetCheck:
    return TargetCheck(
        target, measured, limit, _ratio(measured, limit), required,
        None if measured is None else measured <= limit,
    )  # fmt: skip


def _every(target: str, good: float | None, planned: float | None) -> TargetCheck:
    """All of them: `good` out of `planned`."""
    passed = None if good is None or not planned else good >= planned
    return TargetCheck(target, good, planned, _ratio(good, planned), "all", passed)


def _former(check: TargetCheck, was: str) -> TargetCheck:
    """A target of an earlier issue, kept as an informational row."""
    verdict = {True: "met", False: "missed", None: "not measured"}[check.passed]
    return replace(
        check, target=f"info: {check.target}", required=f"({was})", informational=True,
        note=f"former target {verdict}",
    )  # fmt: skip


def _info(target: str, measured: float | None, reference: float | None, note: str) -> TargetCheck:
    return TargetCheck(
        f"info: {target}", measured, reference, _ratio(measured, reference), "-", None, note, True
    )


# The process groups the issue-11 CPU target sums: the system, not the load generator.
SYSTEM_GROUPS = ("api", "postgres", "worker", "redis")


def system_cpu_ms(bench: Bench, scenario: str) -> float | None:
    """CPU ms per command of the system's own process groups (API + PostgreSQL + worker +
    Redis) in a scenario that ran right."""
    result = bench.results.get(scenario)
    if result is None or result.status != "ok":
        return None
    cpu = result.figures.get("cpuMsPerCommand") or {}
    if not any(group in cpu for group in SYSTEM_GROUPS):
        return None
    return round(sum(float(cpu.get(group, 0.0)) for group in SYSTEM_GROUPS), 2)


def targets(bench: Bench) -> list[TargetCheck]:
    """Issue 27's targets against the in-memory reference, issue 11's, then informational rows
    (issue 6's former targets among them)."""
    f = bench.figure
    hot_applied = f("hot", "appliedPerS")
    db = f("db-limit", "rowsPerS")
    checks = [
        _at_least("few-clients completed/s vs in-memory completed/s",
                  f("few-clients", "completedPerS"), f("few-clients", "memoryCompletedPerS"),
                  0.7, ">= 0.7x"),
        _at_least("sequential completed/s vs in-memory completed/s",
                  f("sequential", "completedPerS"), f("sequential", "memoryCompletedPerS"),
                  0.7, ">= 0.7x"),
        _at_most("sequential: 202 to done p50 (ms)", f("sequential", "latencyP50Ms"), 10.0,
                 "<= 10 ms"),
        _at_least("hot accepted/s vs in-memory accepted/s (memory-hot)", f("hot", "acceptedPerS"),
                  f("memory-hot", "acceptedPerS"), 0.75, ">= 0.75x"),

        _at_most("moderate: 202 to done p50 (ms)", f("moderate", "latencyP50Ms"), 20.0,
                 "<= 20 ms"),
        _at_most("moderate: 202 to done p99 (ms)", f("moderate", "latencyP99Ms"), 100.0,
                 "<= 100 ms"),
        _at_most("moderate: POST p99 (ms)", f("moderate", "postP99Ms"), 50.0, "<= 50 ms"),
        _at_least("spread applied/s vs hot applied/s", f("spread", "appliedPerS"), hot_applied,
                  0.9, ">= 0.9x"),
        _at_most("spread: ticket p99 (ms)", f("spread", "ticketLatencyP99Ms"), 1000.0,
                 "<= 1,000 ms"),
        _at_least("hot accepted/s vs HTTP limit req/s", f("hot", "acceptedPerS"),
                  f("http-limit", "requestsPerS"), 0.60, ">= 0.60"),
        _at_most("hot: CPU ms per command, API + PostgreSQL + worker + Redis",
                 system_cpu_ms(bench, "hot"), 1.0, "<= 1.0 ms"),
        _at_most("waiters: POST p99 (ms; a failed POST counts as 40 s)",
                 f("waiters", "postP99Ms"), 200.0, "<= 200 ms"),
        _every("waiters: long-polls answered within 1 s of completion",
               f("waiters", "longPollsOnTime"), f("waiters", "longPolls")),
        _every("waiters: SSE streams open with every message within 1 s",
               f("waiters", "streamsAllOnTime"), f("waiters", "streams")),
        _at_most("onsale: opening to the last drawn standing visible (ms)",
                 f("onsale", "drawVisibleMs"), 5000.0, "<= 5,000 ms"),
        _info("onsale: pre-queue accepted/s vs first-come accepted/s (same run)",
              f("onsale", "prequeueAcceptedPerS"), f("onsale", "hotAcceptedPerS"),
              "what pre-queueing costs the accept path"),
        _info("hot-fill applied/s vs hot applied/s (parties, fill)",
              f("hot-fill", "appliedPerS"), hot_applied, "the cost of fair multi-seat lines"),
        _info("hot-fill: CPU ms per command vs hot", system_cpu_ms(bench, "hot-fill"),
              system_cpu_ms(bench, "hot"), "API + PostgreSQL + worker + Redis"),
        _info("hot applied/s vs hot-no-ledger applied/s", hot_applied,
              f("hot-no-ledger", "appliedPerS"), "what writing the ledger costs (issue 14)"),
        _info("hot: CPU ms per command vs hot-no-ledger", system_cpu_ms(bench, "hot"),
              system_cpu_ms(bench, "hot-no-ledger"), "API + PostgreSQL + worker + Redis"),
        _info("approval storm approvals applied/s vs hot applied/s",
              f("approval-storm", "appliedPerS"), f("approval-storm", "hotAppliedPerS"),
              "placing by acceptance time, then settling (issue 23)"),
        _info("waiters: hot accepted/s beside the waiters vs hot alone",
              f("waiters", "acceptedPerS"), f("hot", "acceptedPerS"),
              "what holding the waiters costs the accept path"),
        _former(_at_least("hot applied/s vs naive applied/s", hot_applied,
                          f("naive", "appliedPerS"), 10, ">= 10x"), "issue 6: >= 10x"),
        _former(_at_least("hot applied/s vs DB limit rows/s", hot_applied, db, 0.30, ">= 0.30"),
                "issue 6: >= 0.30"),
        _former(_at_least("bulk accepted items/s vs DB limit rows/s",
                          f("bulk", "acceptedItemsPerS"), db, 0.25, ">= 0.25"),
                "issue 6: >= 0.25"),
    ]  # fmt: skip
    growth = f("soak", "workerRssGrowthPct")
    checks.append(
        _former(TargetCheck("soak worker RSS growth (%)", growth, 10.0, _ratio(growth, 10.0),
                            "< 10 %", None if growth is None else growth < 10.0),
                "issue 6: < 10 %")
    )  # fmt: skip
    # The applier alone, from a backlog, against the same limits.
    drained, naive_drained = f("drain", "appliedPerS"), f("naive", "drainAppliedPerS")
    checks.append(_at_least("backlog drain applied/s vs DB limit", drained, db, 0.25,
                            ">= 0.25x"))  # fmt: skip
    checks.append(_at_least("bulk applied items/s vs DB limit", f("bulk", "appliedItemsPerS"),
                            db, 0.25, ">= 0.25x"))  # fmt: skip
    checks.append(_info("backlog drain, batched vs batch size 1", drained, naive_drained,
                        "what batching buys the applier"))  # fmt: skip
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
        return all(t.passed is not False for t in self.targets if not t.informational)

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


def _notes_approval(f: dict[str, Any]) -> str:
    return (
        f"{_num(f.get('applications'))} applications on capacity {_num(f.get('capacity'))} "
        f"({_num(f.get('applicationsAppliedPerS'))}/s applied), then approved in random order "
        f"by {_num(f.get('deciders'))} admin clients; hot applied/s "
        f"{_num(f.get('hotAppliedPerS'))} ({f.get('hotSource')}), approvals vs hot "
        f"{_num(f.get('approvalsVsHot'), 3)}; {_notes_batches(f)}"
    )


def _notes_loops(f: dict[str, Any]) -> str:
    memory = f.get("memory", {})
    text = (
        f"{_num(f.get('clients'))} clients; Tessera {_num(f.get('completedPerS'))} completed/s, "
        f"in-memory {_num(f.get('memoryCompletedPerS'))}/s, ratio {_num(f.get('vsMemory'), 3)}; "
        f"round trip to the 202 p50 / p99: Tessera {_num(f.get('roundTripP50Ms'))} / "
        f"{_num(f.get('roundTripP99Ms'))} ms, in-memory {_num(memory.get('roundTripP50Ms'))} / "
        f"{_num(memory.get('roundTripP99Ms'))} ms"
    )
    if "latencyP50Ms" in f:
        text += (
            f"; 202 to done p50 / p99: Tessera {_num(f.get('latencyP50Ms'))} / "
            f"{_num(f.get('latencyP99Ms'))} ms, in-memory {_num(f.get('memoryLatencyP50Ms'))} / "
            f"{_num(f.get('memoryLatencyP99Ms'))} ms; command to done p50: Tessera "
            f"{_num(f.get('cycleP50Ms'))} ms, in-memory {_num(f.get('memoryCycleP50Ms'))} ms"
        )
    # the CPU figures that follow (`_cpu`) are Tessera's run
    return text + f"; in-memory app CPU ms per command {_num(_memory_cpu(memory), 2)}, Tessera's"


def _memory_cpu(memory: dict[str, Any]) -> float | None:
    cpu = memory.get("cpuMsPerCommand") or {}
    return cpu.get("memory")


def _notes_memory_hot(f: dict[str, Any]) -> str:
    return f"{_num(f.get('acceptedPerS'))} accepted/s (the requests of hot)"


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


def _notes_onsale(f: dict[str, Any]) -> str:
    return (
        f"{_num(f.get('registers'))} pre-queued on {_num(f.get('capacity'))} seats: accepted "
        f"{_num(f.get('prequeueAcceptedPerS'))}/s (first-come beside it: "
        f"{_num(f.get('hotAcceptedPerS'))}/s); opening to drawnAt "
        f"{_num(f.get('drawnAtLagMs'))} ms, to the last drawn standing visible "
        f"{_num(f.get('drawVisibleMs'))} ms"
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


def _statuses(statuses: Any) -> str:
    return f" (HTTP {', '.join(str(x) for x in statuses)})" if statuses else ""


def _notes_waiters(f: dict[str, Any]) -> str:
    rss = f.get("rss", {})

    def memory(group: str) -> str:
        return " / ".join(
            _num(rss.get(phase, {}).get(group)) for phase in ("before", "open", "peak", "after")
        )

    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(f.get("streamStatuses", {}).items()))
    return (
        f"{_num(f.get('longPolls'))} long-polls on parked tickets of "
        f"{_num(f.get('sideEvents'))} side events + {_num(f.get('streams'))} SSE streams "
        f"({_num(f.get('streamsOnHot'))} on the hot event), opened in "
        f"{_num(f.get('openSeconds'))} s; open as the load started: "
        f"{_num(f.get('longPollsOpenAtStart'))} long-polls, "
        f"{_num(f.get('streamsOpenAtStart'))} streams; POST p50 {_num(f.get('postP50Ms'))} / "
        f"p99 {_num(f.get('postP99Ms'))} ms, {_num(f.get('postFailures'))} failed, "
        f"{_num(f.get('postNotSent'))} not sent; long-polls: {_num(f.get('longPollsOnTime'))} "
        f"within 1 s, {_num(f.get('longPollsLate'))} late, "
        f"{_num(f.get('longPollsUnanswered'))} unanswered, "
        f"{_num(f.get('longPollsTicketNotDone'))} on tickets not done in time, "
        f"{_num(f.get('longPollsRefused'))} "
        f"refused{_statuses(f.get('longPollRefusalStatuses'))}, lateness p50 "
        f"{_num(f.get('longPollLatenessP50Ms'))} / p99 {_num(f.get('longPollLatenessP99Ms'))} / "
        f"max {_num(f.get('longPollLatenessMaxMs'))} ms; streams answered {{{statuses}}}, "
        f"{_num(f.get('streamMessagesExpected'))} messages due: "
        f"{_num(f.get('streamMessagesOnTime'))} within 1 s, "
        f"{_num(f.get('streamMessagesLate'))} late, {_num(f.get('streamMessagesMissing'))} "
        f"missing, lateness p99 {_num(f.get('streamLatenessP99Ms'))} / max "
        f"{_num(f.get('streamLatenessMaxMs'))} ms; parked tickets applied before their release: "
        f"{_num(f.get('parkedAppliedBeforeRelease'))}; RSS MiB before / open / peak / after: "
        f"API {memory('apiMiB')}, worker {memory('workerMiB')}; waiter generator loop lag "
        f"max {_num(f.get('generatorLoopLagMaxMs'))} ms"
        + ("; API restarted after the run" if f.get("apiRestarted") else "")
    )


_NOTES = {
    "http-limit": _notes_http,
    "memory-hot": _notes_memory_hot,
    "few-clients": _notes_loops,
    "sequential": _notes_loops,
    "db-limit": _notes_db,
    "hot": _notes_batches,
    "hot-fill": _notes_batches,
    "hot-no-ledger": _notes_batches,
    "approval-storm": _notes_approval,
    "spread": _notes_batches,
    "naive": _notes_naive,
    "bulk": _notes_bulk,
    "moderate": _notes_moderate,
    "drain": _notes_drain,
    "soak": _notes_soak,
    "waiters": _notes_waiters,
    "onsale": _notes_onsale,
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
    applied = f.get(
        "appliedPerS", f.get("appliedItemsPerS", f.get("completedPerS", f.get("rowsPerS")))
    )
    status = result.status if not result.problems else f"{result.status}: {result.problems[0]}"
    return (
        f"| {result.title} | {status} | {_commands(result)} | {_num(accepted)} | "
        f"{_num(applied)} | {_num(f.get('ticketLatencyP50Ms'))} | "
        f"{_num(f.get('ticketLatencyP99Ms'))} | {_notes(result)} |"
    )


def _target_row(t: TargetCheck) -> str:
    verdict = {True: "**pass**", False: "**FAIL**", None: "not measured"}[t.passed]
    if t.informational:
        verdict = t.note
    digits = 0 if t.required == "all" else 1  # counts
    return (
        f"| {t.target} | {_num(t.measured, digits)} | {_num(t.reference, digits)} | "
        f"{_num(t.ratio, 3)} | "
        f"{t.required} | {verdict} |"
    )


def _api_shape(setup: dict[str, Any]) -> str:
    worker_class = setup.get("apiWorkerClass", "gthread")
    if worker_class == "gthread":
        return f"gthread {setup.get('apiWorkers')}x{setup.get('apiThreads')}"
    return f"{worker_class}, {setup.get('apiWorkers')} processes"


def markdown(report: Report) -> str:
    m = report.machine
    s = report.setup
    lines = [
        f"Command: `{report.command}`  ",
        f"Date: {report.date} (commit {report.commit or 'unknown'}), scale `{report.scale}`  ",
        f"Machine: {m['nproc']} CPUs ({m['cpuModel']}), {m['ramGiB']} GiB RAM, Python "
        f"{m['python']}; load average at start {s.get('loadAverageAtStart')}, at end "
        f"{m['loadAverage']}  ",
        f"Stack: {s.get('postgres')}; API gunicorn {_api_shape(s)}; "
        f"{s.get('workerProcesses')} worker processes; apply batch size "
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
