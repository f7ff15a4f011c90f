"""A waiter beside the load: every `interval` it registers a fresh user for an event of its own
and long-polls the ticket (`GET /tickets/{id}?wait=`) on the other API host, as an attendee's
page does. What it measures is what Redis carries: the wake-up that makes a worker apply the
command, and the `ticket.completed` message that answers the long-poll. Both are slow while
Redis is gone (the sweeper, and the listener's database polling, stand in for them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import requests

from tests.faults.load import RetryingClient

WAIT_SECONDS = 15
# An answer slower than this counts as disturbed: undisturbed, a ticket completes and its
# long-poll returns within a few hundred milliseconds on the lab, even under load.
DISTURBED_SECONDS = 1.5


@dataclass(frozen=True)
class Wait:
    started: float  # monotonic, before the command was sent
    accepted: float  # its 202
    answered: float  # the long-poll's answer
    status: str  # the ticket's status in that answer ("pending" if the wait ran out)

    @property
    def seconds(self) -> float:
        return self.answered - self.accepted


class WaiterProbe:
    def __init__(
        self, base_urls: Sequence[str], key: str, event_id: str, users: Sequence[str],
        interval: float = 0.5,
    ) -> None:  # fmt: skip
        self.base_urls = list(base_urls)
        self.client = RetryingClient(self.base_urls, key)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.event_id = event_id
        self.users = list(users)
        self.interval = interval
        self.waits: list[Wait] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="waiter-probe", daemon=True)

    def __enter__(self) -> WaiterProbe:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=WAIT_SECONDS + 30)
        self.client.close()
        self.session.close()

    def _run(self) -> None:
        for number, user in enumerate(self.users):
            if self.stopping.is_set():
                return
            started = time.monotonic()
            sent = self.client.command("register", self.event_id, user)
            if sent.ticket_id is not None and sent.answered_at is not None:
                host = self.base_urls[(number + 1) % len(self.base_urls)]
                status = self._long_poll(host, sent.ticket_id)
                self.waits.append(Wait(started, sent.answered_at, time.monotonic(), status))
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _long_poll(self, host: str, ticket_id: str) -> str:
        try:
            response = self.session.get(
                f"{host}/tickets/{ticket_id}",
                params={"wait": WAIT_SECONDS},
                timeout=(2.0, WAIT_SECONDS + 10),
            )
        except requests.RequestException:
            return "error"
        if response.status_code != 200:
            return str(response.status_code)
        return str(response.json().get("status"))

    def _disturbed_since(self, since: float) -> list[Wait]:
        return [
            w
            for w in self.waits
            if w.answered >= since and (w.status != "completed" or w.seconds > DISTURBED_SECONDS)
        ]

    def resumed_after(self, since: float) -> float | None:
        """Seconds from `since` until waits were undisturbed again: the answer of the last
        disturbed wait (slow, unanswered or failed) still open at `since` or sent later; 0.0
        if none was disturbed; None if no wait was sent after `since`."""
        if not any(w.started >= since for w in self.waits):
            return None
        disturbed = self._disturbed_since(since)
        if not disturbed:
            return 0.0
        return round(max(w.answered for w in disturbed) - since, 2)

    def disturbed(self, since: float) -> int:
        return len(self._disturbed_since(since))
