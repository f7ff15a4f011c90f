"""The approval storm (issue #23 "Done when"): applications approved in random order by 8
concurrent admin clients against a real worker end with seats and line exactly as the pure
rules say for those approvals in the order they were applied; `tessera check` and `tessera
verify` clean. A smoke size here; the full 1,000 on capacity 200 behind `slow`."""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from click.testing import CliRunner

from models.domain.approval import Approve
from models.domain.rules import Admission, EventSeats, Register
from tessera.tools.cli import main
from tessera.tools.servers import ServerUrls
from tests.e2e.conftest import ADMIN_KEY, Api

pytestmark = pytest.mark.e2e

log = logging.getLogger(__name__)

DECIDERS = 8


def storm(admin: Api, server_urls: ServerUrls, applicants: int, capacity: int) -> None:
    users = [f"app{n:04d}" for n in range(applicants)]
    batch = {"items": [{"type": "register", "userId": u, "eventId": "gate"} for u in users]}
    with ThreadPoolExecutor(DECIDERS) as pool:
        list(pool.map(lambda u: Api(admin.base_url, ADMIN_KEY).create_user(u), users))
    body = {
        "eventId": "gate",
        "title": "Workshop",
        "description": "",
        "date": "2027-01-01",
        "location": "Room 1",
        "capacity": capacity,
        "organizer": "Uni",
        "status": "active",
        "waitlistEnabled": True,
        "admission": "approval",
    }
    assert admin.call("POST", "/events", json=body).status_code == 201
    started = time.monotonic()
    accepted = admin.call("POST", "/batches", json=batch)
    assert accepted.status_code == 202, accepted.text
    wait_for_batch(admin, accepted.json()["batchId"], applicants)
    applications_s = time.monotonic() - started
    applications = admin.call("GET", "/events/gate/applications").json()
    assert [a["userId"] for a in applications] == users  # acceptance order

    order = random.Random(23).sample(users, len(users))
    slices = [order[n::DECIDERS] for n in range(DECIDERS)]

    def decide(mine: list[str]) -> list[dict[str, Any]]:
        api = Api(admin.base_url, ADMIN_KEY)
        tickets = []
        for user in mine:
            response = api.call("POST", f"/events/gate/applications/{user}/approve")
            assert response.status_code == 202, response.text
            tickets.append(response.json())
        return [api.outcome(ticket, wait=30) for ticket in tickets]

    started = time.monotonic()
    with ThreadPoolExecutor(DECIDERS) as pool:
        done = [t for outcomes in pool.map(decide, slices) for t in outcomes]
    approvals_s = time.monotonic() - started
    # The figures of the run, for the record (`-o log_cli=true --log-cli-level=INFO`).
    log.info(
        "approval storm: %d applications (one batch) applied in %.1f s; %d approvals by %d "
        "admin clients, sent and settled in %.1f s (%.0f/s); %d seated, %d waiting",
        applicants,
        applications_s,
        len(done),
        DECIDERS,
        approvals_s,
        len(done) / approvals_s,
        sum(t["result"]["status"] == "registered" for t in done),
        sum(t["result"]["status"] == "waitlisted" for t in done),
    )
    assert all(t["result"]["status"] in {"registered", "waitlisted"} for t in done)

    # The pure rules, fed the approvals in the order the ledger says they were applied.
    entries = ledger_of(admin)
    applied = [e["userId"] for e in entries if e["kind"] == "ticket" and e["type"] == "approve"]
    assert sorted(applied) == sorted(users)
    expected = EventSeats.empty(capacity, waitlist_enabled=True, admission=Admission.APPROVAL)
    for user in users:
        expected.handle(Register(user))
    for user in applied:
        expected.handle(Approve(user))
    seated = [
        u
        for u, m in sorted(
            ((u, m) for u, m in expected.members.items() if m is not None),
            key=lambda pair: pair[1].order,
        )
        if m.standing.value == "registered"
    ]
    registrations = admin.call("GET", "/events/gate/registrations").json()
    waitlist = admin.call("GET", "/events/gate/waitlist").json()
    assert [r["userId"] for r in registrations] == seated
    assert [w["userId"] for w in waitlist] == list(expected.waitlist)
    assert [w["userId"] for w in waitlist] == sorted(w["userId"] for w in waitlist)
    event = admin.call("GET", "/events/gate").json()
    assert (event["registeredSeats"], event["applicationCount"]) == (capacity, 0)

    runner = CliRunner(
        env={"DATABASE_URL": server_urls.database_url, "REDIS_URL": server_urls.redis_url}
    )
    checked = runner.invoke(main, ["check"])
    assert checked.exit_code == 0, checked.output
    verified = runner.invoke(main, ["verify", "gate", "--url", admin.base_url, "--key", ADMIN_KEY])
    assert verified.exit_code == 0, verified.output


def wait_for_batch(admin: Api, batch_id: str, total: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        batch = admin.call("GET", f"/batches/{batch_id}").json()
        if batch["completed"] == total:
            return
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} not applied: {batch}")


def ledger_of(admin: Api) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = admin.call("GET", "/events/gate/ledger", params={"after": after, "limit": 1000})
        body = page.json()
        entries += body["items"]
        after = body["nextAfter"]
    return entries


def test_an_approval_storm_ends_as_the_pure_rules_say(admin: Api, server_urls: ServerUrls) -> None:
    storm(admin, server_urls, applicants=96, capacity=20)


@pytest.mark.slow
def test_the_full_approval_storm_ends_as_the_pure_rules_say(
    admin: Api, server_urls: ServerUrls
) -> None:
    storm(admin, server_urls, applicants=1000, capacity=200)
