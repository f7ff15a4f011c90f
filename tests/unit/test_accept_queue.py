"""The group commit's failure policy (`api.accepts`): one command's failure never fails its
neighbours, and a database that does not answer fails everyone waiting at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from api import accepts
from models import tickets

DOWN = OperationalError("INSERT", {}, Exception("connection timed out"))


def _accept(user_id: str) -> tickets.Accept:
    return tickets.Accept(tickets.NewTicket("register", user_id, "e1"), owner="o")


def _send_all(queue: accepts.AcceptQueue, users: list[str]) -> dict[str, object]:
    answers: dict[str, object] = {}

    def send(user_id: str) -> None:
        try:
            answers[user_id] = queue.accept(_accept(user_id))
        except Exception as error:  # what the view would translate
            answers[user_id] = error

    threads = [threading.Thread(target=send, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return answers


class FlakyDatabase:
    """Stands in for the unit of work and `accept_many`: the first flush is held until every
    request has queued behind it; then each group either fails (`fail` decides) or is
    accepted."""

    def __init__(self, fail: Callable[[list[str]], Exception | None]) -> None:
        self.groups: list[list[str]] = []
        self.fail = fail
        self.release = threading.Event()

    def run(self, _sessions: object, work: Callable[[Any], Any], **_: object) -> Any:
        if not self.groups:
            self.release.wait(5)
        return work(None)

    def accept_many(self, _session: object, group: list[tickets.Accept]) -> list[Any]:
        users = [a.ticket.user_id for a in group]
        self.groups.append(users)
        error = self.fail(users)
        if error is not None:
            raise error
        return [
            tickets.TicketView(
                f"t-{u}", 1, "register", u, "e1", None, "o", "pending", None, None, None, 1
            )
            for u in users
        ]


def _queue_behind_a_held_first_flush(
    monkeypatch: pytest.MonkeyPatch, database: FlakyDatabase, first: str, rest: list[str]
) -> dict[str, object]:
    monkeypatch.setattr(accepts.db, "run", database.run)
    monkeypatch.setattr(accepts.tickets, "accept_many", database.accept_many)
    queue = accepts.AcceptQueue(sessions=None)  # type: ignore[arg-type]
    answers: dict[str, object] = {}
    head = threading.Thread(target=lambda: answers.update(_send_all(queue, [first])))
    head.start()
    while queue._flusher is None or queue._waiting:  # until the head's flush has begun
        time.sleep(0.01)
    tail = threading.Thread(target=lambda: answers.update(_send_all(queue, rest)))
    tail.start()
    while len(queue._waiting) < len(rest):
        time.sleep(0.01)
    database.release.set()
    head.join(10)
    tail.join(10)
    queue.close()
    return answers


def test_an_unreachable_database_fails_the_group_and_those_queued_behind_it_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = FlakyDatabase(fail=lambda _users: DOWN)

    answers = _queue_behind_a_held_first_flush(monkeypatch, database, "u0", ["u1", "u2", "u3"])

    assert all(answers[u] is DOWN for u in ("u0", "u1", "u2", "u3"))
    assert database.groups == [["u0"]]  # no second attempt, no one-by-one retries


def test_one_commands_failure_is_retried_alone_and_never_fails_its_neighbours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = IntegrityError("INSERT", {}, Exception("one row is wrong"))
    database = FlakyDatabase(fail=lambda users: bad if "u2" in users else None)

    answers = _queue_behind_a_held_first_flush(monkeypatch, database, "u0", ["u1", "u2", "u3"])

    assert answers["u2"] is bad
    assert {u: getattr(answers[u], "ticket_id", None) for u in ("u0", "u1", "u3")} == {
        "u0": "t-u0",
        "u1": "t-u1",
        "u3": "t-u3",
    }
    assert database.groups == [["u0"], ["u1", "u2", "u3"], ["u1"], ["u2"], ["u3"]]
