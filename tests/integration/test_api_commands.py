"""Register/unregister commands, tickets and Idempotency-Key over the Flask app, on real
PostgreSQL and Redis."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from models.storage.tables import IdempotencyKey, Ticket
from tessera.messaging import DRAIN_KEY
from tests.drain import drain_event
from tests.integration.conftest import ADMIN, CLIENT, CLIENT_KEY, OTHER_CLIENT, SECRET_KEY
from tests.integration.test_seats_persistence import make_event, make_users
from workers import runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def http(client: FlaskClient, db: sessionmaker[Session]) -> FlaskClient:
    make_event(db, "e1", capacity=1)
    make_users(db, "ann", "bob")
    return client


def ticket_count(db: sessionmaker[Session]) -> int:
    with db.begin() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def register(http: FlaskClient, user: str = "ann", headers: dict[str, str] | None = None) -> Any:
    return http.post("/events/e1/registrations", json={"userId": user}, headers=headers or CLIENT)


def test_registering_answers_202_with_a_pending_ticket_and_wakes_an_applier(
    http: FlaskClient, redis_client: redis.Redis
) -> None:
    response = register(http)

    assert response.status_code == 202
    ticket = response.get_json()
    assert response.headers["Location"] == f"/tickets/{ticket['ticketId']}"
    assert ticket["status"] == "pending"
    assert ticket["result"] is None
    assert (ticket["type"], ticket["userId"], ticket["eventId"]) == ("register", "ann", "e1")
    assert ticket["createdAt"].endswith("Z")
    # The wake-up follows the 202 (api.accepts.Announcer): it arrives at once, not before.
    deadline = time.monotonic() + 2.0
    while redis_client.get(DRAIN_KEY) is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert redis_client.get(DRAIN_KEY) == b"1"


def test_unregistering_answers_202_with_an_unregister_ticket(http: FlaskClient) -> None:
    response = http.delete("/events/e1/registrations/ann", headers=CLIENT)

    assert response.status_code == 202
    assert response.get_json()["type"] == "unregister"


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/events/nope/registrations", {"userId": "ann"}, "EVENT_NOT_FOUND"),
        ("/events/e1/registrations", {"userId": "ghost"}, "USER_NOT_FOUND"),
        ("/events/bad%20id/registrations", {"userId": "ann"}, "EVENT_NOT_FOUND"),
    ],
)
def test_a_command_for_an_unknown_user_or_event_is_404_at_once_and_writes_nothing(
    http: FlaskClient, db: sessionmaker[Session], path: str, body: dict[str, str], code: str
) -> None:
    response = http.post(path, json=body, headers=CLIENT)

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code
    assert ticket_count(db) == 0


def test_unregistering_an_unknown_user_is_404(http: FlaskClient) -> None:
    response = http.delete("/events/e1/registrations/ghost", headers=CLIENT)
    assert (response.status_code, response.get_json()["code"]) == (404, "USER_NOT_FOUND")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{not json", "body"),
        (b"", "body"),
        (b"null", "body"),
        (b"[]", "body"),
        (b'{"userId": 7}', "userId"),
        (b'{"userId": "has space"}', "userId"),
        (b'{"userId": ""}', "userId"),
        (b'{"userId": "' + b"x" * 65 + b'"}', "userId"),
        (b"{}", "userId"),
        (b'{"userId": "ann", "extra": 1}', "extra"),
        (b'{"userId": "\xff"}', "body"),
    ],
)
def test_a_malformed_command_is_422_naming_the_field_and_writes_nothing(
    http: FlaskClient, db: sessionmaker[Session], raw: bytes, field: str
) -> None:
    response = http.post(
        "/events/e1/registrations",
        data=raw,
        headers={**CLIENT, "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert problem["requestId"] == response.headers["X-Request-ID"]
    assert field in [e["field"] for e in problem["errors"]]
    assert ticket_count(db) == 0


def test_a_body_that_is_not_json_is_415(http: FlaskClient, db: sessionmaker[Session]) -> None:
    response = http.post(
        "/events/e1/registrations",
        data="userId=ann",
        headers={**CLIENT, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (response.status_code, response.get_json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert ticket_count(db) == 0


def test_a_ticket_can_be_read_back_by_its_owner_and_by_admin_only(http: FlaskClient) -> None:
    ticket_id = register(http).get_json()["ticketId"]

    assert http.get(f"/tickets/{ticket_id}", headers=CLIENT).status_code == 200
    assert http.get(f"/tickets/{ticket_id}", headers=ADMIN).status_code == 200
    hidden = http.get(f"/tickets/{ticket_id}", headers=OTHER_CLIENT)
    assert (hidden.status_code, hidden.get_json()["code"]) == (404, "TICKET_NOT_FOUND")
    missing = http.get("/tickets/01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=ADMIN)
    assert missing.get_json()["code"] == "TICKET_NOT_FOUND"


@pytest.mark.parametrize("wait", ["-1", "31", "soon", "nan"])
def test_a_wait_outside_0_to_30_seconds_is_422(http: FlaskClient, wait: str) -> None:
    ticket_id = register(http).get_json()["ticketId"]
    response = http.get(f"/tickets/{ticket_id}?wait={wait}", headers=CLIENT)
    assert (response.status_code, response.get_json()["code"]) == (422, "VALIDATION_ERROR")


def test_a_long_poll_returns_the_result_as_soon_as_the_worker_completes_the_ticket(
    http: FlaskClient, worker: runtime.Runtime
) -> None:
    ticket_id = register(http).get_json()["ticketId"]
    applier = threading.Timer(0.3, drain_event, args=(worker, "e1"))
    applier.start()

    response = http.get(f"/tickets/{ticket_id}?wait=20", headers=CLIENT)

    applier.join()
    ticket = response.get_json()
    assert ticket["status"] == "completed"
    assert ticket["result"]["status"] == "registered"
    assert ticket["completedAt"] is not None


def test_a_long_poll_on_a_ticket_nobody_applies_returns_it_still_pending(
    http: FlaskClient,
) -> None:
    ticket_id = register(http).get_json()["ticketId"]
    started = time.monotonic()
    response = http.get(f"/tickets/{ticket_id}?wait=0.5", headers=CLIENT)
    assert response.get_json()["status"] == "pending"
    assert time.monotonic() - started >= 0.5  # it did wait, rather than answer at once


# --- Idempotency-Key --------------------------------------------------------------------


def test_the_same_key_and_request_replays_the_first_ticket_without_a_second_command(
    http: FlaskClient, db: sessionmaker[Session]
) -> None:
    headers = {**CLIENT, "Idempotency-Key": "k-1"}
    first = register(http, headers=headers)
    second = register(http, headers=headers)

    assert second.status_code == 202
    assert second.get_json()["ticketId"] == first.get_json()["ticketId"]
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert ticket_count(db) == 1


def test_a_replay_shows_the_tickets_current_state(
    http: FlaskClient, worker: runtime.Runtime
) -> None:
    headers = {**CLIENT, "Idempotency-Key": "k-state"}
    register(http, headers=headers)
    drain_event(worker, "e1")

    replay = register(http, headers=headers).get_json()

    assert replay["status"] == "completed"


def test_the_same_key_with_a_different_request_is_422_reused(
    http: FlaskClient, db: sessionmaker[Session]
) -> None:
    headers = {**CLIENT, "Idempotency-Key": "k-2"}
    register(http, "ann", headers=headers)
    response = register(http, "bob", headers=headers)
    assert (response.status_code, response.get_json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    other_path = http.delete("/events/e1/registrations/ann", headers=headers)
    assert other_path.get_json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert ticket_count(db) == 1


def test_json_bodies_are_compared_as_parsed_json(
    http: FlaskClient, db: sessionmaker[Session]
) -> None:
    headers = {**CLIENT, "Idempotency-Key": "k-json", "Content-Type": "application/json"}
    first = http.post("/events/e1/registrations", data='{"userId":"ann"}', headers=headers)
    second = http.post("/events/e1/registrations", data='{ "userId" : "ann" }', headers=headers)
    assert second.get_json()["ticketId"] == first.get_json()["ticketId"]
    assert ticket_count(db) == 1


def test_a_duplicate_while_the_first_is_still_being_accepted_is_409_in_flight(
    http: FlaskClient, db: sessionmaker[Session]
) -> None:
    from api.auth import owner_of
    from api.idempotency import fingerprint

    # The first request, still accepting: its claim is inserted but not committed.
    with db() as first, first.begin():
        first.add(
            IdempotencyKey(
                owner=owner_of(CLIENT_KEY, SECRET_KEY),
                key="k-3",
                request_fingerprint=fingerprint(
                    "POST", "/events/e1/registrations", {"userId": "ann"}
                ),
                resource_id=None,
            )
        )
        first.flush()
        response = register(http, headers={**CLIENT, "Idempotency-Key": "k-3"})
        first.rollback()
    assert (response.status_code, response.get_json()["code"]) == (
        409,
        "IDEMPOTENCY_KEY_IN_FLIGHT",
    )
    assert ticket_count(db) == 0


def test_a_refused_request_stores_nothing_and_may_be_retried_with_its_key(
    http: FlaskClient, db: sessionmaker[Session]
) -> None:
    headers = {**CLIENT, "Idempotency-Key": "k-4"}
    assert register(http, "carl", headers=headers).status_code == 404
    make_users(db, "carl")

    retried = register(http, "carl", headers=headers)

    assert retried.status_code == 202
    assert "Idempotent-Replayed" not in retried.headers


def test_keys_are_scoped_per_api_key(http: FlaskClient, db: sessionmaker[Session]) -> None:
    first = register(http, headers={**CLIENT, "Idempotency-Key": "shared"})
    second = register(http, headers={**OTHER_CLIENT, "Idempotency-Key": "shared"})
    assert first.get_json()["ticketId"] != second.get_json()["ticketId"]
    assert ticket_count(db) == 2


def test_a_key_older_than_24_hours_is_forgotten(
    http: FlaskClient, db: sessionmaker[Session]
) -> None:
    headers = {**CLIENT, "Idempotency-Key": "k-old"}
    first = register(http, headers=headers).get_json()["ticketId"]
    with db.begin() as session:
        session.execute(
            text("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        )
    second = register(http, headers=headers)
    assert second.get_json()["ticketId"] != first
    assert "Idempotent-Replayed" not in second.headers


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "naïve"])
def test_a_malformed_idempotency_key_is_422(
    http: FlaskClient, db: sessionmaker[Session], key: str
) -> None:
    response = http.post(
        "/events/e1/registrations",
        json={"userId": "ann"},
        headers={**CLIENT, "Idempotency-Key": key.encode("utf-8").decode("latin-1")},
    )
    assert (response.status_code, response.get_json()["code"]) == (422, "VALIDATION_ERROR")
    assert ticket_count(db) == 0


def test_unregister_and_register_each_take_a_key(
    http: FlaskClient, db: sessionmaker[Session]
) -> None:
    headers = {**CLIENT, "Idempotency-Key": "k-del"}
    first = http.delete("/events/e1/registrations/ann", headers=headers)
    second = http.delete("/events/e1/registrations/ann", headers=headers)
    assert second.get_json()["ticketId"] == first.get_json()["ticketId"]
    assert ticket_count(db) == 1


def test_a_ticket_id_with_a_nul_byte_is_404_not_a_server_error(http: FlaskClient) -> None:
    response = http.get("/tickets/a%00b", headers=ADMIN)
    assert (response.status_code, response.get_json()["code"]) == (404, "TICKET_NOT_FOUND")
