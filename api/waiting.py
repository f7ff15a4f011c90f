"""Waiting without a thread each: one Redis pub/sub listener per API process fans status updates
out to the long-polls (`GET /tickets/{id}?wait=`) and SSE streams waiting in that process.

Under gunicorn's gevent workers a waiting request is a greenlet parked on an event, and costs
no thread, no Redis connection and no database read of its own:
- a long-poll is answered from the `ticket.completed` message itself (it carries the result and
  the completion time); the database is read only by the fallback poll, once a second for all
  the tickets the process is waiting for, in case a message was lost;
- SSE streams of one event share a `Feed`: on each message the feed reads the event log once
  for all of them (the log, not the message, is the stream: it is complete and in commit
  order), and every stream takes from it what comes after its own cursor.
After a Redis outage the listener subscribes again and every waiter looks at the database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy.orm import Session, sessionmaker

from models.storage import event_log, tickets
from tessera.messaging import EVENT_CHANNELS

log = logging.getLogger("tessera.api")

TICKET_POLL_SECONDS = 1.0  # the fallback for a lost message
RECENT_TICKETS = 20_000  # accepted here / completed anywhere: what a long-poll can skip reading
RECENT_SECONDS = 60.0
FEED_POLL_SECONDS = 5.0
FEED_BUFFER = 5000  # entries a feed keeps for streams that are slightly behind
RECONNECT_SECONDS = 0.5


@dataclass(eq=False)
class TicketWaiter:
    ticket_id: str
    done: threading.Event = field(default_factory=threading.Event)
    outcome: tickets.Settled | None = None

    def settle(self, outcome: tickets.Settled) -> None:
        self.outcome = outcome
        self.done.set()

    def wait(self, timeout: float) -> tickets.Settled | None:
        self.done.wait(timeout)
        return self.outcome


class Feed:
    """One event's log as this process's streams read it: a buffer of the entries after `base`,
    refreshed from the database once per hint, by whichever stream wakes first."""

    def __init__(self, event_id: str, sessions: sessionmaker[Session], base: int) -> None:
        self.event_id = event_id
        self.sessions = sessions
        self.base = base  # the buffer holds every entry of the event with a larger id
        self.entries: list[event_log.Update] = []
        self.subscribers = 0
        self._changed = threading.Condition()
        self._hints = 0
        self._fetched = 0
        self._fetching = False

    @property
    def last_id(self) -> int:
        if not self.entries:
            return self.base
        return self.entries[-1].log_id or self.base

    def hint(self) -> None:
        with self._changed:
            self._hints += 1
            self._changed.notify_all()

    def read(self, cursor: int, timeout: float) -> list[event_log.Update]:
        """The entries after `cursor`, waiting up to `timeout` for some; [] if none came."""
        deadline = time.monotonic() + timeout
        while True:
            if cursor < self.base:  # behind what the feed keeps: read the log directly
                with self.sessions.begin() as session:
                    return event_log.entries_after(session, self.event_id, cursor)
            with self._changed:
                ready = [e for e in self.entries if (e.log_id or 0) > cursor]
                if ready:
                    return ready
                fetch = self._fetched < self._hints and not self._fetching
                if fetch:
                    self._fetching, target, after = True, self._hints, self.last_id
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return []
                    self._changed.wait(remaining)
                    continue
            self._fetch(after, target)

    def _fetch(self, after: int, target: int) -> None:
        rows: list[event_log.Update] = []
        try:
            with self.sessions.begin() as session:
                rows = event_log.entries_after(session, self.event_id, after)
        finally:
            with self._changed:
                self.entries += rows
                if len(self.entries) > FEED_BUFFER:
                    dropped = self.entries[: len(self.entries) - FEED_BUFFER]
                    self.base = dropped[-1].log_id or self.base
                    del self.entries[: len(dropped)]
                # A full page means more is waiting: leave the hint standing for another read.
                if len(rows) < event_log.MAX_READ:
                    self._fetched = target
                self._fetching = False
                self._changed.notify_all()


class Recent:
    """A bounded, short memory of tickets: a long-poll for a ticket this process just accepted,
    or that completed a moment ago, is answered without reading the database."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted: OrderedDict[str, tuple[float, tickets.TicketView]] = OrderedDict()
        self._settled: OrderedDict[str, tickets.Settled] = OrderedDict()

    def accepted(self, view: tickets.TicketView) -> None:
        with self._lock:
            self._accepted[view.ticket_id] = (time.monotonic(), view)
            if len(self._accepted) > RECENT_TICKETS:
                self._accepted.popitem(last=False)

    def settled(self, ticket_id: str, outcome: tickets.Settled) -> None:
        with self._lock:
            self._settled[ticket_id] = outcome
            if len(self._settled) > RECENT_TICKETS:
                self._settled.popitem(last=False)

    def view(self, ticket_id: str) -> tickets.TicketView | None:
        """The ticket as accepted here, if that was a moment ago (else: read it)."""
        found = self._accepted.get(ticket_id)
        if found is None or time.monotonic() - found[0] > RECENT_SECONDS:
            return None
        return found[1]

    def outcome(self, ticket_id: str) -> tickets.Settled | None:
        return self._settled.get(ticket_id)


