"""Few clients, each waiting for its own answers (issue 27): `few-clients` and `sequential`,
each run against Tessera and then against the in-memory reference (`benchmarks.memory_app`)
in the same run with the same client loop, and `memory-hot`, the reference's figure for the
requests of `hot`.

The client loop. Each of `loop_clients` clients owns `loop_users` users and `loop_events`
events (capacity `loop_capacity`, waitlist on: fewer seats than users, so there are lines and
promotions). It picks one of its (user, event) pairs at random and sends `register` if it last
left that pair out, `unregister` if it last put it in: every command is applied (never denied),
and an unregister of a seated user with a line promotes its head. It sends its next command
- `few-clients`: as soon as the previous 202 arrives;
- `sequential`: once `GET /tickets/{id}?wait=30`, repeated while the ticket is pending, has
  answered it done. Every ticket is long-polled at least once, the reference's too (its 202
  already says completed): the same client on both servers.
Clients stop sending after `loop_seconds`. They are asyncio coroutines, each with one keep-alive
connection (`benchmarks.rawhttp.Connection`), split over `bench.load_processes` processes (one
event loop each), as the open loop of `benchmarks.load` is. Each client owns its events, so
the reference, whose state is per gunicorn process, stays right (see `benchmarks.memory_app`).

The figures, defined the same way for both servers:
- completed/s: the commands whose ticket completed, divided by the time from the start (all
  clients go at once) to the last completion, as the server stamped it on the ticket
  (`completedAt`; for Tessera, read from the database once every ticket is applied, so the
  applier's tail after the last 202 is counted; for the reference, the 202's own ticket);
- round trip p50/p99: from sending a command to its 202;
- `sequential`'s 202→done p50/p99: from the 202 arriving to the long-poll answering the
  ticket done.
Each scenario reports Tessera's figures, the reference's (`memory*`) and the ratio (`vsMemory`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import multiprocessing
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from benchmarks import verify
from benchmarks.harness import (
    Bench,
    Figures,
    ScenarioResult,
    accepted_figures,
    common_checks,
    ms,
    per_second,
    percentile,
    settle,
)
from benchmarks.load import BARRIER_TIMEOUT, REQUEST_TIMEOUT, Results, Target, json_call, run_closed
from benchmarks.rawhttp import Connection, HttpError
from benchmarks.stack import BenchStack, CpuMeter
from tessera.tools.processes import api_argv
from tessera.tools.servers import free_port

NAN = float("nan")
LONG_POLL_WAIT = 30
MAX_ERRORS = 20
ALLOWED = {"register": {"registered", "waitlisted"}, "unregister": {"unregistered"}}


@dataclass(frozen=True)
class ClientPlan:
    users: tuple[str, ...]
    events: tuple[str, ...]
    seed: int


@dataclass(frozen=True)
class LoopSpec:
    """One load process's share of the clients."""

    base_url: str
    api_key: str
    plans: tuple[ClientPlan, ...]
    seconds: float
    long_poll: bool
    create_capacity: int | None  # the reference: create each client's events with this
    give_up: float  # the most a long-poll loop may wait for one ticket


@dataclass
class Command:
    kind: str
    event_id: str
    user_id: str
    sent: float
    answered: float = NAN
    status: int = 0
    ticket_id: str | None = None
    ticket_status: str | None = None  # as last seen by the client (202 or long-poll)
    result: dict[str, Any] | None = None
    completed_at: str | None = None  # the ticket's `completedAt` as last seen by the client
    done: float = NAN  # sequential: when the long-poll answered it done


@dataclass
class LoopResults:
    commands: list[Command] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    started_wall: float = NAN  # time.time() when the clients went
    started: float = NAN  # time.monotonic() then

    def note(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)

    def merge(self, other: LoopResults) -> None:
        self.commands.extend(other.commands)
        self.errors.extend(other.errors[: max(0, MAX_ERRORS - len(self.errors))])
        self.started_wall = min(self.started_wall, other.started_wall)
        self.started = min(self.started, other.started)


