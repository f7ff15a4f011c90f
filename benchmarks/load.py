"""The load generator: threads with one `requests.Session` each, in one or several processes.

One Python process may not saturate the API (the GIL: a `requests` call costs the client about
as much CPU as a cheap endpoint costs the server), so the same generator can run in several
processes. The HTTP limit is measured with this very generator, so a ratio against it compares
like with like.

Two shapes:
- closed loop (`run_closed`): N clients, each sends its next call as soon as the previous one
  answered. Measures how fast the system accepts.
- open loop (`run_open`): arrivals on a fixed random schedule, whatever the system does; each
  arrival sends its command and then long-polls its ticket (`GET /tickets/{id}?wait=30`).
  Measures latency at a given rate without letting a slow answer delay the next arrival. It
  runs on asyncio with the raw HTTP/1.1 client of `benchmarks.rawhttp` (an arrival costs a
  coroutine, not a thread): at a fixed rate the generator's CPU is taken from the system it
  measures, so it must be small.

Times are `time.monotonic()` (CLOCK_MONOTONIC, one clock for every process on the machine),
so sends and answers from several processes can be compared to check acceptance order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import multiprocessing
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import requests

from benchmarks.rawhttp import Connection, HttpError

NAN = float("nan")
REQUEST_TIMEOUT = 40.0  # above the longest long-poll (30 s)
BARRIER_TIMEOUT = 120.0

Extract = Literal["ticket", "batch", "none"]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes | None = None


def json_call(method: str, path: str, body: Any = None) -> Call:
    return Call(method, path, None if body is None else json.dumps(body).encode())


@dataclass
class Results:
    """Column-oriented (cheap to pickle between processes): entry i is call i."""

    sent: list[float]
    answered: list[float]
    status: list[int]
    ids: list[str | None]  # the ticketId or batchId of a 202
    scheduled: list[float]  # open loop: when the arrival was due
    done: list[float]  # open loop: when the long-poll returned
    outcome: list[str | None]  # open loop: the ticket's status after the long-poll
    errors: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls, count: int) -> Results:
        return cls(
            sent=[NAN] * count,
            answered=[NAN] * count,
            status=[0] * count,
            ids=[None] * count,
            scheduled=[NAN] * count,
            done=[NAN] * count,
            outcome=[None] * count,
        )

    def __len__(self) -> int:
        return len(self.sent)

    def place(self, part: Results, positions: Sequence[int]) -> None:
        for local, index in enumerate(positions):
            self.sent[index] = part.sent[local]
            self.answered[index] = part.answered[local]
            self.status[index] = part.status[local]
            self.ids[index] = part.ids[local]
            self.scheduled[index] = part.scheduled[local]
            self.done[index] = part.done[local]
            self.outcome[index] = part.outcome[local]
        self.errors.extend(part.errors)

    def count_status(self, status: int) -> int:
        return sum(1 for s in self.status if s == status)

    def span(self) -> float:
        """First send to last answer (seconds)."""
        sent = [s for s in self.sent if not math.isnan(s)]
        answered = [a for a in self.answered if not math.isnan(a)]
        if not sent or not answered:
            return NAN
        return max(answered) - min(sent)


@dataclass(frozen=True)
class Target:
    base_url: str
    api_key: str
    extract: Extract = "ticket"


def _session(target: Target) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {target.api_key}"
    session.headers["Content-Type"] = "application/json"
    return session


def _extract(response: requests.Response, extract: Extract) -> str | None:
    if extract == "none" or response.status_code != 202:
        return None
    body = json.loads(response.content)
    value = body.get("ticketId" if extract == "ticket" else "batchId")
    return str(value) if value is not None else None


def _note_error(results: Results, message: str) -> None:
    # a bounded sample: a benchmark that fails by the thousand needs only the first few
    if len(results.errors) < 20:
        results.errors.append(message)


# --- closed loop ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClosedSpec:
    target: Target
    calls: list[Call]
    clients: int
    time_limit: float


def _closed(spec: ClosedSpec, start: Callable[[], None]) -> Results:
    results = Results.empty(len(spec.calls))
    counter = itertools.count()
    warmed = threading.Barrier(spec.clients + 1)
    go = threading.Event()
    deadline = [math.inf]

    def client() -> None:
        session = _session(spec.target)
        base = spec.target.base_url
        # Open the keep-alive connection before the clock starts.
        try:
            session.get(base + "/live", timeout=REQUEST_TIMEOUT)
        except requests.RequestException as error:
            _note_error(results, f"warm-up: {error!r}")
        warmed.wait(BARRIER_TIMEOUT)
        go.wait(BARRIER_TIMEOUT)
        try:
            while True:
                index = next(counter)  # atomic under the GIL
                if index >= len(spec.calls) or time.monotonic() > deadline[0]:
                    return
                call = spec.calls[index]
                results.sent[index] = time.monotonic()
                try:
                    response = session.request(
                        call.method, base + call.path, data=call.body, timeout=REQUEST_TIMEOUT
                    )
                except requests.RequestException as error:
                    _note_error(results, f"{call.method} {call.path}: {error!r}")
                    continue
                results.answered[index] = time.monotonic()
                results.status[index] = response.status_code
                if response.status_code == 202:
                    results.ids[index] = _extract(response, spec.target.extract)
                else:
                    _note_error(results, f"{call.method} {call.path}: {response.status_code}")
        finally:
            session.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(spec.clients)]
    for thread in threads:
        thread.start()
    warmed.wait(BARRIER_TIMEOUT)
    start()  # every process warmed up: all start together
    deadline[0] = time.monotonic() + spec.time_limit
    go.set()
    for thread in threads:
        thread.join(spec.time_limit + REQUEST_TIMEOUT + 10)
    return results


# --- open loop --------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenSpec:
    target: Target
    calls: list[Call]
    offsets: list[float]  # when each call is due, seconds after the start
    threads: int
    wait: int  # the long-poll's ?wait=


def _open(spec: OpenSpec, start: Callable[[], None]) -> Results:
    """The open loop on one asyncio event loop with the raw HTTP/1.1 client: an arrival is a
    coroutine and a pooled keep-alive connection, not a thread, so the generator's own CPU (on
    a 2-core machine, taken from the system it measures) stays small and a slow answer never
    delays the next arrival."""
    return asyncio.run(_open_async(spec, start))


async def _open_async(spec: OpenSpec, start: Callable[[], None]) -> Results:
    results = Results.empty(len(spec.calls))
    address = urlsplit(spec.target.base_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    headers = {
        "Authorization": f"Bearer {spec.target.api_key}",
        "Content-Type": "application/json",
    }
    idle: list[Connection] = []

    async def arrival(index: int) -> None:
        call = spec.calls[index]
        connection = idle.pop() if idle else Connection(host, port, headers)
        results.sent[index] = time.monotonic()
        try:
            head, body = await asyncio.wait_for(
                connection.request(call.method, call.path, call.body or b""), REQUEST_TIMEOUT
            )
            results.answered[index] = time.monotonic()
            results.status[index] = head.status
            ticket_id = json.loads(body).get("ticketId") if head.status == 202 else None
            results.ids[index] = ticket_id
            if ticket_id is None:
                _note_error(results, f"{call.method} {call.path}: {head.status}")
                return
            head, body = await asyncio.wait_for(
                connection.request("GET", f"/tickets/{ticket_id}?wait={spec.wait}"),
                REQUEST_TIMEOUT,
            )
            results.done[index] = time.monotonic()
            if head.status == 200:
                results.outcome[index] = str(json.loads(body)["status"])
            else:
                _note_error(results, f"GET /tickets/{ticket_id}: {head.status}")
        except (OSError, HttpError, TimeoutError, ValueError) as error:
            connection.discard()
            _note_error(results, f"{call.method} {call.path}: {error!r}")
        finally:
            if connection.is_open:
                idle.append(connection)

    # Warm connections before the schedule starts, as many as are likely in use at once.
    warm = [Connection(host, port, headers) for _ in range(spec.threads)]
    await asyncio.gather(*(c.request("GET", "/live") for c in warm))
    idle.extend(warm)
    start()
    t0 = time.monotonic()
    pending: set[asyncio.Task[None]] = set()
    for index, offset in enumerate(spec.offsets):
        due = t0 + offset
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        results.scheduled[index] = due
        task = asyncio.create_task(arrival(index))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)
    for connection in idle:
        connection.discard()
    return results


def poisson_offsets(count: int, rate: float, seed: int = 7) -> list[float]:
    """Arrival times of a Poisson process (exponential gaps), reproducible by seed."""
    rng = random.Random(seed)  # noqa: S311 - a load schedule, not a secret
    moment = 0.0
    offsets = []
    for _ in range(count):
        moment += rng.expovariate(rate)
        offsets.append(moment)
    return offsets


# --- processes --------------------------------------------------------------------------


def _child(
    kind: str, slot: int, spec: Any, barrier: Any, queue: Any, *, started: Any = None
) -> None:
    """Entry point of a load process: run its share, send the results (or the error) back."""
    try:

        def start() -> None:
            barrier.wait(BARRIER_TIMEOUT)
            if started is not None:
                started.set()

        results = _closed(spec, start) if kind == "closed" else _open(spec, start)
        queue.put((slot, results))
    except BaseException as error:
        queue.put((slot, repr(error)))
        raise


def _split(count: int, parts: int) -> list[list[int]]:
    """Interleaved shares (i, i+P, i+2P, ...): every process works through the whole plan
    at the same pace, so its order is kept roughly across processes too."""
    return [list(range(p, count, parts)) for p in range(parts)]


def _run(
    kind: str, specs: list[Any], shares: list[list[int]], total: int, started: Any = None
) -> Results:
    """Run the shares (in this process if there is one, else one spawned process each);
    `started`, a multiprocessing Event, is set the moment the load starts."""
    merged = Results.empty(total)
    if len(specs) == 1:

        def start() -> None:
            if started is not None:
                started.set()

        part = _closed(specs[0], start) if kind == "closed" else _open(specs[0], start)
        merged.place(part, shares[0])
        return merged
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(specs))
    queue = context.Queue()
    processes = [
        context.Process(
            target=_child,
            args=(kind, slot, spec, barrier, queue),
            kwargs={"started": started},
            daemon=True,
        )
        for slot, spec in enumerate(specs)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            # The bound only protects against a child that died without a word: each child
            # bounds its own run by count and time.
            slot, payload = queue.get(timeout=3600)
            if not isinstance(payload, Results):
                raise RuntimeError(f"load process {slot} failed: {payload}")
            merged.place(payload, shares[slot])
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return merged


def run_closed(
    target: Target,
    calls: list[Call],
    clients: int,
    processes: int = 1,
    time_limit: float = 600.0,
    *,
    started: Any = None,
) -> Results:
    processes = max(1, min(processes, clients))
    shares = _split(len(calls), processes)
    per_process = [
        clients // processes + (1 if p < clients % processes else 0) for p in range(processes)
    ]
    specs = [
        ClosedSpec(target, [calls[i] for i in share], per_process[p], time_limit)
        for p, share in enumerate(shares)
    ]
    return _run("closed", specs, shares, len(calls), started)


def run_open(
    target: Target,
    calls: list[Call],
    *,
    offsets: list[float],
    threads: int,
    processes: int = 1,
    wait: int = 30,
) -> Results:
    processes = max(1, processes)
    shares = _split(len(calls), processes)
    specs = [
        OpenSpec(
            target,
            [calls[i] for i in share],
            [offsets[i] for i in share],
            max(1, threads // processes),
            wait,
        )
        for share in shares
    ]
    return _run("open", specs, shares, len(calls))
