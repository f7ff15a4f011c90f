"""Commands over HTTP, applied by a real Celery worker, observed through their tickets."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.storage.tables import Event, EventLogEntry, Registration, Ticket
from tests.e2e.conftest import CLIENT_KEY, Api

pytestmark = pytest.mark.e2e


def test_register_waitlist_deny_unregister_promote_and_leave_the_waitlist(
    admin: Api, client: Api
) -> None:
    for user in ("ann", "bob", "cy", "dee"):
        admin.create_user(user)
    admin.create_event("launch", capacity=1, waitlist=True)
    admin.create_event("closed", capacity=1, waitlist=False)

    assert client.outcome(client.register("launch", "ann"))["result"]["status"] == "registered"
    bob = client.outcome(client.register("launch", "bob"))["result"]
    assert (bob["status"], bob["position"]) == ("waitlisted", 1)
    cy = client.outcome(client.register("launch", "cy"))["result"]
    assert (cy["status"], cy["position"]) == ("waitlisted", 2)
    again = client.outcome(client.register("launch", "bob"))["result"]
    assert (again["status"], again["code"]) == ("denied", "ALREADY_WAITLISTED")

    client.outcome(client.register("closed", "ann"))
    full = client.outcome(client.register("closed", "dee"))["result"]
    assert (full["status"], full["code"]) == ("denied", "EVENT_FULL")

    left = client.outcome(client.unregister("launch", "ann"))["result"]
    assert (left["status"], left["promotedUserId"]) == ("unregistered", "bob")
    assert client.outcome(client.unregister("launch", "cy"))["result"]["status"] == "unregistered"
    nobody = client.outcome(client.unregister("launch", "dee"))["result"]
    assert (nobody["status"], nobody["code"]) == ("denied", "NOT_REGISTERED")

    standing = client.call("GET", "/events/launch/registrations/bob").json()
    assert standing == {"status": "registered", "seats": 1, "position": None}
    assert client.call("GET", "/events/launch/waitlist").json() == []


@dataclass
class Sent:
    sent_at: float
    answered_at: float
    ticket: dict[str, Any]


def test_a_hot_event_seats_exactly_its_capacity_and_queues_the_rest_in_acceptance_order(
    admin: Api, db: sessionmaker[Session]
) -> None:
    """2,000 registers from 32 concurrent clients, capacity 200, two worker processes."""
    users = [f"u{i:04}" for i in range(2000)]
    with db.begin() as session:
        # users straight into the table: this test is about the commands, not 2,000 POSTs
        from models.storage.tables import User

        session.add_all(User(user_id=u, name=u) for u in users)
    admin.create_event("hot", capacity=200, waitlist=True)
    clients = [Api(admin.base_url, CLIENT_KEY) for _ in range(32)]

    def send(index: int) -> Sent:
        api = clients[index % 32]
        sent_at = time.monotonic()
        ticket = api.register("hot", users[index])
        return Sent(sent_at, time.monotonic(), ticket)

    with ThreadPoolExecutor(max_workers=32) as pool:
        sent = list(pool.map(send, range(len(users))))
    results = {}
    for item in sent:
        done = clients[0].outcome(item.ticket, wait=30)
        results[done["ticketId"]] = done["result"]

    statuses = [r["status"] for r in results.values()]
    assert statuses.count("registered") == 200
    assert statuses.count("waitlisted") == 1800

    with db.begin() as session:
        # The event log's ticket.completed rows are written in apply order (under the
        # event's lock), so their ids are the order the worker applied the tickets in.
        applied_at = {
            payload["ticketId"]: log_id
            for log_id, payload in session.execute(
                select(EventLogEntry.id, EventLogEntry.payload).where(
                    EventLogEntry.kind == "ticket.completed"
                )
            )
        }
        pending = session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.status != "completed")
        )
        event = session.get_one(Event, "hot")
        rows = session.scalar(
            select(func.count()).select_from(Registration).where(Registration.event_id == "hot")
        )
    assert pending == 0
    assert len(applied_at) == 2000
    assert (event.registered_count, event.waitlisted_count, rows) == (200, 1800, 2000)

    # In apply order the first 200 took the seats and the rest hold positions 1..1800.
    in_apply_order = sorted(sent, key=lambda s: applied_at[s.ticket["ticketId"]])
    outcome = [results[s.ticket["ticketId"]] for s in in_apply_order]
    assert [r["status"] for r in outcome[:200]] == ["registered"] * 200
    assert [r["position"] for r in outcome[200:]] == list(range(1, 1801))

    # Guarantee 2: a ticket whose 202 came back before another was sent is applied first.
    # (Requests in flight at the same time may be applied in either order.)
    by_answer = sorted(sent, key=lambda s: s.answered_at)
    latest_applied = 0
    answered = 0
    for later in sorted(sent, key=lambda s: s.sent_at):
        while answered < len(by_answer) and by_answer[answered].answered_at < later.sent_at:
            latest_applied = max(latest_applied, applied_at[by_answer[answered].ticket["ticketId"]])
            answered += 1
        assert applied_at[later.ticket["ticketId"]] > latest_applied
