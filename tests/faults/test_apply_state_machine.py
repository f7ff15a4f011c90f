"""The REAL apply path on PostgreSQL, driven by Hypothesis against a naive in-memory model.

Commands go in as ticket rows (`models.storage.tickets.insert_tickets`) and are applied by
`workers.drain_event`, in batches of two so that a drain spans several transactions.
Between submitting and draining, the machine may change capacity, switch the waitlist, delete
or re-create users, submit more, or drain again (a redelivered wake-up): whatever order the
steps come in, every ticket's result, every seat and every waitlist place must be what the
model (tests/unit/reference_model.py, sharing no code with models/) says, each ticket must be
completed exactly once, and the invariants must hold after every step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import redis
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from models import services
from models.domain.errors import CapacityBelowRegistered, UserNotFound
from models.storage import invariants
from models.storage.event_log import REGISTRATION_PROMOTED, TICKET_COMPLETED
from models.storage.tables import Event, Registration, Ticket, User
from models.storage.tickets import NewTicket, insert_tickets
from tessera.config import Settings
from tessera.tools.servers import ServerUrls
from tests.conftest import wipe
from tests.drain import drain_event
from tests.unit.reference_model import ReferenceEvent, RefOutcome, Rejected
from workers import runtime

pytestmark = pytest.mark.integration

USERS = ("ann", "bob", "cy", "dee", "eve")
EVENTS = {"open": True, "closed": False}  # event id → waitlist enabled
GHOST = "ghost"  # an event that never exists
NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)

users = st.sampled_from(USERS)
events = st.sampled_from(sorted(EVENTS))
any_event = st.sampled_from([*sorted(EVENTS), GHOST])
commands = st.lists(
    st.tuples(st.sampled_from(["register", "unregister"]), users, any_event),
    min_size=1,
    max_size=6,
)


class NoSender:
    """drain_event never wakes anything; the sweeper is not part of this machine."""

    def send_task(self, name: str, args: list[Any], **options: Any) -> object:
        raise AssertionError(f"unexpected task {name}{args}")


def expected_result(outcome: RefOutcome) -> dict[str, Any]:
    status = outcome[0]
    return {
        "status": status,
        "code": outcome[2] if status == "denied" else None,
        "position": outcome[2] if status == "waitlisted" else None,
        "promotedUserId": outcome[3] if status == "unregistered" else None,
    }


class ApplyMachine(RuleBasedStateMachine):
    sessions: ClassVar[sessionmaker[Session]]
    engine: ClassVar[Engine]
    runtime: ClassVar[runtime.Runtime]

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, ReferenceEvent] = {}
        self.users: set[str] = set()
        self.pending: dict[str, list[tuple[str, str, str]]] = {}  # event → (ticket, kind, user)
        self.completed: set[str] = set()

    # --- set-up -------------------------------------------------------------------------

    @initialize(open_capacity=st.integers(1, 3), closed_capacity=st.integers(1, 3))
    def start(self, open_capacity: int, closed_capacity: int) -> None:
        wipe(self.engine)
        capacities = {"open": open_capacity, "closed": closed_capacity}
        with self.sessions.begin() as session:
            session.add_all(User(user_id=u, name=u) for u in USERS)
            session.add_all(
                Event(
                    event_id=event_id,
                    title=event_id,
                    description="",
                    date=dt.date(2026, 12, 1),
                    location="Hall",
                    capacity=capacities[event_id],
                    organizer="Org",
                    status="active",
                    waitlist_enabled=waitlist,
                )
                for event_id, waitlist in EVENTS.items()
            )
        self.users = set(USERS)
        self.model = {
            event_id: ReferenceEvent.new(capacities[event_id], waitlist_enabled=waitlist)
            for event_id, waitlist in EVENTS.items()
        }
        self.pending = {event_id: [] for event_id in [*EVENTS, GHOST]}

    # --- commands as tickets --------------------------------------------------------------

    def _submit(self, batch: list[tuple[str, str, str]]) -> None:
        with self.sessions.begin() as session:
            ids = insert_tickets(
                session,
                [NewTicket(kind, user, event) for kind, user, event in batch],  # type: ignore[arg-type]
                owner="machine",
            )
        for ticket_id, (kind, user, event) in zip(ids, batch, strict=True):
            self.pending[event].append((ticket_id, kind, user))

    def _model_apply(self, event_id: str, kind: str, user: str) -> RefOutcome:
        if event_id == GHOST:
            return ("denied", user, "EVENT_NOT_FOUND")
        if user not in self.users:
            return ("denied", user, "USER_NOT_FOUND")
        event = self.model[event_id]
        return event.register(user) if kind == "register" else event.unregister(user)

    def _drain(self, event_id: str) -> None:
        waiting = self.pending[event_id]
        report = drain_event(self.runtime, event_id)
        assert report.applied == len(waiting), (report, waiting)
        if not waiting:
            return
        with self.sessions.begin() as session:
            found = {
                t.ticket_id: (t.status, t.result)
                for t in session.scalars(
                    select(Ticket).where(Ticket.ticket_id.in_([w[0] for w in waiting]))
                )
            }
        for ticket_id, kind, user in waiting:
            expected = expected_result(self._model_apply(event_id, kind, user))
            status, result = found[ticket_id]
            assert status == "completed", (ticket_id, status)
            assert result is not None
            got = {k: result[k] for k in ("status", "code", "position", "promotedUserId")}
            assert got == expected, (event_id, kind, user, got, expected)
            self.completed.add(ticket_id)
        self.pending[event_id] = []

    @rule(batch=commands)
    def submit_and_wake(self, batch: list[tuple[str, str, str]]) -> None:
        """Accepted, then woken: the events named are drained."""
        self._submit(batch)
        for event_id in dict.fromkeys(event for _, _, event in batch):
            self._drain(event_id)

    @rule(batch=commands)
    def submit_and_lose_the_wake_up(self, batch: list[tuple[str, str, str]]) -> None:
        """Accepted, but the wake-up is lost: the tickets stay pending until a later drain."""
        self._submit(batch)

    @rule(event_id=any_event)
    def deliver_or_redeliver_a_wake_up(self, event_id: str) -> None:
        """A (late, or duplicate) wake-up: applies what is pending, and nothing twice."""
        self._drain(event_id)

    # --- synchronous seat changes ----------------------------------------------------------

    @rule(event_id=events, capacity=st.integers(1, 6))
    def change_capacity(self, event_id: str, capacity: int) -> None:
        model = self.model[event_id]
        try:
            expected = model.change_capacity(capacity)
        except Rejected:
            with pytest.raises(CapacityBelowRegistered), self.sessions.begin() as session:
                services.update_event(session, event_id, {"capacity": capacity}, NOW)
            return
        with self.sessions.begin() as session:
            published = services.update_event(session, event_id, {"capacity": capacity}, NOW)
        promoted = [u.payload["userId"] for u in published if u.kind == REGISTRATION_PROMOTED]
        assert tuple(promoted) == expected[2]

    @rule(event_id=events, enabled=st.booleans())
    def switch_the_waitlist(self, event_id: str, enabled: bool) -> None:
        with self.sessions.begin() as session:
            services.update_event(session, event_id, {"waitlist_enabled": enabled}, NOW)
        self.model[event_id].set_waitlist_enabled(enabled)

    @rule(user=users)
    def delete_user(self, user: str) -> None:
        if user not in self.users:
            with pytest.raises(UserNotFound), self.sessions.begin() as session:
                services.remove_user(session, user, NOW)
            return
        with self.sessions.begin() as session:
            published = services.remove_user(session, user, NOW)
        self.users.discard(user)
        expected = {
            event_id: removed[3]
            for event_id, event in sorted(self.model.items())
            if (removed := event.remove_user(user))[3] is not None
        }
        promoted = {
            u.event_id: u.payload["userId"] for u in published if u.kind == REGISTRATION_PROMOTED
        }
        assert promoted == expected

    @precondition(lambda self: len(self.users) < len(USERS))
    @rule(user=users)
    def create_user_again(self, user: str) -> None:
        if user in self.users:
            return
        with self.sessions.begin() as session:
            session.add(User(user_id=user, name=user))
        self.users.add(user)

    # --- after every step ----------------------------------------------------------------

    @invariant()
    def the_database_agrees_with_the_model(self) -> None:
        if not self.model:
            return
        with self.sessions.begin() as session:
            for event_id, model in self.model.items():
                event = session.get_one(Event, event_id)
                seated = set(
                    session.scalars(
                        select(Registration.user_id).where(
                            Registration.event_id == event_id,
                            Registration.standing == "registered",
                        )
                    )
                )
                waiting = list(
                    session.scalars(
                        select(Registration.user_id)
                        .where(
                            Registration.event_id == event_id,
                            Registration.standing == "waitlisted",
                        )
                        .order_by(Registration.place_order)
                    )
                )
                assert seated == set(model.seated), (event_id, seated, model.seated)
                assert waiting == model.waiting, (event_id, waiting, model.waiting)
                assert (event.capacity, event.waitlist_enabled) == (
                    model.capacity,
                    model.waitlist_enabled,
                )
                assert (event.registered_count, event.waitlisted_count) == (
                    len(model.seated),
                    len(model.waiting),
                )

    @invariant()
    def the_contract_invariants_hold(self) -> None:
        with self.sessions.begin() as session:
            assert invariants.violations(session) == []

    @invariant()
    def every_applied_ticket_completed_exactly_once_and_the_rest_wait(self) -> None:
        if not self.model:
            return
        with self.sessions.begin() as session:
            rows = session.execute(
                text(
                    "SELECT payload->>'ticketId', count(*) FROM event_log"
                    " WHERE kind = :kind GROUP BY 1"
                ),
                {"kind": TICKET_COMPLETED},
            )
            completions = {str(row[0]): int(row[1]) for row in rows}
            pending = set(
                session.scalars(select(Ticket.ticket_id).where(Ticket.status == "pending"))
            )
        assert set(completions) == self.completed
        assert all(count == 1 for count in completions.values()), completions
        assert pending == {t for waiting in self.pending.values() for t, _, _ in waiting}


@pytest.fixture
def machine_runtime(
    server_urls: ServerUrls, db: sessionmaker[Session], redis_client: redis.Redis
) -> Iterator[runtime.Runtime]:
    built = runtime.build(
        Settings(
            database_url=server_urls.database_url,
            redis_url=server_urls.redis_url,
            apply_batch_size=2,  # drains span several transactions
            sweep_min_age_seconds=0,
        ),
        NoSender(),
    )
    yield built
    built.engine.dispose()
    built.redis.close()


def test_the_real_apply_path_agrees_with_the_naive_model_whatever_the_order_of_steps(
    db: sessionmaker[Session], engine: Engine, machine_runtime: runtime.Runtime
) -> None:
    ApplyMachine.sessions = db
    ApplyMachine.engine = engine
    ApplyMachine.runtime = machine_runtime
    run_state_machine_as_test(
        ApplyMachine,
        settings=settings(max_examples=25, stateful_step_count=20, deadline=None),
    )
