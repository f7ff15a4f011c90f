"""Group commit of single commands: the register/unregister requests an API process receives
while a transaction is being committed are accepted together in the next one.

One flusher (a thread, or a greenlet under gevent) takes everything waiting, accepts it in one
transaction (`models.storage.tickets.accept_many`) and hands each request its own outcome; meanwhile
the next group gathers. So fsyncs, round trips, the accept locks and the wake-up are paid per
group, not per request, and a lone request at low load waits for nobody. The 202 still goes
out only after its ticket is committed; the group's wake-up is sent after that, by the
`Announcer`, so Redis is never on a 202's path. A group that fails as a whole is retried one command
at a time, so a failing command never fails its neighbours; unless the database itself does
not answer: then the group and everyone queued behind it get their 503 at once.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from models.storage import db, tickets
from tessera.telemetry import REQUEST_ID, request_context

log = logging.getLogger("tessera.api")

MAX_GROUP = 500
# Errors of the connection, not of any command in the group (answered 503 NOT_READY).
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)
WAIT_SECONDS = 30.0  # an accept that takes longer than this is answered 503 (PostgreSQL hangs)


# Commits one group in one transaction: an outcome per command, in order, or an exception.
Commit = Callable[[Sequence[tickets.Accept]], list[tickets.AcceptOutcome]]


class AcceptTimeout(RuntimeError):
    """The database did not commit the command's group in time; it may still do so later."""


@dataclass(eq=False)
class Pending:
    """One command queued for the next group; `result` waits for its group's fate."""

    accept: tickets.Accept
    request_id: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    outcome: tickets.AcceptOutcome | None = None
    error: BaseException | None = None

    def result(self, timeout: float = WAIT_SECONDS) -> tickets.AcceptOutcome:
        if not self.done.wait(timeout):
            raise AcceptTimeout("the accepting transaction did not commit in time")
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


def committer(
    sessions: sessionmaker[Session], announcements: list[Callable[[], None]] | None = None
) -> Commit:
    """The production commit: `accept_many` in one unit of work. With `announcements`, what the
    commit announces (the wake-up) is appended there, to be made after the 202s are sent."""

    def accept(session: Session, group: Sequence[tickets.Accept]) -> list[tickets.AcceptOutcome]:
        if announcements is not None:
            db.defer_announcements(session, announcements)
        return tickets.accept_many(session, list(group))

    def commit(group: Sequence[tickets.Accept]) -> list[tickets.AcceptOutcome]:
        return db.run(sessions, lambda session: accept(session, group))

    return commit


class Announcer:
    """Makes a group's announcements (its wake-up) in a thread of its own, after the group's
    202s are released: Redis is never on the path of a 202, and a Redis master that stopped
    answering costs the waiting clients nothing (its socket timeout is paid here, once, while
    groups keep committing; the sweeper wakes what a lost announcement would have). Each batch
    runs in the context it was handed over in (request id, trace)."""

    def __init__(self) -> None:
        self._queue: list[tuple[contextvars.Context, list[Callable[[], None]]]] = []
        self._arrived = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def hand_over(self, announcements: list[Callable[[], None]]) -> None:
        if not announcements:
            return
        with self._arrived:
            if self._closed:
                return  # the process is stopping: the sweeper wakes what this would have
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="announcer", daemon=True)
                self._thread.start()
            self._queue.append((contextvars.copy_context(), announcements))
            self._arrived.notify()

    def close(self) -> None:
        with self._arrived:
            self._closed = True
            self._arrived.notify()

    def _run(self) -> None:
        while True:
            with self._arrived:
                while not self._queue and not self._closed:
                    self._arrived.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            for context, announcements in batch:
                context.run(db.announce, announcements)


class AcceptQueue:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        max_group: int = MAX_GROUP,
        *,
        commit: Commit | None = None,  # a test's stand-in; by default `committer(sessions)`
    ) -> None:
        self.max_group = max_group
        self._announcements: list[Callable[[], None]] = []
        self._announcer = Announcer()
        self._commit = commit or committer(sessions, self._announcements)
        self._waiting: list[Pending] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._flusher: threading.Thread | None = None
        self._closed = False

    def accept(self, accept: tickets.Accept) -> tickets.AcceptOutcome:
        """Accept one command (blocking until its group commits): a new ticket, a replay, or
        the domain error that refuses it. Database failures are raised."""
        return self.submit(accept).result(WAIT_SECONDS)

    def submit(self, accept: tickets.Accept) -> Pending:
        """Queue one command for the next group and return at once; it is in the queue when
        this returns."""
        slot = Pending(accept, REQUEST_ID.get())
        with self._lock:
            if self._flusher is None:
                # Started on first use, in the serving process (after gunicorn forked it).
                self._flusher = threading.Thread(target=self._run, name="accepts", daemon=True)
                self._flusher.start()
            self._waiting.append(slot)
            self._arrived.notify()
        return slot

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._arrived.notify()
        self._announcer.close()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._arrived.wait()
                if self._closed:
                    return
                group = self._waiting[: self.max_group]
                del self._waiting[: self.max_group]
            # the group's wake-up names the request that opened the group
            with request_context(group[0].request_id):
                self._flush(group)

    def _flush(self, group: list[Pending]) -> None:
        try:
            outcomes = self._commit([s.accept for s in group])
        except Exception as error:
            if len(group) > 1 and not isinstance(error, DATABASE_UNREACHABLE):
                log.warning("a group of %d accepts failed (%r); one by one", len(group), error)
                for slot in group:
                    self._flush([slot])
                return
            # One command's failure, or the database's. With the database unreachable, one by
            # one would make the k-th request wait k connection timeouts before its 503, and
            # so would a new attempt for those that queued while this one hung: they are
            # answered now too (nothing of theirs was written; a retry is safe).
            if isinstance(error, DATABASE_UNREACHABLE):
                with self._lock:
                    group = group + self._waiting
                    self._waiting = []
            for slot in group:
                slot.error = error
                slot.done.set()
            return
        for slot, outcome in zip(group, outcomes, strict=True):
            slot.outcome = outcome
            slot.done.set()
        self._announce()

    def _announce(self) -> None:
        """Hand the committed groups' announcements over, once their clients are released."""
        announcements = list(self._announcements)
        self._announcements.clear()  # the list `committer` appends to: emptied, not replaced
        self._announcer.hand_over(announcements)
