"""Load as well-behaved clients produce it, over real HTTP.

Every command carries its own `Idempotency-Key`. On a connection error, a timeout, a 5xx, a
429 or a 409 `IDEMPOTENCY_KEY_IN_FLIGHT` the client sends the same request with the same key
again (with backoff), until it gets a 202 or a final 4xx, or gives up after a bounded time.
Every attempt is recorded, so the checks can tell what the API answered while a fault lasted.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

RETRYABLE_CODES = {"IDEMPOTENCY_KEY_IN_FLIGHT", "RATE_LIMITED"}


@dataclass(frozen=True)
class Attempt:
    started: float
    ended: float
    answer: str  # "202", "404", "503", "500", "conn-error", "timeout", "409-in-flight", ...
    host: str = ""  # the API base URL it went to


@dataclass
class Sent:
    """One logical command and everything that happened to it."""

    kind: str
    event_id: str
    user_id: str
    key: str
    first_sent: float = 0.0
    answered_at: float | None = None
    final_status: int | None = None
    final_code: str | None = None
    ticket_id: str | None = None
    replayed: bool = False
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.final_status == 202

    @property
    def gave_up(self) -> bool:
        return self.final_status is None

    @property
    def answers(self) -> Counter[str]:
        return Counter(a.answer for a in self.attempts)

    @property
    def in_flight_wait(self) -> float:
        """Seconds spent being told "still being accepted" (409 IN_FLIGHT)."""
        waits = [a for a in self.attempts if a.answer == "409-in-flight"]
        return waits[-1].ended - waits[0].started if waits else 0.0


class RetryingClient:
    """One client thread's connection: a `requests.Session` with the API key. Given several
    API hosts, it moves to the next one after a retryable failure, as a load balancer would,
    keeping the command's `Idempotency-Key` (the keys live in PostgreSQL, so any host replays)."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        key: str,
        *,
        request_timeout: float = 10.0,
        give_up_after: float = 120.0,
    ) -> None:
        self.base_urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.base_url = self.base_urls[0]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.request_timeout = request_timeout
        self.give_up_after = give_up_after

    def close(self) -> None:
        self.session.close()

    def command(self, kind: str, event_id: str, user_id: str) -> Sent:
        sent = Sent(kind, event_id, user_id, key=f"faults-{uuid.uuid4()}")
        if kind == "register":
            method, path, body = "POST", f"/events/{event_id}/registrations", {"userId": user_id}
        else:
            method, path, body = "DELETE", f"/events/{event_id}/registrations/{user_id}", None
        sent.first_sent = time.monotonic()
        deadline = sent.first_sent + self.give_up_after
        backoff = 0.05
        while time.monotonic() < deadline:
            started = time.monotonic()
            host = self.base_url
            answer, response = self._attempt(method, path, body, sent.key)
            sent.attempts.append(Attempt(started, time.monotonic(), answer, host))
            if response is not None and answer not in {"500", "502", "503", "504"}:
                code = _problem_code(response)
                if response.status_code == 202 or (
                    400 <= response.status_code < 500 and code not in RETRYABLE_CODES
                ):
                    sent.answered_at = time.monotonic()
                    sent.final_status = response.status_code
                    sent.final_code = code
                    if response.status_code == 202:
                        sent.ticket_id = response.json()["ticketId"]
                        sent.replayed = response.headers.get("Idempotent-Replayed") == "true"
                    return sent
            self._next_host()
            time.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(1.0, backoff * 2)
        return sent

    def _next_host(self) -> None:
        index = self.base_urls.index(self.base_url)
        self.base_url = self.base_urls[(index + 1) % len(self.base_urls)]

    def _attempt(
        self, method: str, path: str, body: dict[str, Any] | None, key: str
    ) -> tuple[str, requests.Response | None]:
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                json=body,
                headers={"Idempotency-Key": key},
                timeout=(2.0, self.request_timeout),
            )
        except requests.Timeout:
            return "timeout", None
        except requests.RequestException:  # refused, reset, or cut off mid-answer
            return "conn-error", None
        if response.status_code == 409 and _problem_code(response) == "IDEMPOTENCY_KEY_IN_FLIGHT":
            return "409-in-flight", response
        return str(response.status_code), response


