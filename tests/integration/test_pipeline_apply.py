"""The apply loop, the sweeper and wake-up coalescing on real PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from models.domain import rules
from models.domain.updates import Update
from models.storage import locks, tickets
from models.storage.tables import Event, EventLogEntry, Registration, Ticket
from models.storage.tickets import NewTicket, insert_tickets
from tessera import messaging
from tessera.config import Settings
from tessera.messaging import DRAIN_KEY, DRAIN_TASK, REDIS_SOCKET_TIMEOUT, Waker
from tessera.tools.servers import ServerUrls
from tests.drain import drain_event
from tests.integration.conftest import listening
from tests.integration.test_seats_persistence import make_event, make_users
from workers import apply, runtime, sweeper

pytestmark = pytest.mark.integration


class RecordingSender:
    """Stands in for Celery's producer only: records the tasks sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_task(self, name: str, args: list[Any], **_: Any) -> object:
        assert (name, args) == (DRAIN_TASK, [])
        self.sent.append(name)
        return None


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def rt(
    server_urls: ServerUrls,
    db: sessionmaker[Session],
    redis_client: redis.Redis,
    sender: RecordingSender,
) -> Iterator[runtime.Runtime]:
    settings = Settings(
        database_url=server_urls.database_url,
        redis_url=server_urls.redis_url,
        apply_batch_size=50,
        sweep_min_age_seconds=0,
    )
    built = runtime.build(settings, sender)
    yield built
    built.engine.dispose()


def submit(db: sessionmaker[Session], event_id: str, *commands: tuple[str, str]) -> list[str]:
    with db.begin() as session:
        return insert_tickets(
            session,
            [NewTicket(kind, user, event_id) for kind, user in commands],
            owner="t",  # type: ignore[arg-type]
        )


def results(db: sessionmaker[Session], ticket_ids: list[str]) -> list[tuple[str, Any]]:
    """(status, result) of each ticket, in the order given."""
    with db.begin() as session:
        rows = session.execute(
            select(Ticket.ticket_id, Ticket.status, Ticket.result).where(
                Ticket.ticket_id.in_(ticket_ids)
            )
        )
        found = {ticket_id: (status, result) for ticket_id, status, result in rows}
    return [found[t] for t in ticket_ids]


def statuses(db: sessionmaker[Session], ticket_ids: list[str]) -> list[str | None]:
    return [r["status"] if r else status for status, r in results(db, ticket_ids)]


def invariants_hold(db: sessionmaker[Session], event_id: str) -> None:
    with db.begin() as session:
        event = session.get_one(Event, event_id)
        seated = session.scalar(
            select(func.count()).where(
                Registration.event_id == event_id, Registration.standing == "registered"
            )
        )
        waiting = session.scalar(
            select(func.count()).where(
                Registration.event_id == event_id, Registration.standing == "waitlisted"
            )
        )
    assert (event.registered_count, event.waitlisted_count) == (seated, waiting)
    assert event.registered_count <= event.capacity
    assert waiting == 0 or event.registered_count == event.capacity


