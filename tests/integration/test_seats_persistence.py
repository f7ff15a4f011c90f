"""The rules' state in PostgreSQL: loaded under the event lock, written back, serialised."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import services
from models.domain.errors import CapacityBelowRegistered, EventNotFound, UserNotFound
from models.domain.rules import Register, Unregister
from models.storage.tables import Event, Registration, User
from tests.windows import lock_seats, save_seats

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def make_event(
    db: sessionmaker[Session], event_id: str = "e1", capacity: int = 2, waitlist: bool = True
) -> None:
    with db.begin() as session:
        session.add(
            Event(
                event_id=event_id,
                title="Launch",
                description="",
                date=dt.date(2026, 12, 1),
                location="Hall",
                capacity=capacity,
                organizer="Org",
                status="active",
                waitlist_enabled=waitlist,
            )
        )


def make_users(db: sessionmaker[Session], *user_ids: str) -> None:
    with db.begin() as session:
        session.add_all(User(user_id=u, name=u.upper()) for u in user_ids)


def apply(
    db: sessionmaker[Session], event_id: str, *commands: Register | Unregister
) -> list[object]:
    user_ids = {c.user_id for c in commands}
    with db.begin() as session:
        seats = lock_seats(session, event_id, user_ids, commands)
        outcomes: list[object] = [seats.handle(c) for c in commands]
        save_seats(session, event_id, seats, NOW)
    return outcomes


def standings(db: sessionmaker[Session], event_id: str) -> list[tuple[str, str]]:
    with db.begin() as session:
        rows = session.execute(
            select(Registration.user_id, Registration.standing)
            .where(Registration.event_id == event_id)
            .order_by(Registration.standing, Registration.place_order)
        )
        return [(u, s) for u, s in rows]


def counts(db: sessionmaker[Session], event_id: str) -> tuple[int, int]:
    with db.begin() as session:
        event = session.get_one(Event, event_id)
        return event.registered_count, event.waitlisted_count


def test_outcomes_are_written_back_and_read_again_by_the_next_unit_of_work(
    db: sessionmaker[Session],
) -> None:
    make_event(db, capacity=1)
    make_users(db, "ann", "bob", "cy")
    apply(db, "e1", Register("ann"), Register("bob"), Register("cy"))
    assert standings(db, "e1") == [
        ("ann", "registered"),
        ("bob", "waitlisted"),
        ("cy", "waitlisted"),
    ]

    apply(db, "e1", Unregister("ann"))

    assert standings(db, "e1") == [("bob", "registered"), ("cy", "waitlisted")]
    assert counts(db, "e1") == (1, 1)


def test_a_window_of_the_waitlist_promotes_the_true_head(db: sessionmaker[Session]) -> None:
    make_event(db, capacity=1)
    make_users(db, *(f"u{i}" for i in range(6)))
    apply(db, "e1", *(Register(f"u{i}") for i in range(6)))
    # A later unit of work that names only u0 must still promote u1, the oldest waiting.
    apply(db, "e1", Unregister("u0"), Unregister("u3"))
    assert standings(db, "e1") == [
        ("u1", "registered"),
        ("u2", "waitlisted"),
        ("u4", "waitlisted"),
        ("u5", "waitlisted"),
    ]
    assert counts(db, "e1") == (1, 3)


def test_locking_an_unknown_event_raises_event_not_found(db: sessionmaker[Session]) -> None:
    with db.begin() as session, pytest.raises(EventNotFound):
        lock_seats(session, "missing", [], [])


def test_two_concurrent_units_of_work_on_one_event_serialise_and_never_oversell(
    db: sessionmaker[Session],
) -> None:
    make_event(db, capacity=5, waitlist=False)
    make_users(db, *(f"a{i}" for i in range(5)), *(f"b{i}" for i in range(5)))
    first_has_lock = threading.Event()
    results: dict[str, list[object]] = {}

    def slow_first() -> None:
        with db.begin() as session:
            seats = lock_seats(session, "e1", [f"a{i}" for i in range(5)], [])
            first_has_lock.set()
            time.sleep(0.3)  # hold the lock while the second one tries
            results["a"] = [seats.handle(Register(f"a{i}")) for i in range(5)]
            save_seats(session, "e1", seats, NOW)

    def second() -> None:
        first_has_lock.wait()
        results["b"] = apply(db, "e1", *(Register(f"b{i}") for i in range(5)))

    threads = [threading.Thread(target=slow_first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(type(o).__name__ == "Registered" for o in results["a"])
    assert all(type(o).__name__ == "Denied" for o in results["b"])
    assert counts(db, "e1") == (5, 0)
    assert len(standings(db, "e1")) == 5


def test_the_database_refuses_an_oversold_event_even_if_code_tried(
    db: sessionmaker[Session],
) -> None:
    make_event(db, capacity=1)
    with pytest.raises(IntegrityError), db.begin() as session:
        session.execute(text("UPDATE events SET registered_count = 2 WHERE event_id = 'e1'"))


def test_removing_a_user_frees_their_seats_and_promotes_each_waitlist(
    db: sessionmaker[Session],
) -> None:
    make_event(db, "e1", capacity=1)
    make_event(db, "e2", capacity=1)
    make_users(db, "ann", "bob", "cy")
    apply(db, "e1", Register("ann"), Register("bob"))
    apply(db, "e2", Register("ann"), Register("cy"))

    with db.begin() as session:
        published = services.remove_user(session, "ann", NOW)

    assert [(u.event_id, u.payload["userId"]) for u in published] == [("e1", "bob"), ("e2", "cy")]
    assert all(u.log_id is not None for u in published)
    assert standings(db, "e1") == [("bob", "registered")]
    assert standings(db, "e2") == [("cy", "registered")]
    with db.begin() as session:
        assert session.get(User, "ann") is None


def test_removing_an_unknown_user_raises_and_changes_nothing(db: sessionmaker[Session]) -> None:
    with db.begin() as session, pytest.raises(UserNotFound):
        services.remove_user(session, "ghost", NOW)


def test_raising_capacity_promotes_the_waitlist_in_order(db: sessionmaker[Session]) -> None:
    make_event(db, capacity=1)
    make_users(db, "ann", "bob", "cy", "dee")
    apply(db, "e1", Register("ann"), Register("bob"), Register("cy"), Register("dee"))

    with db.begin() as session:
        published = services.update_event(session, "e1", {"capacity": 3, "title": "Bigger"}, NOW)

    assert [u.payload["userId"] for u in published] == ["bob", "cy"]
    assert standings(db, "e1") == [
        ("ann", "registered"),
        ("bob", "registered"),
        ("cy", "registered"),
        ("dee", "waitlisted"),
    ]
    with db.begin() as session:
        event = session.get_one(Event, "e1")
        assert (event.capacity, event.title, event.updated_at) == (3, "Bigger", NOW)


def test_capacity_below_the_registered_count_is_refused_and_changes_nothing(
    db: sessionmaker[Session],
) -> None:
    make_event(db, capacity=2)
    make_users(db, "ann", "bob")
    apply(db, "e1", Register("ann"), Register("bob"))

    with pytest.raises(CapacityBelowRegistered), db.begin() as session:
        services.update_event(session, "e1", {"capacity": 1, "title": "Smaller"}, NOW)

    with db.begin() as session:
        event = session.get_one(Event, "e1")
        assert (event.capacity, event.title) == (2, "Launch")
