"""Scenario `waiters`: thousands of open long-polls and SSE streams held beside the hot load.

What it asks: does a waiting client cost the API nothing while it waits (accepts stay fast:
POST p99), and is every waiter answered within a second of its ticket completing?

A healthy hot event has only a few dozen pending tickets at any moment, so long-polls on its
tickets would each last milliseconds and never add up to thousands held at once. The long-polls
therefore wait on **parked** tickets: pending tickets on side events, written with the API's own
COPY (`models.storage.tickets.insert_tickets`) while the benchmark holds those events' applier locks
(session advisory locks, `models.storage.locks.APPLIER_SPACE`), so no drain may apply them: to the
workers they look like events another worker is applying. Once the hot load runs, the side
events are released one by one over `waiters_release_seconds`: the benchmark lets go of the
event's lock and the waiter generator sends it a command through HTTP, whose wake-up (or the
drain already running for the hot event) applies the parked tickets in front of it. SSE streams
listen on the hot event (a few: each receives every hot completion) and on the side events (each
receives its event's burst).

The ordinary load generator sends the hot registers; `benchmarks.waiters` holds the waiters in
a process of its own. Refusals (503), timeouts and late answers are missed targets, reported
with their counts; only a wrong answer (a lost ticket, a broken invariant or order, a waiter told
something the database contradicts) fails the scenario.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import multiprocessing
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import psycopg
import requests

from benchmarks import verify
from benchmarks.harness import (
    Bench,
    Figures,
    QueueDepth,
    ScenarioResult,
    accepted_figures,
    applied_figures,
    ms,
    percentile,
    profiled,
    settle,
    worker_batches,
    worker_log_offset,
)
from benchmarks.load import REQUEST_TIMEOUT, Call, Results, json_call, run_closed
from benchmarks.scale import Scale
from benchmarks.stack import BenchStack, CpuMeter
from benchmarks.waiters import WaiterPlan, WaiterProcess, WaiterResults

HOT = "hot"
ANSWER_WITHIN_S = 1.0  # the target: a waiter hears of its ticket within a second
DELIVERY_GRACE_S = 1.5  # after the last completion, before the waiters are closed
MESSAGE_EXTRA_S = 60.0  # waiting for a child's step, beyond its own open timeout
MIB = 1024 * 1024


@dataclass
class RssPeak:
    """The highest resident memory of the API and worker groups while a block runs (sampled
    once a second in a background thread)."""

    stack: BenchStack
    api: int = 0
    worker: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a diagnostic: never fail the run
                self.api = max(self.api, self.stack.group_rss("api"))
                self.worker = max(self.worker, self.stack.group_rss("worker"))
            if self._stop.wait(1.0):
                return

    def __enter__(self) -> RssPeak:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _rss(stack: BenchStack) -> dict[str, float]:
    return {
        "apiMiB": round(stack.group_rss("api") / MIB, 1),
        "workerMiB": round(stack.group_rss("worker") / MIB, 1),
    }


@dataclass(frozen=True)
class Layout:
    """Who waits on what: parked tickets per side event, and each stream's event."""

    side_events: list[str]
    parked: list[tuple[str, str]]  # (user, side event), in COPY order
    streams: list[str]
    release_user: str = "wrelease"

    @classmethod
    def plan(cls, long_polls: int, streams: int, hot_streams: int, side_events: int) -> Layout:
        events = [f"p{i:04d}" for i in range(max(1, min(side_events, max(1, long_polls))))]
        # Ticket k waits on event k mod E, so every side event gets its share of long-polls;
        # users repeat across events, never within one.
        parked = [(f"wp{k // len(events):05d}", events[k % len(events)]) for k in range(long_polls)]
        on_hot = min(hot_streams, streams)
        stream_events = [HOT] * on_hot + [events[i % len(events)] for i in range(streams - on_hot)]
        return cls(events, parked, stream_events)

    @property
    def users(self) -> list[str]:
        return sorted({user for user, _ in self.parked} | {self.release_user})


@dataclass
class Held:
    """What one run with the waiters open gave."""

    results: Results  # the hot load's
    waited: WaiterResults
    cpu: CpuMeter
    rss: dict[str, Any]
    figures: Figures
    problems: list[str]
    profiles: list[dict[str, Any]]


