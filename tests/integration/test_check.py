"""`tessera check` on real PostgreSQL: a sound database passes, and each kind of violation,
planted with raw SQL, is reported.

Planting most violations needs a constraint out of the way first. The schema is shared by the
whole test session, so every plant happens in one transaction that is rolled back at the end,
and the checks run inside that same transaction (DDL is transactional in PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from benchmarks import verify as bench_verify
from models.domain.rules import Register, Unregister
from models.storage.db import make_sessionmaker
from models.storage.invariants import run_checks, violations
from tessera.tools.cli import main
from tessera.tools.servers import ServerUrls, free_port
from tests.drain import drain_event
from tests.faults import verify as fault_verify
from tests.integration.conftest import ADMIN, create_event, create_users
from tests.integration.test_seats_persistence import apply, make_event, make_users
from workers import runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def planted(engine: Engine, db: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a transaction that is always rolled back: plant freely."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection)
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


def sql(session: Session, *statements: str) -> None:
    for statement in statements:
        session.execute(text(statement))


def failing(session: Session, max_pending_age: float | None = None) -> dict[str, list[str]]:
    """The checks that found something, with what they found."""
    return {
        result.name: result.violations
        for result in run_checks(session, max_pending_age=max_pending_age)
        if not result.ok
    }


def event(session: Session, event_id: str, capacity: int, *, registered: int = 0,
          waitlisted: int = 0, next_order: int = 100, policy: str = "strict",
          max_party: int = 1) -> None:  # fmt: skip
    """An event row whose counts say `registered` / `waitlisted` one-seat parties."""
    session.execute(
        text(
            "INSERT INTO events (event_id, title, date, location, capacity, organizer, status,"
            " waitlist_enabled, registered_count, registered_seats, waitlisted_count,"
            " waitlist_seats, next_order, waitlist_policy, max_party_size)"
            " VALUES (:e, 'T', '2026-12-01', 'L', :c, 'O', 'active', true, :r, :r, :w, :w, :n,"
            " :p, :m)"
        ),
        {
            "e": event_id,
            "c": capacity,
            "r": registered,
            "w": waitlisted,
            "n": next_order,
            "p": policy,
            "m": max_party,
        },
    )


def users(session: Session, *user_ids: str) -> None:
    for user_id in user_ids:
        session.execute(text("INSERT INTO users (user_id, name) VALUES (:u, :u)"), {"u": user_id})


def place(
    session: Session, event_id: str, user_id: str, standing: str, order: int, *, seats: int = 1
) -> None:
    session.execute(
        text(
            "INSERT INTO registrations (event_id, user_id, standing, place_order, seats, since)"
            " VALUES (:e, :u, :s, :o, :n, now())"
        ),
        {"e": event_id, "u": user_id, "s": standing, "o": order, "n": seats},
    )


# --- a sound database -------------------------------------------------------------------


def test_a_database_built_by_the_rules_passes_every_check(db: sessionmaker[Session]) -> None:
    make_event(db, "full", capacity=2, waitlist=True)
    make_event(db, "roomy", capacity=10)
    make_event(db, "empty", capacity=1)
    make_users(db, "ann", "bob", "cy", "dee", "eve")
    apply(db, "full", *(Register(u) for u in ("ann", "bob", "cy", "dee", "eve")))
    apply(db, "full", Unregister("bob"), Unregister("dee"))
    apply(db, "roomy", Register("ann"), Register("cy"))
    with db.begin() as session:
        sql(
            session,
            "INSERT INTO tickets (ticket_id, type, user_id, event_id, owner, status)"
            " VALUES ('t-fresh', 'register', 'ann', 'roomy', 'o', 'pending')",
        )

    with db.begin() as session:
        results = run_checks(session, max_pending_age=60)
        assert violations(session, max_pending_age=60) == []

    assert [r.name for r in results] == [
        "not_oversold",
        "counts_match_rows",
        "prequeue_counts_match_rows",
        "offers_end_on_time",
        "user_once_per_event",
        "order_keys_distinct",
        "order_counter_ahead",
        "line_settled",
        "registrations_reference_rows",
        "no_stale_pending",
    ]
    assert all(r.ok for r in results)


def test_an_empty_database_passes_every_check(planted: Session) -> None:
    assert violations(planted) == []


# --- each violation, planted ------------------------------------------------------------


def test_more_registered_than_capacity_is_reported(planted: Session) -> None:
    sql(planted, "ALTER TABLE events DROP CONSTRAINT ck_events_seats_within_capacity")
    sql(planted, "ALTER TABLE events DROP CONSTRAINT ck_events_offered_seats_within_capacity")
    event(planted, "over", capacity=1, registered=2)
    users(planted, "ann", "bob")
    place(planted, "over", "ann", "registered", 1)
    place(planted, "over", "bob", "registered", 2)

    assert failing(planted) == {
        "not_oversold": ["event over: 2 seats taken + 0 offered, capacity 1"]
    }


def test_counts_that_disagree_with_the_rows_are_reported(planted: Session) -> None:
    event(planted, "drift", capacity=5, registered=0)
    users(planted, "ann")
    place(planted, "drift", "ann", "registered", 1)

    assert failing(planted) == {
        "counts_match_rows": [
            "event drift: counts say 0 registered / 0 waitlisted / 0 offered (0 / 0 / 0 seats),"
            " rows say 1 / 0 / 0 (1 / 0 / 0 seats)"
        ]
    }


def test_a_user_twice_in_one_event_is_reported(planted: Session) -> None:
    sql(planted, "ALTER TABLE registrations DROP CONSTRAINT pk_registrations")
    event(planted, "twice", capacity=1, registered=1, waitlisted=1)
    users(planted, "ann")
    place(planted, "twice", "ann", "registered", 1)
    place(planted, "twice", "ann", "waitlisted", 2)

    assert failing(planted) == {
        "user_once_per_event": ["event twice: user ann has 2 registration rows"]
    }


def test_two_waitlisters_sharing_an_order_key_are_reported(planted: Session) -> None:
    event(planted, "tie", capacity=1, registered=1, waitlisted=2)
    users(planted, "ann", "bob", "cy")
    place(planted, "tie", "ann", "registered", 1)
    place(planted, "tie", "bob", "waitlisted", 2)
    place(planted, "tie", "cy", "waitlisted", 2)

    assert failing(planted) == {
        "order_keys_distinct": ["event tie: order key 2 shared by 2 users (bob, cy)"]
    }


def test_an_order_key_not_below_the_events_counter_is_reported(planted: Session) -> None:
    event(planted, "behind", capacity=2, registered=1, next_order=3)
    users(planted, "ann")
    place(planted, "behind", "ann", "registered", 3)

    assert failing(planted) == {
        "order_counter_ahead": ["event behind: order key 3 is not below next_order 3"]
    }


def test_a_waitlist_beside_free_seats_is_reported(planted: Session) -> None:
    event(planted, "gap", capacity=2, registered=1, waitlisted=1)
    users(planted, "ann", "bob")
    place(planted, "gap", "ann", "registered", 1)
    place(planted, "gap", "bob", "waitlisted", 2)

    assert failing(planted) == {
        "line_settled": ["event gap: bob could be seated (1 of 2 seats free)"]
    }


def test_a_party_that_cannot_fit_a_free_seat_is_not_a_violation(planted: Session) -> None:
    event(planted, "snug", capacity=3, registered=1, max_party=3)
    sql(planted, "UPDATE events SET waitlisted_count = 1, waitlist_seats = 3")
    users(planted, "ann", "bob")
    place(planted, "snug", "ann", "registered", 1)
    place(planted, "snug", "bob", "waitlisted", 2, seats=3)

    assert failing(planted) == {}


def test_under_fill_a_smaller_party_that_could_pass_a_stuck_head_is_reported(
    planted: Session,
) -> None:
    event(planted, "fill", capacity=3, registered=1, policy="fill", max_party=3)
    sql(planted, "UPDATE events SET waitlisted_count = 2, waitlist_seats = 4")
    users(planted, "ann", "bob", "cy")
    place(planted, "fill", "ann", "registered", 1)
    place(planted, "fill", "bob", "waitlisted", 2, seats=3)
    place(planted, "fill", "cy", "waitlisted", 3, seats=1)

    assert failing(planted) == {
        "line_settled": ["event fill: cy could be seated (2 of 3 seats free)"]
    }


def test_registrations_of_missing_users_or_events_are_reported(planted: Session) -> None:
    sql(
        planted,
        "ALTER TABLE registrations DROP CONSTRAINT fk_registrations_user_id_users",
        "ALTER TABLE registrations DROP CONSTRAINT fk_registrations_event_id_events",
    )
    event(planted, "real", capacity=5, registered=1)
    place(planted, "real", "ghost", "registered", 1)
    users(planted, "ann")
    place(planted, "gone", "ann", "registered", 1)

    found = failing(planted)

    assert found["registrations_reference_rows"] == [
        "registration (gone, ann): missing event",
        "registration (real, ghost): missing user",
    ]
    assert set(found) == {"registrations_reference_rows"}


def test_a_ticket_pending_too_long_is_reported_only_when_asked(planted: Session) -> None:
    sql(
        planted,
        "INSERT INTO tickets (ticket_id, type, user_id, event_id, owner, status, created_at)"
        " VALUES ('t-stuck', 'register', 'ann', 'e1', 'o', 'pending', now() - interval '1 hour'),"
        " ('t-new', 'register', 'bob', 'e1', 'o', 'pending', now()),"
        " ('t-done', 'register', 'cy', 'e1', 'o', 'completed', now() - interval '2 hours')",
    )

    assert failing(planted) == {}
    found = failing(planted, max_pending_age=60)
    assert list(found) == ["no_stale_pending"]
    (message,) = found["no_stale_pending"]
    assert message.startswith("ticket t-stuck (event e1) pending since ")


def test_a_flood_of_violations_is_listed_up_to_the_limit(planted: Session) -> None:
    for index in range(5):
        event(planted, f"e{index}", capacity=5)
        counts = "registered_count = 1, registered_seats = 1"
        sql(planted, f"UPDATE events SET {counts} WHERE event_id = 'e{index}'")

    (counts,) = [r for r in run_checks(planted, limit=3) if r.name == "counts_match_rows"]

    assert (len(counts.violations), counts.truncated) == (3, True)


# --- the command ------------------------------------------------------------------------


@pytest.fixture
def runner(server_urls: ServerUrls) -> CliRunner:
    return CliRunner(
        env={"DATABASE_URL": server_urls.database_url, "REDIS_URL": server_urls.redis_url}
    )


def test_the_command_passes_a_sound_database_with_exit_code_0(
    runner: CliRunner, db: sessionmaker[Session]
) -> None:
    make_event(db, "e1", capacity=1)
    make_users(db, "ann", "bob")
    apply(db, "e1", Register("ann"), Register("bob"))

    outcome = runner.invoke(main, ["check"])

    assert outcome.exit_code == 0, outcome.output
    assert "all 9 checks passed" in outcome.output
    assert "counts_match_rows" in outcome.output  # the summary table lists every check
    assert "durability (single): single server: no failover" in outcome.output


def test_the_command_reports_a_violation_with_exit_code_1(
    runner: CliRunner, db: sessionmaker[Session]
) -> None:
    make_event(db, "e1", capacity=3)
    make_users(db, "ann")
    with db.begin() as session:
        place(session, "e1", "ann", "registered", 1)  # the count still says 0

    outcome = runner.invoke(main, ["check"])

    assert outcome.exit_code == 1, outcome.output
    assert "VIOLATED" in outcome.output
    assert (
        "event e1: counts say 0 registered / 0 waitlisted / 0 offered (0 / 0 / 0 seats),"
        " rows say 1 / 0 / 0" in outcome.output
    )


def test_the_command_reports_stale_pending_tickets_with_max_pending_age(
    runner: CliRunner, db: sessionmaker[Session]
) -> None:
    with db.begin() as session:
        session.execute(
            text(
                "INSERT INTO tickets (ticket_id, type, user_id, event_id, owner, status,"
                " created_at) VALUES ('t-old', 'register', 'ann', 'e1', 'o', 'pending', :at)"
            ),
            {"at": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)},
        )

    assert runner.invoke(main, ["check"]).exit_code == 0
    outcome = runner.invoke(main, ["check", "--max-pending-age", "30"])

    assert outcome.exit_code == 1, outcome.output
    assert "ticket t-old (event e1) pending since" in outcome.output


def test_the_command_exits_2_when_the_database_cannot_be_reached(
    server_urls: ServerUrls,
) -> None:
    runner = CliRunner(
        env={
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/tessera",
            "REDIS_URL": server_urls.redis_url,
        }
    )

    outcome = runner.invoke(main, ["check"])

    assert outcome.exit_code == 2, outcome.output
    assert "cannot check the database" in outcome.output


def test_an_offer_left_open_past_its_end_is_reported(
    client: FlaskClient, worker: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    create_event(client, "late", capacity=1, promotion="offer", offerTtlSeconds=60)
    create_users(client, "ann", "bob")
    for user in ("ann", "bob"):
        client.post("/events/late/registrations", json={"userId": user}, headers=ADMIN)
    drain_event(worker, "late")
    client.delete("/events/late/registrations/ann", headers=ADMIN)
    drain_event(worker, "late")
    with db.begin() as session:
        assert violations(session) == []
        session.execute(
            text(
                "UPDATE registrations SET offer_expires_at = now() - interval '3 seconds'"
                " WHERE user_id = 'bob'"
            )
        )
        assert [v.split(" ended at")[0] for v in violations(session)] == [
            "offers_end_on_time: event late: the offer to bob"
        ]


# --- one checker: tessera check, the benchmarks and the fault runs agree --------------------
# They used to hold three SQL copies of guarantee 3 that disagreed: the benchmarks' ignored
# offered seats, the fault runs' counted parties instead of seats (so a party of 3 counted as
# one) and took an offer or a big party waiting beside a small gap for a violation.


Consumer = Callable[[Engine, ServerUrls], list[str]]  # what one consumer finds wrong


def _by_tessera_check(engine: Engine, urls: ServerUrls) -> list[str]:
    env = {"DATABASE_URL": urls.database_url, "REDIS_URL": urls.redis_url}
    outcome = CliRunner(env=env).invoke(main, ["check"])
    return [] if outcome.exit_code == 0 else [outcome.output]


def _by_the_benchmarks(engine: Engine, urls: ServerUrls) -> list[str]:
    return bench_verify.invariants(make_sessionmaker(engine))


def _by_the_fault_runs(engine: Engine, urls: ServerUrls) -> list[str]:
    return fault_verify.invariant_violations(engine)


CONSUMERS = pytest.mark.parametrize(
    "found_by", [_by_tessera_check, _by_the_benchmarks, _by_the_fault_runs]
)


def _plant(db: sessionmaker[Session], *statements: str, **events: dict[str, int]) -> None:
    with db.begin() as session:
        for event_id, counts in events.items():
            event(session, event_id, counts.pop("capacity"), max_party=3)
            sql(
                session,
                "UPDATE events SET "
                + ", ".join(f"{column} = {value}" for column, value in counts.items())
                + f" WHERE event_id = '{event_id}'",
            )
        users(session, "ann", "bob", "cy", "dee", "eve")
        sql(session, *statements)


@CONSUMERS
def test_a_party_of_three_waiting_beside_two_free_seats_and_an_open_offer_pass_every_consumer(
    found_by: Consumer, engine: Engine, db: sessionmaker[Session], server_urls: ServerUrls
) -> None:
    _plant(
        db,
        "INSERT INTO registrations (event_id, user_id, standing, place_order, seats, since)"
        " VALUES ('snug', 'ann', 'registered', 1, 1, now()),"
        " ('snug', 'bob', 'waitlisted', 2, 3, now())",
        "INSERT INTO registrations (event_id, user_id, standing, place_order, seats, since,"
        " offer_expires_at) VALUES ('held', 'cy', 'offered', 1, 2, now(),"
        " now() + interval '1 hour')",
        "UPDATE events SET next_offer_expiry = (SELECT offer_expires_at FROM registrations"
        " WHERE user_id = 'cy') WHERE event_id = 'held'",
        snug={"capacity": 3, "registered_count": 1, "registered_seats": 1,
              "waitlisted_count": 1, "waitlist_seats": 3},
        held={"capacity": 3, "offered_count": 1, "offered_seats": 2},
    )  # fmt: skip

    assert found_by(engine, server_urls) == []


@CONSUMERS
def test_seats_a_party_of_three_takes_or_an_offer_holds_beyond_the_counters_fail_every_consumer(
    found_by: Consumer, engine: Engine, db: sessionmaker[Session], server_urls: ServerUrls
) -> None:
    _plant(
        db,
        # dee's party of 3 sits where the counters see one seat: the parties agree, seats do not
        "INSERT INTO registrations (event_id, user_id, standing, place_order, seats, since)"
        " VALUES ('trio', 'dee', 'registered', 1, 3, now())",
        # eve's offer holds 3 seats the counters do not know of: 2 + 3 held of 4
        "INSERT INTO registrations (event_id, user_id, standing, place_order, seats, since,"
        " offer_expires_at) VALUES ('over', 'ann', 'registered', 1, 2, now(), NULL),"
        " ('over', 'eve', 'offered', 2, 3, now(), now() + interval '1 hour')",
        "UPDATE events SET next_offer_expiry = now() + interval '1 hour'"
        " WHERE event_id = 'over'",
        trio={"capacity": 4, "registered_count": 1, "registered_seats": 1},
        over={"capacity": 4, "registered_count": 1, "registered_seats": 2},
    )  # fmt: skip

    found = "\n".join(found_by(engine, server_urls))

    assert "event trio: counts say 1 registered" in found
    assert "event over: counts say 1 registered / 0 waitlisted / 0 offered" in found