def plans(clients: int, users: int, events: int, seed: int = 27) -> list[ClientPlan]:
    return [
        ClientPlan(
            tuple(f"L{c:02d}u{u:03d}" for u in range(users)),
            tuple(f"L{c:02d}e{e:02d}" for e in range(events)),
            seed * 1000 + c,
        )
        for c in range(clients)
    ]


# --- the client loop ------------------------------------------------------------------


async def _client(
    spec: LoopSpec, plan: ClientPlan, out: LoopResults, ready: asyncio.Event, go: asyncio.Event
) -> None:
    address = urlsplit(spec.base_url)
    headers = {"Authorization": f"Bearer {spec.api_key}", "Content-Type": "application/json"}
    connection = Connection(address.hostname or "127.0.0.1", address.port or 80, headers)
    rng = random.Random(plan.seed)  # noqa: S311 - a load, not a secret
    inside: set[tuple[str, str]] = set()
    try:
        # Before the clock: the keep-alive connection, and the reference's events on it.
        await asyncio.wait_for(connection.request("GET", "/live"), REQUEST_TIMEOUT)
        for event_id in plan.events if spec.create_capacity is not None else ():
            body = json.dumps({"capacity": spec.create_capacity, "waitlistEnabled": True})
            path = f"/bench/events/{event_id}"
            head, answer = await asyncio.wait_for(
                connection.request("PUT", path, body.encode()), REQUEST_TIMEOUT
            )
            if head.status != 201:
                out.note(f"creating {event_id}: {head.status} {answer[:200]!r}")
                return
    except (OSError, HttpError, TimeoutError) as error:
        out.note(f"warm-up: {error!r}")
        return
    finally:
        ready.set()
    await go.wait()
    deadline = out.started + spec.seconds
    try:
        while time.monotonic() < deadline:
            user_id, event_id = rng.choice(plan.users), rng.choice(plan.events)
            pair = (user_id, event_id)
            command = Command("unregister" if pair in inside else "register", event_id, user_id, 0)
            out.commands.append(command)
            if not await _send(connection, command, out):
                return
            inside ^= {pair}
            if spec.long_poll and not await _long_poll(connection, command, spec.give_up, out):
                return
    except (OSError, HttpError, TimeoutError, ValueError) as error:
        # one broken connection ends this client: reconnecting could reach another process
        # of the reference, which does not hold this client's events
        out.note(f"{error!r}")
    finally:
        connection.discard()


async def _send(connection: Connection, command: Command, out: LoopResults) -> bool:
    if command.kind == "register":
        path = f"/events/{command.event_id}/registrations"
        body = json.dumps({"userId": command.user_id}).encode()
        method = "POST"
    else:
        path, body = f"/events/{command.event_id}/registrations/{command.user_id}", b""
        method = "DELETE"
    command.sent = time.monotonic()
    head, answer = await asyncio.wait_for(connection.request(method, path, body), REQUEST_TIMEOUT)
    command.answered = time.monotonic()
    command.status = head.status
    if head.status != 202:
        out.note(f"{method} {path}: {head.status} {answer[:200]!r}")
        return False
    _saw(command, json.loads(answer))
    return True


async def _long_poll(
    connection: Connection, command: Command, give_up: float, out: LoopResults
) -> bool:
    path = f"/tickets/{command.ticket_id}?wait={LONG_POLL_WAIT}"
    until = time.monotonic() + give_up
    while True:
        head, answer = await asyncio.wait_for(connection.request("GET", path), REQUEST_TIMEOUT)
        if head.status != 200:
            out.note(f"GET {path}: {head.status} {answer[:200]!r}")
            return False
        _saw(command, json.loads(answer))
        if command.ticket_status != "pending":
            command.done = time.monotonic()
            return True
        if time.monotonic() > until:
            out.note(f"ticket {command.ticket_id} still pending after {give_up:.0f} s")
            return False


def _saw(command: Command, ticket: dict[str, Any]) -> None:
    command.ticket_id = str(ticket["ticketId"])
    command.ticket_status = str(ticket["status"])
    command.result = ticket.get("result")
    command.completed_at = ticket.get("completedAt")


