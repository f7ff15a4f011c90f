"""Approval over HTTP (contract v3 "Approval"): registers become applications, an approved
party takes the place its acceptance gave it, every decision a ticket in the ledger. Real
PostgreSQL and Redis; the worker's apply loop runs in the test process."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from models.domain.ledger_verify import verify
from models.storage.invariants import violations
from tessera.tools.ledger_sources import DatabaseSource
from tessera.tools.servers import ServerUrls
from tests.drain import drain_event
from tests.integration.conftest import ADMIN, CLIENT, create_event, create_users, get_json
from workers import runtime

pytestmark = pytest.mark.integration


def command(http: FlaskClient, method: str, path: str, **kwargs: Any) -> Any:
    kwargs.setdefault("headers", CLIENT)
    response = http.open(path, method=method, **kwargs)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def register(http: FlaskClient, user: str, seats: int = 1) -> Any:
    return command(http, "POST", "/events/e1/registrations", json={"userId": user, "seats": seats})


def decide(http: FlaskClient, verb: str, user: str, **kwargs: Any) -> Any:
    kwargs.setdefault("headers", ADMIN)
    return command(http, "POST", f"/events/e1/applications/{user}/{verb}", **kwargs)


def result(http: FlaskClient, ticket: dict[str, Any]) -> Any:
    response = http.get(f"/tickets/{ticket['ticketId']}", headers=ADMIN)  # an admin sees all
    view = response.get_json()
    assert view["status"] == "completed", view
    return view["result"]


def set_admission(http: FlaskClient, admission: str) -> None:
    response = http.put("/events/e1", json={"admission": admission}, headers=ADMIN)
    assert response.status_code == 200, response.get_json()


def test_a_register_under_approval_is_an_application_holding_nothing(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_users(client, "ann", "bob")
    created = create_event(client, capacity=2, admission="approval", maxPartySize=2)
    assert (created["admission"], created["applicationCount"]) == ("approval", 0)

    first = register(client, "ann", 2)
    second = register(client, "bob")
    drain_event(worker, "e1")
    again = register(client, "ann")
    drain_event(worker, "e1")

    assert result(client, first)["status"] == "applied"
    assert result(client, second)["status"] == "applied"
    assert (result(client, again)["status"], result(client, again)["code"]) == (
        "denied",
        "ALREADY_APPLIED",
    )
    applications = get_json(client, "/events/e1/applications")
    assert [(a["userId"], a["seats"]) for a in applications] == [("ann", 2), ("bob", 1)]
    assert all(a["appliedAt"].endswith("Z") for a in applications)
    assert get_json(client, "/events/e1/registrations/ann") == {
        "status": "applied",
        "seats": 2,
        "position": None,
    }
    event = get_json(client, "/events/e1")
    assert (event["applicationCount"], event["availableSpots"], event["waitlistCount"]) == (
        2,
        2,
        0,
    )
    assert get_json(client, "/events/e1/registrations") == []
    assert get_json(client, "/events/e1/waitlist") == []


def test_an_approved_applicant_keeps_its_place_ahead_of_later_parties(
    client: FlaskClient, worker: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob", "cat")
    create_event(client, capacity=1, admission="approval")
    register(client, "ann")  # applies first
    drain_event(worker, "e1")
    set_admission(client, "open")
    register(client, "bob")  # seated
    register(client, "cat")  # waits, accepted after ann
    drain_event(worker, "e1")

    approved = decide(client, "approve", "ann")
    drain_event(worker, "e1")

    assert approved["type"] == "approve"
    outcome = result(client, approved)
    assert (outcome["status"], outcome["position"], outcome["promotedUserIds"]) == (
        "waitlisted",
        1,
        [],
    )
    assert [w["userId"] for w in get_json(client, "/events/e1/waitlist")] == ["ann", "cat"]
    assert [r["userId"] for r in get_json(client, "/events/e1/registrations")] == ["bob"]

    left = command(client, "DELETE", "/events/e1/registrations/bob")
    drain_event(worker, "e1")

    assert result(client, left)["promotedUserIds"] == ["ann"]
    with db.begin() as session:
        assert violations(session) == []


def test_an_approval_that_fits_is_registered_and_a_rejection_leaves(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_users(client, "ann", "bob")
    create_event(client, capacity=2, admission="approval")
    register(client, "ann")
    register(client, "bob")
    drain_event(worker, "e1")

    approved = decide(client, "approve", "ann")
    rejected = decide(client, "reject", "bob")
    twice = decide(client, "approve", "ann")
    nobody = decide(client, "reject", "bob")
    drain_event(worker, "e1")

    assert result(client, approved)["status"] == "registered"
    assert result(client, rejected)["status"] == "rejected"
    assert result(client, twice)["code"] == "NO_APPLICATION"
    assert result(client, nobody)["code"] == "NO_APPLICATION"
    assert get_json(client, "/events/e1/applications") == []
    assert get_json(client, "/events/e1")["applicationCount"] == 0
    missing = client.get("/events/e1/registrations/bob", headers=CLIENT)
    assert missing.status_code == 404


def test_an_applicant_withdraws_by_unregistering(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_users(client, "ann")
    create_event(client, admission="approval", unregisterClosesAt="2020-01-01T00:00:00Z")
    register(client, "ann")
    drain_event(worker, "e1")

    withdrawn = command(client, "DELETE", "/events/e1/registrations/ann")
    drain_event(worker, "e1")

    assert result(client, withdrawn)["status"] == "unregistered"
    assert get_json(client, "/events/e1")["applicationCount"] == 0


def test_a_deleted_applicant_leaves_its_application(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_users(client, "ann")
    create_event(client, admission="approval")
    register(client, "ann")
    drain_event(worker, "e1")

    assert client.delete("/users/ann", headers=ADMIN).status_code == 204

    assert get_json(client, "/events/e1/applications") == []
    assert get_json(client, "/events/e1")["applicationCount"] == 0


def test_decisions_are_admin_only_and_the_list_is_readable_by_clients(
    client: FlaskClient,
) -> None:
    create_users(client, "ann")
    create_event(client, admission="approval")

    forbidden = client.post("/events/e1/applications/ann/approve", headers=CLIENT)
    also = client.post("/events/e1/applications/ann/reject", headers=CLIENT)
    anonymous = client.get("/events/e1/applications")

    assert (forbidden.status_code, forbidden.get_json()["code"]) == (403, "FORBIDDEN")
    assert also.status_code == 403
    assert anonymous.status_code == 401
    assert client.get("/events/e1/applications", headers=CLIENT).status_code == 200


def test_bad_decisions_get_problems_and_change_nothing(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann")
    create_event(client, admission="approval")
    path = "/events/e1/applications/ann/approve"

    cases = {
        "unknown event": client.post("/events/nope/applications/ann/approve", headers=ADMIN),
        "unknown user": client.post("/events/e1/applications/zed/reject", headers=ADMIN),
        "bad user id": client.post("/events/e1/applications/b%20d/approve", headers=ADMIN),
        "a body": client.post(path, json={"why": "yes"}, headers=ADMIN),
        "an array": client.post(path, json=[], headers=ADMIN),
        "not json": client.post(path, data="x", content_type="text/plain", headers=ADMIN),
        "unknown list": client.get("/events/nope/applications", headers=CLIENT),
    }

    statuses = {name: r.status_code for name, r in cases.items()}
    assert statuses == {
        "unknown event": 404,
        "unknown user": 404,
        "bad user id": 404,
        "a body": 422,
        "an array": 422,
        "not json": 415,
        "unknown list": 404,
    }
    for response in cases.values():
        assert response.content_type == "application/problem+json"
    bad_admission = client.put("/events/e1", json={"admission": "maybe"}, headers=ADMIN)
    assert bad_admission.status_code == 422
    assert bad_admission.get_json()["errors"][0]["field"] == "admission"
    with db.begin() as session:
        assert session.execute(text("SELECT count(*) FROM tickets")).scalar_one() == 0
    assert get_json(client, "/events/e1")["admission"] == "approval"


def test_a_decision_replays_with_its_idempotency_key(client: FlaskClient) -> None:
    create_users(client, "ann")
    create_event(client, admission="approval")
    headers = {**ADMIN, "Idempotency-Key": "approve-ann-1"}

    first = client.post("/events/e1/applications/ann/approve", headers=headers)
    second = client.post("/events/e1/applications/ann/approve", headers=headers)
    other = client.post("/events/e1/applications/ann/reject", headers=headers)

    assert first.status_code == second.status_code == 202
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json()["ticketId"] == first.get_json()["ticketId"]
    assert (other.status_code, other.get_json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


def test_batches_on_an_approval_event_make_applications(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_users(client, "ann", "bob")
    create_event(client, admission="approval")
    items = [{"type": "register", "userId": u, "eventId": "e1"} for u in ("ann", "bob")]
    response = client.post("/batches", json={"items": items}, headers=CLIENT)
    assert response.status_code == 202
    drain_event(worker, "e1")

    batch = get_json(client, f"/batches/{response.get_json()['batchId']}")

    # v2's result counters are kept as they are: applications are completed tickets
    assert (batch["completed"], batch["results"]["registered"]) == (2, 0)
    assert [a["userId"] for a in get_json(client, "/events/e1/applications")] == ["ann", "bob"]


def test_every_decision_is_in_the_ledger_verified_and_announced(
    client: FlaskClient,
    worker: runtime.Runtime,
    db: sessionmaker[Session],
    server_urls: ServerUrls,
) -> None:
    users = [f"u{n}" for n in range(8)]
    create_users(client, *users)
    create_event(client, capacity=3, admission="approval", waitlistPolicy="fill", maxPartySize=2)
    for n, user in enumerate(users):
        register(client, user, 1 + n % 2)
    drain_event(worker, "e1")
    for user in reversed(users[1:]):  # in the reviewer's order, not the applicants'
        decide(client, "approve" if user != "u4" else "reject", user)
    command(client, "DELETE", "/events/e1/registrations/u0")  # a withdrawal
    drain_event(worker, "e1")

    snapshot = DatabaseSource(server_urls.database_url).snapshot("e1", with_views=True)
    verdict = verify(snapshot.entries, snapshot.views, event_id="e1")

    assert verdict.ok, verdict
    assert verdict.unchecked == ()
    types = [e["type"] for e in snapshot.entries if e["kind"] == "ticket"]
    assert types.count("approve") == 6
    assert types.count("reject") == 1
    line = [w["userId"] for w in get_json(client, "/events/e1/waitlist")]
    assert line == sorted(line)  # acceptance order, whatever the order of approval
    with db.begin() as session:
        assert violations(session) == []
        rows = session.execute(
            text(
                "SELECT payload FROM event_log WHERE event_id = 'e1' AND kind = 'ticket.completed'"
                " AND payload->'result'->>'status' = 'rejected'"
            )
        ).all()
    assert [row.payload["userId"] for row in rows] == ["u4"]
