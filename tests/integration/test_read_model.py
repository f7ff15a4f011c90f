"""The read model (`models.storage.queries`, SQL) against the pure standings oracle: after any
history
applied through the real loader and rules, every view of who is seated or waiting where, and
at which position, agrees with what the rules' complete state says."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from models import services
from models.domain.rules import EventSeats, Register, RemoveUser, Unregister
from models.storage import queries
from models.storage.db import make_sessionmaker
from models.storage.tables import Event, User
from tests.conftest import wipe
from tests.unit.standings import registrations_of, waitlists_of
from tests.windows import lock_seats, save_seats

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
EVENTS = ("e1", "e2", "e3")
USERS = tuple(f"u{i}" for i in range(6))

histories = st.lists(
    st.tuples(
        st.sampled_from(EVENTS),
        st.sampled_from([Register, Register, Unregister]),
        st.sampled_from(USERS),
    ),
    max_size=40,
)


def setup(db: sessionmaker[Session], capacities: dict[str, int]) -> dict[str, EventSeats]:
    with db.begin() as session:
        session.add_all(User(user_id=u, name=u) for u in USERS)
        session.add_all(
            Event(
                event_id=e,
                title=e,
                description="",
                date=dt.date(2026, 12, 1),
                location="Hall",
                capacity=capacity,
                organizer="Org",
                status="active",
                waitlist_enabled=True,
            )
            for e, capacity in capacities.items()
        )
    return {e: EventSeats.empty(c, waitlist_enabled=True) for e, c in capacities.items()}


# Property 22: the SQL read model numbers each line 1..n as the rules order it, and every view
# (a user's registrations and waitlists, an event's waitlist, one user's place) agrees with
# the rules' own state.
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    capacities=st.fixed_dictionaries({e: st.integers(1, 3) for e in EVENTS}),
    history=histories,
    deleted=st.sets(st.sampled_from(USERS), max_size=2),
)
def test_every_read_view_agrees_with_the_rules(
    engine: Engine,
    capacities: dict[str, int],
    history: list[tuple[str, type[Register] | type[Unregister], str]],
    deleted: set[str],
) -> None:
    wipe(engine)
    db = make_sessionmaker(engine)
    oracle = setup(db, capacities)
    for event_id, kind, user_id in history:
        command = kind(user_id)
        oracle[event_id].handle(command)
        with db.begin() as session:
            seats = lock_seats(session, event_id, [user_id], [command])
            seats.handle(command)
            save_seats(session, event_id, seats, NOW)
    for user_id in sorted(deleted):
        for event_id in EVENTS:
            oracle[event_id].handle(RemoveUser(user_id))
        with db.begin() as session:
            services.remove_user(session, user_id, NOW)

    with db.begin() as session:
        for user_id in USERS:
            if user_id in deleted:
                continue
            registered = [r["event_id"] for r in queries.user_registrations(session, user_id)]
            assert sorted(registered) == registrations_of(user_id, oracle)
            waiting = [
                (r["event_id"], r["position"]) for r in queries.user_waitlists(session, user_id)
            ]
            assert sorted(waiting) == waitlists_of(user_id, oracle)
            for event_id in EVENTS:
                place = queries.place_of(session, event_id, user_id)
                membership = oracle[event_id].membership(user_id)
                if membership is None:
                    assert place is None
                else:
                    assert place is not None
                    assert place.status == membership.standing.value
                    assert place.position == oracle[event_id].position(user_id)
        for event_id in EVENTS:
            line = queries.event_waitlist(session, event_id)
            assert [(r["user_id"], r["position"]) for r in line] == [
                (u, n) for n, u in enumerate(oracle[event_id].waitlist, start=1)
            ]
            seated = [r["user_id"] for r in queries.event_registrations(session, event_id)]
            assert sorted(seated) == sorted(
                u
                for u, m in oracle[event_id].members.items()
                if m and m.standing.value == "registered"
            )