def waiters(bench: Bench) -> ScenarioResult:
    """6. Long-polls and SSE streams held open while the hot load runs beside them."""
    stack = bench.stack
    scale = bench.scale
    stack.wipe()
    layout = Layout.plan(
        scale.waiters_long_polls,
        scale.waiters_streams,
        scale.waiters_hot_streams,
        scale.waiters_side_events,
    )
    hot_users = [f"wh{i:06d}" for i in range(scale.waiters_registers)]
    stack.seed_users([*hot_users, *layout.users])
    stack.seed_events([HOT], max(1, len(hot_users) // 10))
    per_event = math.ceil(len(layout.parked) / len(layout.side_events))
    stack.seed_events(layout.side_events, max(1, per_event // 2))  # seats and a waitlist
    calls = [json_call("POST", f"/events/{HOT}/registrations", {"userId": u}) for u in hot_users]
    offset = worker_log_offset(stack)
    held = _hold(bench, layout, calls)
    tickets = _tickets(stack)
    # per hot command the system took (a POST the client gave up on may still have been)
    taken = sum(1 for row in tickets.values() if row.event_id == HOT)
    per_command = held.cpu.per_command_ms(taken)
    if per_command:
        # the waiter process was reaped before the meter stopped, so its CPU is in the load
        # generator's children time: shown apart
        own = 1000.0 * held.waited.cpu_seconds / taken
        per_command["load generator"] = round(per_command["load generator"] - own, 2)
        per_command["waiter generator"] = round(own, 2)
    problems = held.problems
    timeline = held.waited.timeline
    figures = {
        "commands": len(calls),
        "longPolls": len(layout.parked),
        "streams": len(layout.streams),
        "streamsOnHot": layout.streams.count(HOT),
        "sideEvents": len(layout.side_events),
        **held.figures,
        **accepted_figures(held.results),
        **_post_figures(held.results),
        **applied_figures(bench, f"event_id = '{HOT}'"),
        **_poll_figures(held.waited, tickets, problems),
        **_stream_figures(held.waited, tickets, problems),
        **_release_figures(held.waited, tickets),
        "rss": held.rss,
        "timeline": timeline,
        "longPollsOpenAtStart": timeline[0][1] if timeline else None,
        "streamsOpenAtStart": timeline[0][2] if timeline else None,
        "generatorLoopLagMaxMs": held.waited.loop_lag_max_ms,
        "generatorLoopLagP99Ms": held.waited.loop_lag_p99_ms,
        "waiterStoppedBy": held.waited.stopped_by,
        **worker_batches(stack, offset),
        "cpuMsPerCommand": per_command,
    }
    problems += _correctness(bench, held.results, tickets)
    return ScenarioResult("waiters", "", "ok", figures, problems, profiles=held.profiles)


def _hold(bench: Bench, layout: Layout, calls: list[Call]) -> Held:
    """Open the waiters, park their tickets, run the hot load beside them (releasing the
    parked tickets meanwhile), settle, and close the waiters."""
    stack = bench.stack
    scale = bench.scale
    address = urlsplit(stack.base_url)
    plan = WaiterPlan(
        host=address.hostname or "127.0.0.1",
        port=address.port or 80,
        api_key=stack.admin_key,
        streams=layout.streams,
        poll_wait=30,
        release_events=layout.side_events,
        release_user=layout.release_user,
        release_delay=scale.waiters_release_delay,
        release_seconds=scale.waiters_release_seconds,
        open_timeout=max(30.0, len(layout.streams) / 20 + len(layout.parked) / 40),
        deadline=scale.scenario_time_limit + scale.waiters_time_limit,
    )
    beat = "beat" in stack.local.processes
    if beat:
        stack.local.stop("beat")  # its sweeper would wake the parked tickets
    rss: dict[str, Any] = {"before": _rss(stack)}
    go = multiprocessing.get_context("spawn").Event()
    process = WaiterProcess(plan, go)
    figures: Figures = {}
    parking = Parking(stack, layout.side_events)
    try:
        parking.hold()
        parking.release_on_schedule(go, scale.waiters_release_delay, scale.waiters_release_seconds)
        process.start()
        figures["streamAnswers"] = process.expect("streams", plan.open_timeout + MESSAGE_EXTRA_S)
        process.send_tickets(_park(stack, layout))
        ready = process.expect("ready", plan.open_timeout + MESSAGE_EXTRA_S)
        figures["openSeconds"] = round(float(ready["openSeconds"]), 1)
        figures["answeredBeforeTheLoad"] = ready["alreadyAnswered"]
        rss["open"] = _rss(stack)
        with (
            profiled(bench, "waiters") as profile,
            QueueDepth(stack) as queue,
            CpuMeter(stack) as cpu,
            RssPeak(stack) as peak,
        ):
            results = run_closed(
                bench.target(),
                calls,
                scale.clients,
                bench.load_processes,
                scale.waiters_time_limit,
                started=go,
            )
            if beat:
                _wait_for_releases(results, scale)
                stack.local.start_beat()  # the safety net again, for whatever is still parked
                beat = False
            problems = settle(bench)
            time.sleep(DELIVERY_GRACE_S)
            waited = process.finish(timeout=REQUEST_TIMEOUT + MESSAGE_EXTRA_S)
    finally:
        parking.close()
        process.close()
        if beat:
            stack.local.start_beat()
        # A thread-per-request server may still hold requests of clients that gave up,
        # POSTs among them (accepted late, after the settle above): drain it, settle again.
        figures["apiRecoveredS"], figures["apiRestarted"] = _recover(stack)
    problems += settle(bench)
    figures["maxQueue"] = queue.deepest
    rss["peak"] = {"apiMiB": round(peak.api / MIB, 1), "workerMiB": round(peak.worker / MIB, 1)}
    rss["after"] = _rss(stack)
    return Held(results, waited, cpu, rss, figures, problems, profile.profiles if profile else [])


RELEASE_AFTER_COMMAND_S = 0.05


class Parking:
    """Holds the side events' applier locks (session advisory locks on a connection of its
    own) and lets go of them one by one on the release schedule, starting when `go` is set."""

    def __init__(self, stack: BenchStack, events: list[str]) -> None:
        from models.storage.db import psycopg_url

        self.events = events
        self.conn = psycopg.connect(psycopg_url(stack.urls.database_url), autocommit=True)
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def _advisory(self, function: str, event_id: str) -> None:
        from models.storage.locks import APPLIER_SPACE

        with self._lock:
            self.conn.execute(
                f"SELECT {function}(hashtextextended(%s, %s))", (event_id, APPLIER_SPACE)
            )

    def hold(self) -> None:
        for event_id in self.events:
            self._advisory("pg_advisory_lock", event_id)

    def release_on_schedule(self, go: Any, delay: float, seconds: float) -> None:
        spacing = seconds / max(1, len(self.events) - 1)

        def release() -> None:
            while not go.wait(0.05):
                if self._closed.is_set():
                    return
            started = time.monotonic()
            for index, event_id in enumerate(self.events):
                # just after the waiter generator's release command for the event is sent
                due = started + delay + index * spacing + RELEASE_AFTER_COMMAND_S
                if self._closed.wait(max(0.0, due - time.monotonic())):
                    return
                self._advisory("pg_advisory_unlock", event_id)

        threading.Thread(target=release, name="parking", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self.conn.close()  # whatever is still held goes with the session


def _park(stack: BenchStack, layout: Layout) -> list[str]:
    """The parked tickets, accepted with the API's own COPY and never woken."""
    from models.storage.tickets import NewTicket, insert_tickets

    with stack.sessions.begin() as session:
        return insert_tickets(
            session, [NewTicket("register", user, event) for user, event in layout.parked], "bench"
        )


def _wait_for_releases(results: Results, scale: Scale) -> None:
    """Until the release schedule is over (the hot load may end first)."""
    sent = [s for s in results.sent if not math.isnan(s)]
    if not sent:
        return
    end = min(sent) + scale.waiters_release_delay + scale.waiters_release_seconds + 1.0
    time.sleep(max(0.0, end - time.monotonic()))


def _recover(stack: BenchStack, timeout: float = 90.0) -> tuple[float, bool]:
    """Seconds until the API answers /live within a second again (a thread-per-request server
    may still be working through the closed waiters' requests); restarts it after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with contextlib.suppress(requests.RequestException):
            if requests.get(stack.base_url + "/live", timeout=1).status_code == 200:
                return round(time.monotonic() - started, 1), False
        time.sleep(0.5)
    stack.local.stop("api")
    stack.local.restart("api")
    return round(time.monotonic() - started, 1), True


@dataclass(frozen=True)
class TicketRow:
    event_id: str
    status: str
    completed: float  # epoch seconds; NaN while pending


def _tickets(stack: BenchStack) -> dict[str, TicketRow]:
    rows = stack.conn.execute(
        "SELECT ticket_id, event_id, status, extract(epoch FROM completed_at) FROM tickets"
    ).fetchall()
    return {
        ticket_id: TicketRow(event_id, status, float(done) if done is not None else math.nan)
        for ticket_id, event_id, status, done in rows
    }


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _post_figures(results: Results) -> Figures:
    """POST latency of the hot load. A command that got no 202 (refused, timed out, or never
    sent before the time limit) counts as the client's timeout, so a p99 can only pass if at
    most 1 % of the commands failed."""
    post = [
        a - s if status == 202 else REQUEST_TIMEOUT
        for a, s, status in zip(results.answered, results.sent, results.status, strict=True)
    ]
    failed = sum(1 for s in results.status if s != 202)
    unsent = sum(1 for s in results.sent if math.isnan(s))
    return {
        "postP50Ms": ms(percentile(post, 0.5)),
        "postP99Ms": ms(percentile(post, 0.99)),
        "postFailures": failed - unsent,
        "postNotSent": unsent,
        "postErrors": results.errors[:5],
    }


def _lateness_figures(prefix: str, lateness: list[float]) -> Figures:
    return {
        f"{prefix}LatenessP50Ms": ms(percentile(lateness, 0.5)),
        f"{prefix}LatenessP99Ms": ms(percentile(lateness, 0.99)),
        f"{prefix}LatenessMaxMs": ms(max(lateness)) if lateness else None,
    }


def _poll_figures(
    waited: WaiterResults, tickets: dict[str, TicketRow], problems: list[str]
) -> Figures:
    """Each long-poll's final answer against its ticket's completion. Lateness counts from
    the later of completion and the request (a ticket completed before it was asked for is
    answered by a plain read). A long-poll without a final answer is `unanswered` if its
    ticket completed while it listened (a second before the waiters stopped at the latest),
    else its ticket was not done in time (neither counts as on time)."""
    lateness: list[float] = []
    unanswered = not_done = refused = errored = 0
    for poll in waited.polls:
        refused += bool(poll.refusals)
        errored += bool(poll.errors)
        row = tickets.get(poll.ticket_id)
        if poll.outcome is None:
            if row is not None and row.completed <= waited.stopped_wall - ANSWER_WITHIN_S:
                unanswered += 1
            else:
                not_done += 1
            continue
        if row is None or row.status != poll.outcome:
            problems.append(
                f"long-poll of {poll.ticket_id} answered {poll.outcome!r}, the database says "
                f"{row.status if row else 'no such ticket'!r}"
            )
            continue
        stamped = _epoch(poll.completed_at)
        done = row.completed if stamped is None else stamped
        lateness.append(poll.answered - max(done, poll.sent))
    on_time = sum(1 for x in lateness if x <= ANSWER_WITHIN_S)
    return {
        "longPollsOnTime": on_time,
        "longPollsLate": len(lateness) - on_time,
        "longPollsUnanswered": unanswered,
        "longPollsTicketNotDone": not_done,  # not completed while the waiters listened
        "longPollsRefused": refused,  # got a status other than 200 at least once
        "longPollsWithErrors": errored,  # a connection error or timeout at least once
        "longPollRefusalStatuses": sorted({s for p in waited.polls for s in p.refusals}),
        "longPollErrorsSample": [p.last_error for p in waited.polls if p.last_error][:3],
        **_lateness_figures("longPoll", lateness),
    }


def _stream_figures(
    waited: WaiterResults, tickets: dict[str, TicketRow], problems: list[str]
) -> Figures:
    """Each established stream must receive, within a second of `completedAt`, every
    ticket.completed of its event that completed while it listened: after it was
    established, and a second before the waiters stopped at the latest (a server that works
    through a queue of abandoned requests afterwards may accept and complete more)."""
    until = waited.stopped_wall - ANSWER_WITHIN_S
    completed_by_event: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for ticket_id, row in tickets.items():
        if row.status == "completed":
            completed_by_event[row.event_id].append((ticket_id, row.completed))
    statuses: dict[str, int] = defaultdict(int)
    lateness: list[float] = []
    expected = missing = duplicates = streams_on_time = 0
    for stream in waited.streams:
        statuses[str(stream.status) if stream.status is not None else "no answer"] += 1
        if stream.status != 200:
            continue
        first: dict[str, tuple[float, str | None]] = {}
        for ticket_id, received, done in zip(
            stream.ticket_ids, stream.received, stream.completed_at, strict=True
        ):
            if ticket_id in first:
                duplicates += 1
                continue
            first[ticket_id] = (received, done)
            known = tickets.get(ticket_id)
            if known is None or known.event_id != stream.event_id:
                problems.append(
                    f"stream of {stream.event_id} sent ticket {ticket_id} "
                    f"({'unknown' if known is None else 'of ' + known.event_id})"
                )
        stream_late = 0
        for ticket_id, completed in completed_by_event[stream.event_id]:
            if not stream.established <= completed <= until:
                continue  # not while this stream listened
            expected += 1
            if ticket_id not in first:
                missing += 1
                stream_late += 1
                continue
            received, done_text = first[ticket_id]
            stamped = _epoch(done_text)
            late = received - (completed if stamped is None else stamped)
            lateness.append(late)
            stream_late += late > ANSWER_WITHIN_S
        streams_on_time += stream_late == 0
    on_time = sum(1 for x in lateness if x <= ANSWER_WITHIN_S)
    return {
        "streamStatuses": dict(statuses),
        "streamsEstablished": statuses.get("200", 0),
        "streamsAllOnTime": streams_on_time,  # established, and every message within 1 s
        "streamMessagesExpected": expected,
        "streamMessagesOnTime": on_time,
        "streamMessagesLate": len(lateness) - on_time,
        "streamMessagesMissing": missing,
        "streamDuplicates": duplicates,
        "streamReconnects": sum(s.reconnects for s in waited.streams),
        "streamErrorsSample": [s.last_error for s in waited.streams if s.last_error][:3],
        **_lateness_figures("stream", lateness),
    }


def _release_figures(waited: WaiterResults, tickets: dict[str, TicketRow]) -> Figures:
    """The release commands, and whether a side event's parked tickets waited for theirs
    (an applier that drains every pending event on any wake-up would not wait)."""
    released_at = {r.event_id: r.sent for r in waited.releases}
    early = sum(
        1
        for row in tickets.values()
        if row.event_id in released_at and row.completed < released_at[row.event_id]
    )
    seconds = [r.seconds for r in waited.releases]
    return {
        "releases": len(waited.releases),
        "releasesAccepted": sum(1 for r in waited.releases if r.status == 202),
        "releasePostP99Ms": ms(percentile(seconds, 0.99)),
        "parkedAppliedBeforeRelease": early,
    }


def _correctness(bench: Bench, results: Results, tickets: dict[str, TicketRow]) -> list[str]:
    """Nothing lost, pending or failed; invariants; order on the hot event; seats and
    waitlists in apply order on every event."""
    conn = bench.stack.conn
    problems = verify.tickets_settled(conn, None, None)
    missing = [t for t in results.ids if t is not None and t not in tickets]
    if missing:
        problems.append(f"{len(missing)} accepted hot tickets are missing, e.g. {missing[:3]}")
    problems += verify.invariants(bench.stack.sessions)
    problems += verify.acceptance_order(conn, results, [HOT] * len(results))
    problems += verify.register_only_outcomes(conn)
    return problems