async def _process(spec: LoopSpec, start: Callable[[], None]) -> LoopResults:
    out = LoopResults()
    ready = [asyncio.Event() for _ in spec.plans]
    go = asyncio.Event()
    tasks = [
        asyncio.create_task(_client(spec, plan, out, r, go))
        for plan, r in zip(spec.plans, ready, strict=True)
    ]
    for event in ready:
        await event.wait()
    start()  # every load process warmed up: all go together
    out.started_wall, out.started = time.time(), time.monotonic()
    go.set()
    await asyncio.gather(*tasks)
    return out


def _child(spec: LoopSpec, barrier: Any, queue: Any) -> None:
    try:
        queue.put(asyncio.run(_process(spec, lambda: barrier.wait(BARRIER_TIMEOUT))))
    except BaseException as error:
        queue.put(repr(error))
        raise


def run_loops(spec: LoopSpec, processes: int) -> LoopResults:
    """The clients of `spec`, in `processes` load processes (interleaved shares)."""
    processes = max(1, min(processes, len(spec.plans)))
    if processes == 1:
        return asyncio.run(_process(spec, lambda: None))
    shares = [
        LoopSpec(
            spec.base_url, spec.api_key, spec.plans[p::processes], spec.seconds,
            spec.long_poll, spec.create_capacity, spec.give_up,
        )
        for p in range(processes)
    ]  # fmt: skip
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    queue = context.Queue()
    children = [
        context.Process(target=_child, args=(share, barrier, queue), daemon=True)
        for share in shares
    ]
    for child in children:
        child.start()
    merged = LoopResults(started_wall=math.inf, started=math.inf)
    try:
        for _ in children:
            payload = queue.get(timeout=spec.seconds + spec.give_up + 2 * BARRIER_TIMEOUT)
            if not isinstance(payload, LoopResults):
                raise RuntimeError(f"a load process failed: {payload}")
            merged.merge(payload)
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    return merged


# --- the reference app ----------------------------------------------------------------