def _problem_code(response: requests.Response) -> str | None:
    if not response.headers.get("Content-Type", "").startswith("application/problem+json"):
        return None
    try:
        code = response.json().get("code")
    except ValueError:
        return None
    return str(code) if code is not None else None


@dataclass
class LoadPlan:
    """Fresh events, each user registering once per event; a share of them unregisters right
    after its registration was accepted (seats free up, waitlists get promoted)."""

    events: list[str]
    users: list[str]
    rate: float  # commands per second, all clients together
    clients: int = 8
    unregister_share: float = 0.25
    seed: int = 7
    key: str = ""
    request_timeout: float = 10.0
    give_up_after: float = 120.0


class Pacer:
    """A shared schedule: one slot every 1/rate seconds, whoever asks."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_slot = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.next_slot = max(self.next_slot + self.interval, now)
            slot = self.next_slot
        delay = slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class LoadRunner:
    """`plan.clients` threads sending the plan's commands at `plan.rate` until stopped or the
    plan runs out; with several API hosts, client i starts on host i (mod their number)."""

    def __init__(self, base_url: str | Sequence[str], plan: LoadPlan) -> None:
        self.base_urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.plan = plan
        self.results: list[Sent] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.pacer = Pacer(plan.rate)
        self.scripts = self._scripts()
        self.threads = [
            threading.Thread(target=self._run, args=(i,), name=f"load-{i}", daemon=True)
            for i in range(plan.clients)
        ]
        self.started_at = 0.0
        self.stopped_at = 0.0

    def _scripts(self) -> Iterator[tuple[str, str, bool]]:
        rng = random.Random(self.plan.seed)
        for user in self.plan.users:
            for event in self.plan.events:
                yield event, user, rng.random() < self.plan.unregister_share

    def _next(self) -> tuple[str, str, bool] | None:
        with self.lock:
            return next(self.scripts, None)

    def _run(self, index: int) -> None:
        start = index % len(self.base_urls)
        client = RetryingClient(
            self.base_urls[start:] + self.base_urls[:start],
            self.plan.key,
            request_timeout=self.plan.request_timeout,
            give_up_after=self.plan.give_up_after,
        )
        try:
            while not self.stopping.is_set():
                script = self._next()
                if script is None:
                    return
                event, user, then_unregister = script
                self.pacer.wait()
                first = client.command("register", event, user)
                self._keep(first)
                if then_unregister and first.accepted and not self.stopping.is_set():
                    self.pacer.wait()
                    self._keep(client.command("unregister", event, user))
        finally:
            client.close()

    def _keep(self, sent: Sent) -> None:
        with self.lock:
            self.results.append(sent)

    def start(self) -> LoadRunner:
        self.started_at = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def accepted(self) -> int:
        with self.lock:
            return sum(1 for s in self.results if s.accepted)

    def wait_for_accepted(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.accepted() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"load did not reach {count} accepted commands")
            time.sleep(0.05)

    def stop(self, timeout: float = 180.0) -> list[Sent]:
        """Stop sending new scripts; let the commands under way finish their retries."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self.threads if t.is_alive()]
        if alive:
            raise TimeoutError(f"client threads still retrying after {timeout}s: {alive}")
        self.stopped_at = time.monotonic()
        with self.lock:
            return list(self.results)


@dataclass(frozen=True)
class Probe:
    at: float
    status: int | None  # None: no answer (connection error or timeout)
    code: str | None
    seconds: float


class ReadyProbe:
    """Polls `/ready` in the background (bounded: until stopped), recording every answer."""

    def __init__(self, base_url: str, interval: float = 0.2, timeout: float = 5.0) -> None:
        self.url = base_url + "/ready"
        self.interval = interval
        self.timeout = timeout
        self.answers: list[Probe] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ready-probe", daemon=True)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    response = session.get(self.url, timeout=self.timeout)
                    status: int | None = response.status_code
                    code = _problem_code(response)
                except requests.RequestException:
                    status, code = None, None
                self.answers.append(Probe(started, status, code, time.monotonic() - started))
                self.stopping.wait(self.interval)

    def __enter__(self) -> ReadyProbe:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(self.timeout + 5)

    def between(self, start: float, end: float) -> list[Probe]:
        return [p for p in self.answers if start <= p.at and p.at + p.seconds <= end]
