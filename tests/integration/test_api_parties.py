"""Parties and fair lines over HTTP (contract v2): `seats` on registrations and batches, the
event's party and policy settings, what a settling reports, and the views in seats. Real
PostgreSQL and Redis; the worker's apply loop runs in the test process."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.drain import drain_event
from tests.integration.conftest import ADMIN, CLIENT, create_event, create_users, get_json
from workers import runtime

pytestmark = pytest.mark.integration


def register(http: FlaskClient, user: str, seats: int | None = None, event: str = "e1") -> Any:
    body: dict[str, Any] = {"userId": user} if seats is None else {"userId": user, "seats": seats}
    response = http.post(f"/events/{event}/registrations", json=body, headers=CLIENT)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def result_of(http: FlaskClient, ticket: dict[str, Any]) -> Any:
    return get_json(http, f"/tickets/{ticket['ticketId']}")["result"]


def settle(worker: runtime.Runtime, event: str = "e1") -> None:
    drain_event(worker, event)


def test_a_party_is_seated_whole_and_the_event_counts_seats_and_parties(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_event(client, capacity=5, maxPartySize=4)
    create_users(client, "ann", "bob")
    ticket = register(client, "ann", seats=3)
    assert ticket["seats"] == 3
    register(client, "bob", seats=4)
    settle(worker)

    assert result_of(client, ticket)["status"] == "registered"
    event = get_json(client, "/events/e1")
    assert (event["registeredCount"], event["registeredSeats"], event["availableSpots"]) == (
        1,
        3,
        2,
    )
    assert (event["waitlistCount"], event["waitlistSeats"], event["offeredSeats"]) == (1, 4, 0)
    assert get_json(client, "/events/e1/registrations/bob") == {
        "status": "waitlisted",
        "seats": 4,
        "position": 1,
    }
    assert [(w["userId"], w["seats"]) for w in get_json(client, "/events/e1/waitlist")] == [
        ("bob", 4)
    ]
    assert [(r["eventId"], r["seats"]) for r in get_json(client, "/users/ann/registrations")] == [
        ("e1", 3)
    ]


def test_a_party_larger_than_the_event_allows_is_denied_party_too_large(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_event(client, capacity=5, maxPartySize=2, waitlistEnabled=False)
    create_users(client, "ann")
    ticket = register(client, "ann", seats=3)
    settle(worker)

    result = result_of(client, ticket)
    assert (result["status"], result["code"]) == ("denied", "PARTY_TOO_LARGE")
    assert (result["promotedUserIds"], result["offeredUserIds"]) == ([], [])


def test_under_fill_a_freed_seat_goes_to_a_party_that_fits_and_the_ticket_reports_it(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_event(client, capacity=4, maxPartySize=3, waitlistPolicy="fill", bypassLimit=2)
    create_users(client, "s1", "s2", "big", "a", "b")
    register(client, "s1", seats=2)
    register(client, "s2", seats=2)
    register(client, "big", seats=3)
    register(client, "a", seats=1)
    register(client, "b", seats=1)
    settle(worker)

    leave = client.delete("/events/e1/registrations/s1", headers=CLIENT).get_json()
    settle(worker)

    result = result_of(client, leave)
    assert result["promotedUserIds"] == ["a", "b"]
    assert result["promotedUserId"] == "a"
    assert "a, b promoted" in result["message"]
    assert [w["userId"] for w in get_json(client, "/events/e1/waitlist")] == ["big"]


def test_under_strict_a_newcomer_that_would_fit_waits_behind_the_line(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_event(client, capacity=4, maxPartySize=3)
    create_users(client, "s1", "big", "small")
    register(client, "s1", seats=2)
    register(client, "big", seats=3)
    small = register(client, "small", seats=1)
    settle(worker)

    result = result_of(client, small)
    assert (result.pop("ledgerIndex"), len(result.pop("ledgerHash"))) == (4, 64)  # after 3 others
    assert result == {
        "status": "waitlisted",
        "code": None,
        "message": "waitlisted at position 2",
        "position": 2,
        "promotedUserId": None,
        "promotedUserIds": [],
        "offeredUserIds": [],
        "offers": [],
    }


def test_switching_the_policy_to_fill_settles_the_line_at_once(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_event(client, capacity=4, maxPartySize=3)
    create_users(client, "s1", "big", "small")
    register(client, "s1", seats=2)
    register(client, "big", seats=3)
    register(client, "small", seats=1)
    settle(worker)

    response = client.put("/events/e1", json={"waitlistPolicy": "fill"}, headers=ADMIN)

    assert response.status_code == 200
    event = response.get_json()
    assert (event["waitlistPolicy"], event["registeredSeats"], event["waitlistCount"]) == (
        "fill",
        3,
        1,
    )
    assert get_json(client, "/events/e1/registrations/small")["status"] == "registered"


def test_capacity_below_the_largest_party_is_409_and_a_larger_party_than_capacity_is_422(
    client: FlaskClient,
) -> None:
    create_event(client, capacity=4, maxPartySize=3)

    lowered = client.put("/events/e1", json={"capacity": 2}, headers=ADMIN)
    assert (lowered.status_code, lowered.get_json()["code"]) == (409, "CAPACITY_BELOW_PARTY_SIZE")
    raised = client.put("/events/e1", json={"maxPartySize": 5}, headers=ADMIN)
    assert raised.status_code == 422
    assert raised.get_json()["errors"][0]["field"] == "maxPartySize"
    together = client.put("/events/e1", json={"capacity": 2, "maxPartySize": 2}, headers=ADMIN)
    assert together.status_code == 200
    assert (together.get_json()["capacity"], together.get_json()["maxPartySize"]) == (2, 2)


def test_capacity_below_the_seats_taken_comes_before_the_party_size(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_event(client, capacity=6, maxPartySize=4)
    create_users(client, "ann")
    register(client, "ann", seats=4)
    settle(worker)

    response = client.put("/events/e1", json={"capacity": 3}, headers=ADMIN)
    assert (response.status_code, response.get_json()["code"]) == (409, "CAPACITY_BELOW_REGISTERED")
    assert get_json(client, "/events/e1")["capacity"] == 6


def test_creating_an_event_whose_largest_party_cannot_fit_is_422_naming_max_party_size(
    client: FlaskClient,
) -> None:
    body = {
        "eventId": "e9",
        "title": "T",
        "description": "",
        "date": "2026-12-01",
        "location": "L",
        "capacity": 2,
        "organizer": "O",
        "status": "active",
        "maxPartySize": 3,
    }
    response = client.post("/events", json=body, headers=ADMIN)

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["maxPartySize"]
    assert client.get("/events/e9", headers=ADMIN).status_code == 404


@pytest.mark.parametrize("seats", [0, 51, 1.5, "2", True, None, -1])
def test_a_bad_seats_value_is_422_and_writes_nothing(client: FlaskClient, seats: object) -> None:
    create_event(client, capacity=5, maxPartySize=4)
    create_users(client, "ann")
    response = client.post(
        "/events/e1/registrations", json={"userId": "ann", "seats": seats}, headers=CLIENT
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["seats"]


def test_seats_given_as_an_integral_number_are_that_integer(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_event(client, capacity=5, maxPartySize=4)
    create_users(client, "ann")
    ticket = register(client, "ann", seats=2.0)  # type: ignore[arg-type]
    assert ticket["seats"] == 2


def test_batch_items_take_seats_and_an_unregister_with_seats_is_refused(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_event(client, capacity=5, maxPartySize=4)
    create_users(client, "ann", "bob")
    items = [
        {"type": "register", "userId": "ann", "eventId": "e1", "seats": 3},
        {"type": "register", "userId": "bob", "eventId": "e1"},
    ]
    accepted = client.post("/batches", json={"items": items}, headers=CLIENT)
    assert accepted.status_code == 202
    settle(worker)
    event = get_json(client, "/events/e1")
    assert (event["registeredCount"], event["registeredSeats"]) == (2, 4)

    bad = [{"type": "unregister", "userId": "ann", "eventId": "e1", "seats": 2}]
    refused = client.post("/batches", json={"items": bad}, headers=CLIENT)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.get_json()["errors"]] == ["items.0.seats"]


def test_unregistering_a_party_frees_all_its_seats_for_the_line(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_event(client, capacity=4, maxPartySize=4)
    create_users(client, "ann", "bob", "cy")
    register(client, "ann", seats=4)
    register(client, "bob", seats=2)
    register(client, "cy", seats=2)
    settle(worker)

    leave = client.delete("/events/e1/registrations/ann", headers=CLIENT).get_json()
    settle(worker)

    assert result_of(client, leave)["promotedUserIds"] == ["bob", "cy"]
    assert get_json(client, "/events/e1")["availableSpots"] == 0