@contextlib.contextmanager
def serving_memory_app(stack: BenchStack, factory: str = "create()") -> Iterator[str]:
    """The in-memory app on a free port, under the API's own gunicorn argv (config, bind,
    worker class and processes: only the app differs); its base URL while the block runs."""
    port = free_port()
    argv = api_argv("127.0.0.1", port)
    if argv[-1] != "api.wsgi:create()":
        raise RuntimeError(f"unexpected gunicorn argv shape: {argv}")
    argv[-1] = f"benchmarks.memory_app:{factory}"
    stack.local.spawn("memory", argv)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(base + "/live", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the in-memory app did not start")
            time.sleep(0.1)
        yield base
    finally:
        stack.local.stop("memory")


# --- figures and checks -----------------------------------------------------------------


def _wall(stamp: str | dt.datetime | None) -> float:
    if stamp is None:
        return NAN
    moment = dt.datetime.fromisoformat(stamp) if isinstance(stamp, str) else stamp
    return moment.timestamp()


def _figures(results: LoopResults, completed_at: dict[str, float], long_poll: bool) -> Figures:
    """`completed_at`: each completed ticket's completion (wall-clock seconds)."""
    accepted = [c for c in results.commands if c.status == 202 and c.ticket_id is not None]
    done = [completed_at[c.ticket_id] for c in accepted if c.ticket_id in completed_at]
    span = max(done) - results.started_wall if done else NAN
    trips = [c.answered - c.sent for c in accepted]
    figures: Figures = {
        "commands": len(results.commands),
        "completed": len(done),
        "completedPerS": per_second(len(done), span),
        "spanS": None if math.isnan(span) else round(span, 2),
        "roundTripP50Ms": ms(percentile(trips, 0.5)),
        "roundTripP99Ms": ms(percentile(trips, 0.99)),
    }
    if long_poll:
        waits = [c.done - c.answered for c in accepted]
        cycles = [c.done - c.sent for c in accepted]
        figures |= {
            "latencyP50Ms": ms(percentile(waits, 0.5)),
            "latencyP99Ms": ms(percentile(waits, 0.99)),
            "cycleP50Ms": ms(percentile(cycles, 0.5)),
        }
    return figures


def _as_load_results(commands: Sequence[Command]) -> Results:
    """The loop's records in the load generator's shape, for the shared order check."""
    results = Results.empty(len(commands))
    for index, command in enumerate(commands):
        results.sent[index] = command.sent
        results.answered[index] = command.answered
        results.status[index] = command.status
        results.ids[index] = command.ticket_id
    return results


def _replay(commands: Sequence[Command], capacity: int) -> list[str]:
    """The reference's results against the project's pure rules, replayed per event in send
    order (each event has one client, which sends one command at a time): the reference must
    apply the same rule it is the ceiling of."""
    from models.domain.results import result_of
    from models.domain.rules import EventSeats, Register, Unregister

    events: dict[str, EventSeats] = defaultdict(
        lambda: EventSeats.empty(capacity, waitlist_enabled=True)
    )
    now = dt.datetime.now(dt.UTC)
    problems: list[str] = []
    compared = ("status", "code", "position", "promotedUserIds")
    for command in sorted(commands, key=lambda c: c.sent):
        if command.status != 202 or command.result is None:
            continue
        seats = events[command.event_id]
        rule = (
            Register(command.user_id, 1, now)
            if command.kind == "register"
            else Unregister(command.user_id, now)
        )
        expected = result_of(seats.handle(rule))
        if any(command.result.get(k) != expected[k] for k in compared) and len(problems) < 10:
            problems.append(
                f"memory app: {command.kind} of {command.user_id} at {command.event_id} gave "
                f"{ {k: command.result.get(k) for k in compared} }, the rules give "
                f"{ {k: expected[k] for k in compared} }"
            )
    return problems


def _outcomes(commands: Sequence[Command]) -> list[str]:
    """Every command was applied as the loop planned it: registers seated or waitlisted,
    unregisters found their user."""
    wrong = [
        c
        for c in commands
        if c.status == 202
        and c.ticket_status == "completed"
        and (c.result or {}).get("status") not in ALLOWED[c.kind]
    ]
    if not wrong:
        return []
    first = wrong[0]
    return [f"{len(wrong)} commands ended otherwise than planned, e.g. {first.kind} {first.result}"]


def _planned_in_database(stack: BenchStack) -> list[str]:
    """Tessera's tickets, as `_outcomes` checks the reference's (the loop reads no results)."""
    return [
        f"tessera: {count} {kind} tickets ended {status}"
        for kind, status, count in stack.conn.execute(
            "SELECT type, result->>'status', count(*) FROM tickets GROUP BY 1, 2"
        )
        if status not in ALLOWED.get(kind, set())
    ]


def _loop_problems(results: LoopResults, label: str) -> list[str]:
    problems = [f"{label}: {e}" for e in results.errors[:5]]
    refused = sum(1 for c in results.commands if c.status != 202)
    if refused:
        problems.append(f"{label}: {refused} commands not accepted with 202")
    if not results.commands:
        problems.append(f"{label}: no command was sent")
    return problems


# --- scenarios --------------------------------------------------------------------------


def few_clients(bench: Bench) -> ScenarioResult:
    """16 closed-loop clients, the next command as soon as the previous 202 returns."""
    return _against_both(bench, "few-clients", long_poll=False)


def sequential(bench: Bench) -> ScenarioResult:
    """The same clients, each long-polling every ticket done before its next command."""
    return _against_both(bench, "sequential", long_poll=True)


def _against_both(bench: Bench, name: str, *, long_poll: bool) -> ScenarioResult:
    stack, scale = bench.stack, bench.scale
    clients = plans(scale.loop_clients, scale.loop_users, scale.loop_events)

    def spec(base_url: str, create: bool) -> LoopSpec:
        return LoopSpec(
            base_url, stack.admin_key, tuple(clients), scale.loop_seconds, long_poll,
            scale.loop_capacity if create else None, scale.apply_timeout,
        )  # fmt: skip

    # Tessera
    stack.wipe()
    stack.seed_users(u for plan in clients for u in plan.users)
    stack.seed_events([e for plan in clients for e in plan.events], scale.loop_capacity)
    with CpuMeter(stack) as cpu:
        ours = run_loops(spec(stack.base_url, create=False), bench.load_processes)
        problems = settle(bench)
    completed_at = {
        ticket_id: _wall(at)
        for ticket_id, at in stack.conn.execute(
            "SELECT ticket_id, completed_at FROM tickets WHERE status = 'completed'"
        )
    }
    figures = _figures(ours, completed_at, long_poll)
    problems += _loop_problems(ours, "tessera")
    accepted = [c for c in ours.commands if c.status == 202]
    problems += common_checks(
        bench, _as_load_results(accepted), [c.event_id for c in accepted], len(accepted)
    )
    problems += verify.replayed_outcomes(stack.conn)
    problems += _planned_in_database(stack)
    if long_poll:
        not_done = sum(1 for c in accepted if c.ticket_status != "completed")
        if not_done:
            problems.append(f"tessera: {not_done} long-polls did not end completed")
    figures["cpuMsPerCommand"] = cpu.per_command_ms(len(accepted))

    # The reference, with the same clients
    with serving_memory_app(stack) as base, CpuMeter(stack) as memory_cpu:
        theirs = run_loops(spec(base, create=True), bench.load_processes)
    memory_done = {
        str(c.ticket_id): _wall(c.completed_at)
        for c in theirs.commands
        if c.ticket_status == "completed" and c.completed_at is not None
    }
    memory = _figures(theirs, memory_done, long_poll)
    problems += _loop_problems(theirs, "memory app")
    problems += _outcomes(theirs.commands)
    problems += _replay(theirs.commands, scale.loop_capacity)
    memory["cpuMsPerCommand"] = memory_cpu.per_command_ms(len(theirs.commands))

    figures |= {
        "clients": len(clients),
        "loadProcesses": min(bench.load_processes, len(clients)),
        "memoryCompletedPerS": memory["completedPerS"],
        "vsMemory": _share(figures["completedPerS"], memory["completedPerS"]),
        "memoryRoundTripP50Ms": memory["roundTripP50Ms"],
        "memory": memory,
    }
    if long_poll:
        figures["memoryLatencyP50Ms"] = memory["latencyP50Ms"]
        figures["memoryLatencyP99Ms"] = memory["latencyP99Ms"]
        figures["memoryCycleP50Ms"] = memory["cycleP50Ms"]
    return ScenarioResult(name, "", "ok", figures, problems)


def _share(measured: float | None, reference: float | None) -> float | None:
    return None if measured is None or not reference else round(measured / reference, 3)


def memory_hot(bench: Bench) -> ScenarioResult:
    """The requests of `hot` (one event, every client at once, distinct users), sent by the
    same closed-loop generator to the in-memory app: the accepted/s hot is compared with."""
    stack, scale = bench.stack, bench.scale
    count = scale.hot_registers
    calls = [
        json_call("POST", "/events/hot/registrations", {"userId": f"h{i:06d}"})
        for i in range(count)
    ]
    factory = f"create(events={{'hot': {scale.hot_capacity}}})"
    with serving_memory_app(stack, factory) as base, CpuMeter(stack) as cpu:
        results = run_closed(
            Target(base, stack.admin_key, "ticket"),
            calls,
            scale.clients,
            bench.load_processes,
            scale.scenario_time_limit,
        )
    problems = []
    if results.count_status(202) != count:
        refused = count - results.count_status(202)
        problems.append(f"{refused} requests refused: {results.errors[:3]}")
    figures = {
        "commands": count,
        **accepted_figures(results),
        "cpuMsPerCommand": cpu.per_command_ms(count),
    }
    return ScenarioResult("memory-hot", "", "ok", figures, problems)