def test_tickets_are_applied_in_acceptance_order_across_batches(
    rt: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    make_event(db, capacity=30)
    users = [f"u{i:03}" for i in range(120)]
    make_users(db, *users)
    ids = submit(db, "e1", *(("register", u) for u in users))

    report = drain_event(rt, "e1")

    assert report.applied == 120
    assert report.batch_sizes == [50, 50, 20]
    outcome = [r for _, r in results(db, ids)]
    assert [r["status"] for r in outcome[:30]] == ["registered"] * 30
    assert [r["position"] for r in outcome[30:]] == list(range(1, 91))
    invariants_hold(db, "e1")


def test_unregistering_a_seat_promotes_the_head_and_publishes_both_updates(
    rt: runtime.Runtime, db: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    make_event(db, capacity=1)
    make_users(db, "ann", "bob", "cy")
    submit(db, "e1", ("register", "ann"), ("register", "bob"), ("register", "cy"))
    drain_event(rt, "e1")
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.subscribe("tessera:event:e1")
    pubsub.get_message(timeout=1)

    (ticket,) = submit(db, "e1", ("unregister", "ann"))
    drain_event(rt, "e1")

    ((status, result),) = results(db, [ticket])
    assert status == "completed"
    assert result["status"] == "unregistered"
    assert result["promotedUserId"] == "bob"
    kinds = []
    for _ in range(2):
        message = pubsub.get_message(timeout=2)
        assert message is not None
        kinds.append(message["data"])
    assert b"ticket.completed" in kinds[0]
    assert b"registration.promoted" in kinds[1]
    pubsub.close()
    with db.begin() as session:
        log = session.scalars(select(EventLogEntry.kind).order_by(EventLogEntry.id)).all()
    assert log[-2:] == ["ticket.completed", "registration.promoted"]


def test_unknown_users_and_events_are_denied_on_the_ticket(
    rt: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    make_event(db, capacity=5)
    make_users(db, "ann")
    (ghost,) = submit(db, "e1", ("register", "ghost"))
    (nowhere,) = submit(db, "missing", ("register", "ann"))

    drain_event(rt, "e1")
    drain_event(rt, "missing")

    assert [(r["status"], r["code"]) for _, r in results(db, [ghost, nowhere])] == [
        ("denied", "USER_NOT_FOUND"),
        ("denied", "EVENT_NOT_FOUND"),
    ]


def test_draining_twice_or_concurrently_applies_each_ticket_once(
    rt: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    make_event(db, capacity=50)
    users = [f"u{i:03}" for i in range(300)]
    make_users(db, *users)
    ids = submit(db, "e1", *(("register", u) for u in users))
    with db.begin() as session:
        log_before = session.scalar(select(func.count()).select_from(EventLogEntry))

    threads = [threading.Thread(target=drain_event, args=(rt, "e1")) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drain_event(rt, "e1")  # a redelivered wake-up finds nothing to do

    with db.begin() as session:
        completions = session.scalar(
            select(func.count())
            .select_from(EventLogEntry)
            .where(EventLogEntry.kind == "ticket.completed")
        )
    assert completions - (log_before or 0) == 300
    outcome = [r for _, r in results(db, ids)]
    assert [r["status"] for r in outcome].count("registered") == 50
    assert [r["position"] for r in outcome[50:]] == list(range(1, 251))
    invariants_hold(db, "e1")


def test_a_ticket_the_rules_cannot_take_fails_alone_and_the_rest_complete(
    rt: runtime.Runtime, db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_event(db, capacity=10)
    make_users(db, "ann", "bob", "cy")
    ids = submit(db, "e1", ("register", "ann"), ("register", "bob"), ("register", "cy"))
    real_handle = rules.EventSeats.handle

    def broken_for_bob(seats: rules.EventSeats, command: rules.Command) -> rules.Outcome:
        if getattr(command, "user_id", None) == "bob":
            raise RuntimeError("a bug that only bob's ticket triggers")
        return real_handle(seats, command)

    monkeypatch.setattr(rules.EventSeats, "handle", broken_for_bob)
    apply.drain(rt)  # the worker's own drain: it isolates and fails the ticket

    assert statuses(db, ids) == ["registered", "failed", "registered"]
    invariants_hold(db, "e1")


def test_the_sweeper_wakes_only_events_with_stale_pending_tickets(
    rt: runtime.Runtime, db: sessionmaker[Session], sender: RecordingSender
) -> None:
    make_event(db, "e1", capacity=1)
    make_event(db, "e2", capacity=1)
    make_users(db, "ann")
    submit(db, "e1", ("register", "ann"))
    submit(db, "e2", ("register", "ann"))
    drain_event(rt, "e2")

    report = sweeper.sweep(rt, now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))

    assert report.woken == ["e1"]
    assert sender.sent == [DRAIN_TASK]


def test_the_sweeper_purges_expired_idempotency_keys_and_old_log_entries(
    rt: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    with db.begin() as session:
        session.execute(
            text(
                "INSERT INTO idempotency_keys (owner, key, request_fingerprint, created_at)"
                " VALUES ('o', 'old', 'f', now() - interval '25 hours'),"
                " ('o', 'new', 'f', now())"
            )
        )
        session.execute(
            text(
                "INSERT INTO event_log (event_id, kind, payload, created_at)"
                " VALUES ('e', 'ticket.completed', '{}', now() - interval '2 hours')"
            )
        )

    report = sweeper.sweep(rt)

    assert (report.purged_keys, report.purged_log) == (1, 1)


def test_a_burst_of_wake_ups_sends_one_task_until_the_worker_has_drained(
    rt: runtime.Runtime, redis_client: redis.Redis, sender: RecordingSender
) -> None:
    waker = Waker(redis_client, sender)
    for _ in range(1000):
        waker.wake(["hot"])
    assert sender.sent == [DRAIN_TASK]

    apply.drain(rt)  # a worker that finds nothing more clears the key before it stops
    assert redis_client.get(DRAIN_KEY) is None
    waker.wake(["hot"])
    assert sender.sent == [DRAIN_TASK, DRAIN_TASK]


def test_a_draining_worker_keeps_senders_quiet_until_it_stops(
    rt: runtime.Runtime,
    db: sessionmaker[Session],
    redis_client: redis.Redis,
    sender: RecordingSender,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_event(db, capacity=5)
    make_users(db, "ann", "bob")
    submit(db, "e1", ("register", "ann"))
    waker = Waker(redis_client, sender)
    woken_while_draining: list[bool] = []
    real_pass = apply.apply_pass

    def accepting_meanwhile(*args: Any, **kwargs: Any) -> Any:
        woken_while_draining.append(waker.wake(["e1"]))
        return real_pass(*args, **kwargs)

    monkeypatch.setattr(apply, "apply_pass", accepting_meanwhile)
    apply.drain(rt)

    # before it had work a wake-up queued a task; once it applied something, accepts queued
    # nothing; its last look came after it let go of the key, so that wake-up queued again
    assert woken_while_draining == [True, False, True]
    assert sender.sent == [DRAIN_TASK, DRAIN_TASK]


def test_a_wake_up_while_redis_is_unreachable_is_swallowed(
    sender: RecordingSender,
) -> None:
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    assert Waker(unreachable, sender).wake(["e1"]) is False
    assert sender.sent == []


def test_after_a_failed_wake_up_the_next_ones_give_up_at_once_for_the_pause(
    redis_client: redis.Redis, sender: RecordingSender
) -> None:
    waker = Waker(redis_client, sender, pause_after_failure=0.5)
    reachable = waker.client
    # a host that drops packets (TEST-NET-1): an attempt waits for the whole socket timeout,
    # once (redis-py's default retries would make it four)
    waker.client = messaging.redis_client("redis://192.0.2.1:6379/0")
    started = time.monotonic()
    assert waker.wake(["e1"]) is False
    assert waker.wake(["e1"]) is False
    assert time.monotonic() - started < REDIS_SOCKET_TIMEOUT * 1.5  # one timeout, not two

    waker.client = reachable
    assert waker.wake(["e1"]) is False  # still paused: not even tried
    time.sleep(0.5)
    assert waker.wake(["e1"]) is True  # the pause is over
    assert sender.sent == [DRAIN_TASK]


def test_waking_many_events_at_once_costs_one_message(
    redis_client: redis.Redis, sender: RecordingSender
) -> None:
    waker = Waker(redis_client, sender)
    events = [f"e{i}" for i in range(1000)]

    assert waker.wake(events) is True
    assert waker.wake(events) is False  # still queued: coalesced

    assert sender.sent == [DRAIN_TASK]


def test_a_drain_that_ran_dry_applies_what_a_nudge_brings_without_a_new_task(
    rt: runtime.Runtime,
    db: sessionmaker[Session],
    redis_client: redis.Redis,
    sender: RecordingSender,
) -> None:
    make_event(db, capacity=5)
    make_users(db, "ann", "bob")
    submit(db, "e1", ("register", "ann"))
    waker = Waker(redis_client, sender)
    assert waker.wake(["e1"]) is True  # the task that will drain

    def later() -> None:
        time.sleep(0.3)
        submit(db, "e1", ("register", "bob"))
        waker.wake(["e1"])  # the drain is lingering: only a nudge

    threading.Thread(target=later).start()
    report = apply.drain(rt, linger=2.0)

    assert report.applied == 2
    assert sender.sent == [DRAIN_TASK]
    assert redis_client.get(DRAIN_KEY) is None


def test_taking_events_tells_busy_only_when_another_worker_holds_them(
    db: sessionmaker[Session],
) -> None:
    make_event(db, capacity=5)
    make_users(db, "ann")
    with db.begin() as nothing_yet:
        taken = locks.take_pending_events(nothing_yet, 10)
        assert (taken.events, taken.others_busy) == ([], False)
    submit(db, "e1", ("register", "ann"))
    with db.begin() as holder:
        assert locks.take_pending_events(holder, 10).events == ["e1"]
        with db.begin() as other:
            taken = locks.take_pending_events(other, 10)
            assert (taken.events, taken.others_busy) == ([], True)


def test_a_pass_leaves_tickets_accepted_after_it_began_to_the_next_one(
    db: sessionmaker[Session], rt: runtime.Runtime
) -> None:
    # Under READ COMMITTED, a pass's later statements see tickets committed after its
    # transaction began; completing one with the pass's `now` would date it before its
    # acceptance (the multi-host clock drill caught it).
    make_event(db, capacity=5)
    make_users(db, "ann", "bob")
    first = submit(db, "e1", ("register", "ann"))
    with rt.sessions.begin() as session:
        taken = locks.take_pending_events(session, 10)
        time.sleep(0.01)  # acceptance times are in milliseconds
        later = submit(db, "e1", ("register", "bob"))  # committed while this pass runs
        batch = tickets.pending_tickets(session, taken.events, 10, accepted_by=taken.now)
    assert [t.ticket_id for t in batch] == first

    apply.drain(rt)

    with db.begin() as session:
        dates = session.execute(
            select(Ticket.ticket_id, Ticket.created_at, Ticket.completed_at).where(
                Ticket.ticket_id.in_(first + later)
            )
        ).all()
    assert all(completed >= created for _, created, completed in dates), dates


def test_a_pass_publishes_every_update_in_order_whatever_its_size(
    redis_client: redis.Redis,
) -> None:
    """Updates go out as scripts of up to PUBLISH_PER_SCRIPT messages each: a pass larger than
    one script still delivers every message once, in the pass's order, on its event's channel."""
    count = 2 * messaging.PUBLISH_PER_SCRIPT + 7
    updates = [
        Update("e1" if i % 3 else "e2", "event.updated", {"n": i}, log_id=i) for i in range(count)
    ]
    with (
        listening(redis_client, messaging.event_channel("e1")) as first,
        listening(redis_client, messaging.event_channel("e2")) as second,
    ):
        messaging.publish(redis_client, updates)

    assert [m["data"]["n"] for m in first] == [i for i in range(count) if i % 3]
    assert [m["data"]["n"] for m in second] == [i for i in range(count) if not i % 3]
    assert [m["id"] for m in first][:3] == [1, 2, 4]


def test_a_pass_shares_its_tickets_among_its_events_and_knows_which_it_took_whole(
    db: sessionmaker[Session],
) -> None:
    for event_id in ("e1", "e2", "e3"):
        make_event(db, event_id, capacity=50)
    make_users(db, *(f"u{i}" for i in range(20)))
    big = submit(db, "e3", *(("register", f"u{i}") for i in range(20)))
    one = submit(db, "e1", ("register", "u0"))
    two = submit(db, "e2", ("register", "u0"), ("register", "u1"))

    with db.begin() as session:
        share = tickets.pending_share(session, ["e3", "e1", "e2"], 10)

    # an equal part each (3), then what e1 and e2 left (4) offered again to e3
    taken = [t.ticket_id for t in share.tickets]
    assert sorted(taken) == sorted(big[:7] + one + two)
    assert [t.seq for t in share.tickets] == sorted(t.seq for t in share.tickets)
    assert share.whole == {"e1", "e2"}

    with db.begin() as session:
        crowded = tickets.pending_share(session, ["e3", "e1", "e2"], 2)
    # more events than room: the first ones in the order given, one each; none whole
    assert [t.ticket_id for t in crowded.tickets] == [big[0], one[0]]
    assert crowded.whole == frozenset()


def test_one_events_backlog_does_not_hold_back_another_events_ticket(
    db: sessionmaker[Session], rt: runtime.Runtime
) -> None:
    make_event(db, "e1", capacity=100)
    make_event(db, "e2", capacity=1)
    make_users(db, *(f"u{i}" for i in range(60)))
    submit(db, "e1", *(("register", f"u{i}") for i in range(60)))
    late = submit(db, "e2", ("register", "u0"))

    assert apply.apply_pass(rt, 20) == (apply.PassState.PARTIAL, 20)

    with db.begin() as session:
        done = session.scalars(select(Ticket.ticket_id).where(Ticket.status == "completed")).all()
    assert late[0] in done  # in the first pass, beside 19 of e1's 60
    apply.drain(rt)
    with db.begin() as session:
        registered = session.scalars(
            select(Registration.place_order)
            .where(Registration.event_id == "e1")
            .order_by(Registration.place_order)
        ).all()
        users = session.scalars(
            select(Registration.user_id)
            .where(Registration.event_id == "e1")
            .order_by(Registration.place_order)
        ).all()
    assert users == [f"u{i}" for i in range(60)]  # e1's order kept across the passes
    assert len(registered) == 60
