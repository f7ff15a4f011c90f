"""The group commit's failure policy (`api.accepts`): one command's failure never fails its
neighbours, and a database that does not answer fails everyone waiting at once.

Driven step by step, with no sleeps and no polling: the stand-in commit holds the first group
until the test has queued the others (`submit` returns once a command is in the queue, and the
flusher cannot take it while it is held), so every group is known before it forms. Every wait
is bounded, and pytest-timeout bounds the test: a broken queue fails these tests, never hangs
them. (Their predecessors, removed in ec63daf, polled the queue's internals and raced.)"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import sessionmaker

from api.accepts import AcceptQueue, AcceptTimeout, Pending
from models.storage import tickets
from tessera.telemetry import REQUEST_ID, request_context

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

BOUND = 10.0  # seconds; no wait here should come near it
DOWN = OperationalError("INSERT", {}, Exception("connection timed out"))


def _accept(user_id: str) -> tickets.Accept:
    return tickets.Accept(tickets.NewTicket("register", user_id, "e1"), owner="o")


def _ticket(user_id: str) -> tickets.TicketView:
    now = dt.datetime.now(dt.UTC)
    return tickets.TicketView(
        f"t-{user_id}", 1, "register", user_id, "e1", None, "o", "pending", None, now, None
    )


class HeldDatabase:
    """Stands in for the accepting transaction: the first group is held inside the commit
    until the test releases it; then each group fails as `fail` says, or is accepted."""

    def __init__(self, fail: Callable[[list[str]], Exception | None]) -> None:
        self.fail = fail
        self.groups: list[list[str]] = []
        self.holding = threading.Event()  # the first group is inside the commit
        self.release = threading.Event()

    def commit(self, group: Sequence[tickets.Accept]) -> list[tickets.AcceptOutcome]:
        users = [accept.ticket.user_id for accept in group]
        self.groups.append(users)
        if len(self.groups) == 1:
            self.holding.set()
            if not self.release.wait(BOUND):
                raise AssertionError("the test never released the first group")
        error = self.fail(users)
        if error is not None:
            raise error
        return [_ticket(user) for user in users]


def _fate(pending: Pending) -> object:
    """What the view would get: the outcome, or the error it would translate."""
    try:
        return pending.result(BOUND)
    except Exception as error:
        return error


def _queued_behind_a_held_group(
    database: HeldDatabase, first: str, rest: list[str]
) -> dict[str, object]:
    """`first` is taken alone and held in its commit; `rest` queue behind it; then release."""
    queue = AcceptQueue(sessionmaker(), commit=database.commit)
    try:
        head = queue.submit(_accept(first))
        assert database.holding.wait(BOUND), "the flusher never took the first group"
        tail = [queue.submit(_accept(user)) for user in rest]
        database.release.set()
        return {user: _fate(p) for user, p in zip([first, *rest], [head, *tail], strict=True)}
    finally:
        database.release.set()  # never leave the flusher held, whatever failed above
        queue.close()


def test_an_unreachable_database_fails_the_group_and_those_queued_behind_it_at_once() -> None:
    database = HeldDatabase(fail=lambda _users: DOWN)

    answers = _queued_behind_a_held_group(database, "u0", ["u1", "u2", "u3"])

    assert all(answers[u] is DOWN for u in ("u0", "u1", "u2", "u3")), answers
    assert database.groups == [["u0"]]  # no second attempt, no one-by-one retries


def test_one_commands_failure_is_retried_alone_and_never_fails_its_neighbours() -> None:
    bad = IntegrityError("INSERT", {}, Exception("one row is wrong"))
    database = HeldDatabase(fail=lambda users: bad if "u2" in users else None)

    answers = _queued_behind_a_held_group(database, "u0", ["u1", "u2", "u3"])

    assert answers["u2"] is bad
    assert {u: getattr(answers[u], "ticket_id", None) for u in ("u0", "u1", "u3")} == {
        "u0": "t-u0",
        "u1": "t-u1",
        "u3": "t-u3",
    }
    assert database.groups == [["u0"], ["u1", "u2", "u3"], ["u1"], ["u2"], ["u3"]]


def test_a_group_that_commits_answers_each_request_with_its_own_ticket() -> None:
    database = HeldDatabase(fail=lambda _users: None)

    answers = _queued_behind_a_held_group(database, "u0", ["u1", "u2"])

    assert {u: getattr(answers[u], "ticket_id", None) for u in answers} == {
        "u0": "t-u0",
        "u1": "t-u1",
        "u2": "t-u2",
    }
    assert database.groups == [["u0"], ["u1", "u2"]]


def test_a_request_whose_group_never_commits_is_answered_with_a_timeout() -> None:
    database = HeldDatabase(fail=lambda _users: None)
    queue = AcceptQueue(sessionmaker(), commit=database.commit)
    try:
        pending = queue.submit(_accept("u0"))
        assert database.holding.wait(BOUND)

        with pytest.raises(AcceptTimeout, match="did not commit in time"):
            pending.result(timeout=0.01)  # the group is held: the wait runs out, never hangs
    finally:
        database.release.set()
        queue.close()


def test_a_groups_wake_up_follows_its_answers_and_never_holds_back_the_next_group() -> None:
    redis_answers = threading.Event()  # a Redis master that stopped answering, until set
    woken: list[str | None] = []

    def accept_and_announce(group: Sequence[tickets.Accept]) -> list[tickets.AcceptOutcome]:
        def wake() -> None:  # what the committed group announces
            woken.append(REQUEST_ID.get())
            redis_answers.wait(BOUND)

        queue._announcements.append(wake)  # as `committer` defers the transaction's wake-up
        return [_ticket(accept.ticket.user_id) for accept in group]

    queue = AcceptQueue(sessionmaker(), commit=accept_and_announce)

    try:
        with request_context("req-1"):
            first = queue.submit(_accept("ann"))
        assert isinstance(first.result(BOUND), tickets.TicketView)
        # the first wake-up hangs in the announcer; the next group is answered regardless
        assert isinstance(queue.submit(_accept("bob")).result(BOUND), tickets.TicketView)
        assert not redis_answers.is_set()
        redis_answers.set()
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=BOUND)
        while len(woken) < 2 and dt.datetime.now(dt.UTC) < deadline:
            redis_answers.wait(0.01)
    finally:
        redis_answers.set()
        queue.close()
    assert woken[0] == "req-1"  # in the context of the request that opened the group
    assert len(woken) == 2
    announcer = queue._announcer._thread
    assert announcer is not None
    announcer.join(BOUND)
    assert not announcer.is_alive()  # closing the queue ends its announcer too
