"""The on-sale draw with a real worker and beat (#24): nobody runs a drain by hand; the
pre-queue is drawn within 2 s of the opening and the ledger verifies."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from models.domain.ledger_verify import Views, verify
from models.domain.results import rfc3339
from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e

DRAW_LAG_SECONDS = 2.0  # the contract's bound
USERS = ("ann", "bob", "cat", "dan", "eve")


def moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_prequeue_is_drawn_within_two_seconds_of_the_opening(admin: Api) -> None:
    for user in USERS:
        admin.create_user(user)
    now = dt.datetime.now(dt.UTC)
    opens = now + dt.timedelta(seconds=5)
    body = {
        "eventId": "onsale",
        "title": "On sale",
        "description": "",
        "date": "2027-01-01",
        "location": "Arena",
        "capacity": 2,
        "organizer": "Tessera",
        "status": "active",
        "waitlistEnabled": True,
        "opening": "draw",
        "prequeueOpensAt": rfc3339(now - dt.timedelta(seconds=5)),
        "registrationOpensAt": rfc3339(opens),
    }
    created = admin.call("POST", "/events", json=body)
    assert created.status_code == 201, created.text
    tickets = [admin.register("onsale", user) for user in USERS]
    assert {admin.outcome(t)["result"]["status"] for t in tickets} == {"prequeued"}

    deadline = time.monotonic() + 20
    event = admin.call("GET", "/events/onsale").json()
    while event["drawnAt"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
        event = admin.call("GET", "/events/onsale").json()

    assert event["drawnAt"] is not None, event
    lag = (moment(event["drawnAt"]) - opens).total_seconds()
    assert 0 <= lag <= DRAW_LAG_SECONDS, lag
    assert (event["registeredCount"], event["waitlistCount"], event["prequeuedCount"]) == (2, 3, 0)
    entries = admin.call("GET", "/events/onsale/ledger", params={"limit": 1000}).json()["items"]
    (draw,) = [e for e in entries if e["kind"] == "draw"]
    assert sorted(p["userId"] for p in draw["outcome"]["drawn"]) == sorted(USERS)
    waitlist = admin.call("GET", "/events/onsale/waitlist").json()
    assert verify(entries, Views(event=event, waitlist=waitlist)).ok