class Listener:
    """The process's one subscriber to every event's channel, and its waiters."""

    def __init__(
        self, make_redis: Callable[[], redis.Redis], sessions: sessionmaker[Session]
    ) -> None:
        self.make_redis = make_redis
        self.sessions = sessions
        self.recent = Recent()
        self._lock = threading.Lock()
        self._tickets: dict[str, list[TicketWaiter]] = {}
        self._feeds: dict[str, Feed] = {}
        self._started = False
        self._closed = threading.Event()

    # --- what the views use -------------------------------------------------------------

    @contextlib.contextmanager
    def waiting_for_ticket(self, ticket_id: str) -> Iterator[TicketWaiter]:
        """Register before reading the ticket, so that no completion can slip in between."""
        waiter = TicketWaiter(ticket_id)
        with self._lock:
            self._start()
            self._tickets.setdefault(ticket_id, []).append(waiter)
            done = self.recent.outcome(ticket_id)
        if done is not None:  # it completed just before we started listening
            waiter.settle(done)
        try:
            yield waiter
        finally:
            with self._lock:
                waiting = self._tickets.get(ticket_id, [])
                if waiter in waiting:
                    waiting.remove(waiter)
                if not waiting:
                    self._tickets.pop(ticket_id, None)

    @contextlib.contextmanager
    def feed(self, event_id: str) -> Iterator[Feed]:
        with self._lock:
            self._start()
            feed = self._feeds.get(event_id)
            if feed is not None:
                feed.subscribers += 1
        if feed is None:
            with self.sessions.begin() as session:  # not under the lock: it is I/O
                base = event_log.latest_id(session, event_id)
            with self._lock:
                feed = self._feeds.get(event_id)
                if feed is None:
                    feed = self._feeds[event_id] = Feed(event_id, self.sessions, base)
                feed.subscribers += 1
        try:
            yield feed
        finally:
            with self._lock:
                feed.subscribers -= 1
                if feed.subscribers == 0 and self._feeds.get(event_id) is feed:
                    del self._feeds[event_id]

    def close(self) -> None:
        self._closed.set()

    # --- behind the scenes ----------------------------------------------------------------

    def _start(self) -> None:
        """Started on first use, in the serving process (after gunicorn forked it)."""
        if self._started:
            return
        self._started = True
        threading.Thread(target=self._listen, name="updates-listener", daemon=True).start()
        threading.Thread(target=self._poll, name="updates-poller", daemon=True).start()

    def _listen(self) -> None:
        while not self._closed.is_set():
            client: redis.Redis | None = None
            try:
                client = self.make_redis()
                pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.psubscribe(EVENT_CHANNELS)
                self._resync()  # whatever was published while we were not listening
                while not self._closed.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._dispatch(message["data"])
            except redis.RedisError as error:
                if not self._closed.is_set():
                    reason = type(error).__name__
                    log.warning("update listener lost Redis (%s); reconnecting", reason)
                self._closed.wait(RECONNECT_SECONDS)
            except Exception:  # never let the listener die: waiters would only have the poll
                log.exception("update listener failed; restarting it")
                self._closed.wait(RECONNECT_SECONDS)
            finally:
                if client is not None:
                    with contextlib.suppress(redis.RedisError):
                        client.close()

    def _dispatch(self, raw: bytes | str) -> None:
        message: dict[str, Any] = json.loads(raw)
        data: dict[str, Any] = message.get("data") or {}
        ticket_id = data.get("ticketId")
        outcome = None
        if ticket_id and data.get("status") != "pending":
            outcome = tickets.Settled(
                str(data["status"]), data.get("result"), _moment(data.get("completedAt"))
            )
        with self._lock:
            waiters = list(self._tickets.get(ticket_id, ())) if ticket_id else []
            feed = self._feeds.get(str(data.get("eventId")))
            if outcome is not None:
                self.recent.settled(str(ticket_id), outcome)
        if outcome is not None:
            for waiter in waiters:
                waiter.settle(outcome)
        if feed is not None:
            feed.hint()

    def _resync(self) -> None:
        with self._lock:
            feeds = list(self._feeds.values())
        for feed in feeds:
            feed.hint()
        self._poll_tickets()

    def _poll(self) -> None:
        last_feed_poll = time.monotonic()
        while not self._closed.wait(TICKET_POLL_SECONDS):
            try:
                self._poll_tickets()
                if time.monotonic() - last_feed_poll >= FEED_POLL_SECONDS:
                    last_feed_poll = time.monotonic()
                    with self._lock:
                        feeds = list(self._feeds.values())
                    for feed in feeds:
                        feed.hint()
            except Exception as error:  # the database may be down: try again next time
                log.warning("update poll failed (%s)", type(error).__name__)

    def _poll_tickets(self) -> None:
        with self._lock:
            waiting = list(self._tickets)
        if not waiting:
            return
        with self.sessions.begin() as session:
            found = tickets.settled(session, waiting)
        with self._lock:
            for ticket_id, outcome in found.items():
                for waiter in self._tickets.get(ticket_id, ()):
                    waiter.settle(outcome)


def _moment(raw: object) -> dt.datetime | None:
    if not isinstance(raw, str):
        return None
    return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
