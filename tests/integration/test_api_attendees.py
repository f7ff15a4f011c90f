"""Attendee tokens over HTTP: an attendee registers itself, reads its own tickets and standing,
and nothing else; its idempotency keys and rate budget are its own."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.storage.tables import Ticket
from tessera.config import Settings
from tests.attendee_tokens import claims, ec_key, ed_key, rsa_key
from tests.integration.attendees import (
    SIGNER,
    attendee_app,
    jwks_url,
    token_for,
    with_attendees,
)
from tests.integration.conftest import ADMIN, CLIENT, AppFactory, create_event, create_users

pytestmark = pytest.mark.integration
__all__ = ["attendee_app", "jwks_url"]  # fixtures

ANN = token_for("ann")


@pytest.fixture
def client(attendee_app: Flask) -> FlaskClient:
    client = attendee_app.test_client()
    create_users(client, "ann", "bob")
    create_event(client, "e1")
    return client


def tickets_in(db: sessionmaker[Session]) -> int:
    with db.begin() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_an_attendee_registering_without_a_user_id_registers_itself(client: FlaskClient) -> None:
    response = client.post("/events/e1/registrations", json={}, headers=ANN)

    assert response.status_code == 202, response.get_json()
    assert response.get_json()["userId"] == "ann"


def test_an_attendee_may_name_itself(client: FlaskClient) -> None:
    response = client.post(
        "/events/e1/registrations", json={"userId": "ann", "seats": 1}, headers=ANN
    )
    assert response.status_code == 202


def test_an_attendee_acting_for_another_user_is_403_and_nothing_is_accepted(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    refused = [
        client.post("/events/e1/registrations", json={"userId": "bob"}, headers=ANN),
        client.delete("/events/e1/registrations/bob", headers=ANN),
        client.post("/events/e1/offers/bob/accept", headers=ANN),
        client.post("/events/e1/offers/bob/decline", headers=ANN),
        client.post(
            "/batches",
            json={"items": [{"type": "register", "userId": "ann", "eventId": "e1"}]},
            headers=ANN,
        ),
    ]

    assert [r.status_code for r in refused] == [403] * 5
    assert {r.get_json()["code"] for r in refused} == {"FORBIDDEN"}
    assert tickets_in(db) == 0


def test_an_attendee_who_is_not_a_user_gets_user_not_found(client: FlaskClient) -> None:
    response = client.post("/events/e1/registrations", json={}, headers=token_for("ghost"))
    assert response.status_code == 404
    assert response.get_json()["code"] == "USER_NOT_FOUND"


def test_an_attendee_sees_only_the_tickets_its_own_commands_created(client: FlaskClient) -> None:
    own = client.post("/events/e1/registrations", json={}, headers=ANN).get_json()["ticketId"]
    by_client = client.post(
        "/events/e1/registrations", json={"userId": "ann"}, headers=CLIENT
    ).get_json()["ticketId"]
    bobs = client.post("/events/e1/registrations", json={}, headers=token_for("bob")).get_json()

    assert client.get(f"/tickets/{own}", headers=ANN).status_code == 200
    assert client.get(f"/tickets/{by_client}", headers=ANN).status_code == 404  # not its command
    assert client.get(f"/tickets/{bobs['ticketId']}", headers=ANN).status_code == 404
    assert client.get(f"/tickets/{own}", headers=CLIENT).status_code == 404
    assert client.get(f"/tickets/{own}", headers=ADMIN).status_code == 200


def test_idempotency_keys_are_scoped_per_attendee(client: FlaskClient) -> None:
    key = {"Idempotency-Key": "same"}
    ann = client.post("/events/e1/registrations", json={}, headers={**ANN, **key})
    again = client.post("/events/e1/registrations", json={}, headers={**ANN, **key})
    bob = client.post("/events/e1/registrations", json={}, headers={**token_for("bob"), **key})

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["ticketId"] == ann.get_json()["ticketId"]
    assert bob.status_code == 202
    assert "Idempotent-Replayed" not in bob.headers
    assert bob.get_json()["ticketId"] != ann.get_json()["ticketId"]


@pytest.mark.parametrize(
    "key", [rsa_key("r"), ec_key("e"), ed_key("d")], ids=["RS256", "ES256", "EdDSA"]
)
def test_tokens_of_each_accepted_algorithm_work_over_http(
    api_app: AppFactory, settings: Settings, tmp_path: Any, key: Any
) -> None:
    from tests.attendee_tokens import write_jwks

    url = write_jwks(tmp_path / "keys.json", key)
    client = api_app(with_attendees(settings, url)).test_client()
    create_users(client, "ann")

    assert client.get("/users/ann", headers=token_for("ann", key)).status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        SIGNER.sign(claims("ann", exp=1)),
        SIGNER.sign(claims("ann", iss="https://other.example/")),
        SIGNER.sign(claims("ann", aud="other")),
        rsa_key("unknown").sign(claims("ann")),
        SIGNER.sign(claims("not a user id")),
        "not.a.token",
    ],
    ids=["expired", "iss", "aud", "unknown kid", "bad user claim", "garbage"],
)
def test_a_refused_token_is_401_unauthorized(client: FlaskClient, token: str) -> None:
    response = client.get("/users/ann", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.get_json()["code"] == "UNAUTHORIZED"
    assert token not in response.get_data(as_text=True)


def test_without_attendee_settings_a_valid_token_is_401(
    api_app: AppFactory, settings: Settings
) -> None:
    client = api_app(settings).test_client()
    create_users(client, "ann")
    assert client.get("/users/ann", headers=ANN).status_code == 401


def test_each_attendee_has_its_own_rate_budget(
    api_app: AppFactory, settings: Settings, jwks_url: str
) -> None:
    limited = Settings(**{**with_attendees(settings, jwks_url).__dict__, "rate_limit": "2/minute"})
    client = api_app(limited).test_client()
    create_users(client, "ann", "bob")  # admin's budget, not theirs

    assert [client.get("/users/ann", headers=ANN).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/users/bob", headers=token_for("bob")).status_code == 200
