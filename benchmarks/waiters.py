"""The waiter generator: thousands of open long-polls and SSE streams held by one asyncio process.

A waiter costs this process a socket and a coroutine (no thread, no `requests.Session`), so
3,000 of them fit in one process on a small machine, beside the ordinary load generator. The
process is driven by its parent in steps:

1. open the SSE streams (`GET /events/{id}/updates`), report `("streams", summary)`;
2. receive the ticket ids to long-poll, send one `GET /tickets/{id}?wait=N` each (re-polled
   while the answer is still pending), report `("ready", summary)`;
3. when `go` is set (the hot load has started), send one register per release event on a
   schedule: the first command on an event whose tickets were parked wakes it;
4. on `("stop",)` (or at its deadline) close everything and send back `("results", ...)`.

Every arrival is stamped with the wall clock (`time.time()`), to compare with the tickets'
`completedAt`, stamped by the worker on the same machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import multiprocessing
import queue
import re
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.rawhttp import Connection, HttpError, SseParser

NAN = float("nan")
RETRY_SECONDS = 1.0  # as the stream's own `retry:`; also the pause after a refused long-poll
CONTROL_SECONDS = 0.02
TIMELINE_SECONDS = 0.5
LAG_TICK_SECONDS = 0.1
_TICKET_ID = re.compile(r'"ticketId"\s*:\s*"([^"]+)"')
_COMPLETED_AT = re.compile(r'"completedAt"\s*:\s*"([^"]+)"')


@dataclass(frozen=True)
class WaiterPlan:
    host: str
    port: int
    api_key: str
    streams: list[str]  # the event id of each SSE stream
    poll_wait: int  # the long-poll's ?wait=
    release_events: list[str]  # released one by one, in this order, after `go`
    release_user: str  # registered on each release event (a user not parked there)
    release_delay: float  # seconds after `go` before the first release
    release_seconds: float  # from the first release to the last
    open_timeout: float  # for each opening step
    deadline: float  # seconds after the start: stop whatever happens
    connect_concurrency: int = 200  # connections being opened at once (no SYN flood)


@dataclass
class PollRecord:
    ticket_id: str
    first_sent: float = NAN  # wall clock of the first request
    sent: float = NAN  # wall clock of the request that got the final answer
    answered: float = NAN  # wall clock of the final (not pending) answer
    outcome: str | None = None  # the ticket's status in the final answer
    completed_at: str | None = None  # as the answer gave it
    answers: int = 0  # responses received, pending ones included
    refusals: list[int] = field(default_factory=list)  # statuses other than 200
    errors: int = 0
    last_error: str | None = None
    waiting: bool = False  # a request is out and unanswered


@dataclass
class StreamRecord:
    event_id: str
    status: int | None = None  # HTTP status of the first answer (None: never answered)
    established: float = NAN  # wall clock of the first 200 head
    ticket_ids: list[str] = field(default_factory=list)  # ticket.completed messages, in order
    received: list[float] = field(default_factory=list)  # wall clock of each
    completed_at: list[str | None] = field(default_factory=list)  # from the data, if given
    messages: int = 0  # every message, other kinds included
    reconnects: int = 0
    errors: int = 0
    last_error: str | None = None
    open: bool = False


@dataclass
class ReleaseRecord:
    event_id: str
    sent: float = NAN  # wall clock
    seconds: float = NAN  # send to answer
    status: int = 0
    ticket_id: str | None = None
    error: str | None = None


@dataclass
class WaiterResults:
    polls: list[PollRecord]
    streams: list[StreamRecord]
    releases: list[ReleaseRecord]
    timeline: list[tuple[float, int, int]]  # (seconds after go, long-polls open, streams open)
    go_wall: float
    open_seconds: float  # from the start to every waiter sent
    loop_lag_max_ms: float
    loop_lag_p99_ms: float
    cpu_seconds: float  # this process's own user + system time
    stopped_by: str  # "parent" or "deadline"
    stopped_wall: float = NAN  # wall clock when the waiters stopped listening


class _Stopped(Exception):
    pass


class _Waiters:
    """The event loop's side: every waiter's coroutine and the parent's control messages."""

    def __init__(self, plan: WaiterPlan, inbox: Any, outbox: Any, go: Any) -> None:
        self.plan = plan
        self.inbox = inbox
        self.outbox = outbox
        self.go = go
        self.headers = {"Authorization": f"Bearer {plan.api_key}", "Connection": "keep-alive"}
        self.started = time.monotonic()
        self.stop = asyncio.Event()
        self.stopped_by = "parent"
        self.connecting = asyncio.Semaphore(plan.connect_concurrency)
        self.streams = [StreamRecord(event_id) for event_id in plan.streams]
        self.polls: list[PollRecord] = []
        self.releases: list[ReleaseRecord] = []
        self.timeline: list[tuple[float, int, int]] = []
        self.lags: list[float] = []
        self.go_mono = math.inf
        self.go_wall = NAN
        self.messages: list[tuple[Any, ...]] = []

    def connection(self) -> Connection:
        return Connection(self.plan.host, self.plan.port, self.headers)

    # --- control ---------------------------------------------------------------------------

    async def control(self) -> None:
        """Reads the parent's messages and `go`, and enforces the deadline."""
        while not self.stop.is_set():
            if time.monotonic() - self.started > self.plan.deadline:
                self.stopped_by = "deadline"
                self.stop.set()
                return
            if self.go_mono == math.inf and self.go.is_set():
                self.go_mono, self.go_wall = time.monotonic(), time.time()
            with contextlib.suppress(queue.Empty):
                message = self.inbox.get_nowait()
                if message[0] == "stop":
                    self.stop.set()
                    return
                self.messages.append(message)
            await asyncio.sleep(CONTROL_SECONDS)

    async def until(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.stop.is_set():
                raise _Stopped
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(CONTROL_SECONDS)
        return True

    async def sampler(self) -> None:
        """Open waiters every half second (after `go`) and how late the loop wakes up: a
        starved generator would make the server look slow."""
        next_sample = 0.0
        while not self.stop.is_set():
            before = time.monotonic()
            await asyncio.sleep(LAG_TICK_SECONDS)
            now = time.monotonic()
            self.lags.append(max(0.0, now - before - LAG_TICK_SECONDS))
            if now >= self.go_mono and now >= next_sample:
                next_sample = now + TIMELINE_SECONDS
                self.timeline.append(
                    (
                        round(now - self.go_mono, 2),
                        sum(1 for p in self.polls if p.waiting),
                        sum(1 for s in self.streams if s.open),
                    )
                )

    # --- waiters -----------------------------------------------------------------------------

    async def stream(self, record: StreamRecord) -> None:
        """One SSE stream, reconnecting with Last-Event-ID when the server ends it (as a
        browser's EventSource does); a refusal (not 200) ends it for good."""
        connection = self.connection()
        parser = SseParser()
        path = f"/events/{record.event_id}/updates"
        try:
            while not self.stop.is_set():
                headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
                if parser.last_id is not None:
                    headers["Last-Event-ID"] = parser.last_id
                try:
                    async with self.connecting:
                        await connection.open()
                        await connection.send("GET", path, headers=headers)
                    head = await connection.read_head()
                    if record.status is None:
                        record.status = head.status
                    if head.status != 200:
                        return
                    if math.isnan(record.established):
                        record.established = time.time()
                    record.open = True
                    async for chunk in connection.body_chunks(head):
                        now = time.time()
                        for message in parser.feed(chunk):
                            record.messages += 1
                            if message.event != "ticket.completed":
                                continue
                            ticket = _TICKET_ID.search(message.data)
                            if ticket is None:
                                continue
                            done = _COMPLETED_AT.search(message.data)
                            record.ticket_ids.append(ticket.group(1))
                            record.received.append(now)
                            record.completed_at.append(done.group(1) if done else None)
                    record.reconnects += 1  # the server ended the stream
                except (OSError, HttpError) as error:
                    record.errors += 1
                    record.last_error = repr(error)
                record.open = False
                connection.discard()
                await asyncio.sleep(RETRY_SECONDS)
        finally:
            record.open = False
            connection.discard()

    async def poll(self, record: PollRecord) -> None:
        """Long-poll one ticket until an answer says it is no longer pending."""
        connection = self.connection()
        path = f"/tickets/{record.ticket_id}?wait={self.plan.poll_wait}"
        try:
            while not self.stop.is_set():
                try:
                    async with self.connecting:
                        if not connection.is_open:
                            await connection.open()
                        record.sent = time.time()
                        if math.isnan(record.first_sent):
                            record.first_sent = record.sent
                        record.waiting = True
                        await connection.send("GET", path)
                    head = await connection.read_head()
                    body = await connection.read_body(head)
                    now = time.time()
                    record.waiting = False
                    record.answers += 1
                    if head.status != 200:
                        record.refusals.append(head.status)
                        await asyncio.sleep(RETRY_SECONDS)
                        continue
                    ticket = json.loads(body)
                    if ticket.get("status") != "pending":
                        record.answered = now
                        record.outcome = str(ticket.get("status"))
                        record.completed_at = ticket.get("completedAt")
                        return
                except (OSError, HttpError, ValueError) as error:
                    record.waiting = False
                    record.errors += 1
                    record.last_error = repr(error)
                    connection.discard()
                    await asyncio.sleep(RETRY_SECONDS)
        finally:
            record.waiting = False
            connection.discard()

    async def release(self) -> None:
        """After `go`: one register on each release event, evenly spaced."""
        await self.until(lambda: self.go_mono < math.inf, math.inf)
        events = self.plan.release_events
        spacing = self.plan.release_seconds / max(1, len(events) - 1)
        sends = []
        for index, event_id in enumerate(events):
            due = self.go_mono + self.plan.release_delay + index * spacing
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            record = ReleaseRecord(event_id)
            self.releases.append(record)
            sends.append(asyncio.create_task(self._release_one(record)))
        await asyncio.gather(*sends)

    async def _release_one(self, record: ReleaseRecord) -> None:
        connection = self.connection()
        body = json.dumps({"userId": self.plan.release_user}).encode()
        started = time.monotonic()
        record.sent = time.time()
        try:
            head, answer = await connection.request(
                "POST",
                f"/events/{record.event_id}/registrations",
                body,
                {"Content-Type": "application/json"},
            )
            record.seconds = time.monotonic() - started
            record.status = head.status
            if head.status == 202:
                record.ticket_id = str(json.loads(answer)["ticketId"])
        except (OSError, HttpError, ValueError, KeyError) as error:
            record.error = repr(error)
        finally:
            connection.discard()

    # --- the steps ---------------------------------------------------------------------------

    async def run(self) -> WaiterResults:
        tasks: list[asyncio.Task[None]] = [
            asyncio.create_task(self.control()),
            asyncio.create_task(self.sampler()),
        ]
        try:
            tasks += [asyncio.create_task(self.stream(s)) for s in self.streams]
            await self.until(lambda: all(s.status is not None or s.errors for s in self.streams),
                             self.plan.open_timeout)  # fmt: skip
            self.outbox.put(("streams", _stream_summary(self.streams)))
            await self.until(lambda: any(m[0] == "tickets" for m in self.messages), math.inf)
            ticket_ids: list[str] = next(m[1] for m in self.messages if m[0] == "tickets")
            self.polls = [PollRecord(ticket_id) for ticket_id in ticket_ids]
            tasks += [asyncio.create_task(self.poll(p)) for p in self.polls]
            await self.until(lambda: all(not math.isnan(p.first_sent) for p in self.polls),
                             self.plan.open_timeout)  # fmt: skip
            open_seconds = time.monotonic() - self.started
            self.outbox.put(("ready", _poll_summary(self.polls) | {"openSeconds": open_seconds}))
            tasks.append(asyncio.create_task(self.release()))
            await self.stop.wait()
        except _Stopped:
            open_seconds = time.monotonic() - self.started
        finally:
            stopped_wall = time.time()
            self.stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        lags = sorted(self.lags) or [0.0]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return WaiterResults(
            polls=self.polls,
            streams=self.streams,
            releases=self.releases,
            timeline=self.timeline,
            go_wall=self.go_wall,
            open_seconds=round(open_seconds, 2),
            loop_lag_max_ms=round(1000 * lags[-1], 1),
            loop_lag_p99_ms=round(1000 * lags[max(0, math.ceil(0.99 * len(lags)) - 1)], 1),
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            stopped_by=self.stopped_by,
            stopped_wall=stopped_wall,
        )


def _stream_summary(streams: list[StreamRecord]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for record in streams:
        key = str(record.status) if record.status is not None else "no answer"
        statuses[key] = statuses.get(key, 0) + 1
    return {"streams": len(streams), "statuses": statuses}


def _poll_summary(polls: list[PollRecord]) -> dict[str, Any]:
    return {
        "longPolls": len(polls),
        "sent": sum(1 for p in polls if not math.isnan(p.first_sent)),
        "alreadyAnswered": sum(1 for p in polls if p.outcome is not None),
    }


def _entry(plan: WaiterPlan, inbox: Any, outbox: Any, go: Any) -> None:
    """The process's entry point (spawned): run, then send the results or the error back."""
    try:
        results = asyncio.run(_Waiters(plan, inbox, outbox, go).run())
        outbox.put(("results", results))
    except BaseException as error:
        outbox.put(("error", f"{error!r}\n{traceback.format_exc()[-2000:]}"))
        raise


class WaiterProcess:
    """The parent's handle on the waiter generator."""

    def __init__(self, plan: WaiterPlan, go: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.inbox: Any = context.Queue()  # parent -> child
        self.outbox: Any = context.Queue()  # child -> parent
        self.process = context.Process(
            target=_entry, args=(plan, self.inbox, self.outbox, go), daemon=True
        )

    def start(self) -> None:
        self.process.start()

    def expect(self, kind: str, timeout: float) -> Any:
        """The child's next message, which must be `kind`."""
        try:
            got, payload = self.outbox.get(timeout=timeout)
        except queue.Empty as error:
            message = f"no {kind!r} from the waiter generator in {timeout:.0f} s"
            raise RuntimeError(message) from error
        if got != kind:
            raise RuntimeError(f"the waiter generator failed: {payload}")
        return payload

    def send_tickets(self, ticket_ids: list[str]) -> None:
        self.inbox.put(("tickets", ticket_ids))

    def finish(self, timeout: float) -> WaiterResults:
        self.inbox.put(("stop",))
        results: WaiterResults = self.expect("results", timeout)
        self.process.join(timeout=30)
        return results

    def close(self) -> None:
        """Make sure the child is gone (after `finish`, or after a failure)."""
        if self.process.is_alive():
            with contextlib.suppress(Exception):
                self.inbox.put(("stop",))
            self.process.join(timeout=15)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
