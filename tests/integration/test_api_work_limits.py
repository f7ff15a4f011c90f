"""Rate limits by work, not requests: a batch costs its items, open update streams are capped
per key and per attendee, and refused credentials are throttled per client address."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tessera.auth_settings import AuthSettings
from tessera.config import Settings
from tests.integration.attendees import jwks_url, token_for, with_attendees
from tests.integration.conftest import ADMIN, CLIENT, AppFactory, create_event, create_users

pytestmark = pytest.mark.integration
__all__ = ["jwks_url"]  # a fixture


def changed(settings: Settings, **changes: Any) -> Settings:
    return Settings(**{**settings.__dict__, **changes})


def batch(size: int) -> dict[str, Any]:
    return {
        "items": [{"type": "register", "userId": f"u{i}", "eventId": "e1"} for i in range(size)]
    }


def test_a_batch_costs_its_items_so_a_big_one_uses_the_budget_of_as_many_commands(
    api_app: AppFactory, settings: Settings
) -> None:
    client = api_app(changed(settings, rate_limit="50/minute")).test_client()

    big = client.post("/batches", json=batch(120), headers=CLIENT)  # accepted when idle...
    assert big.status_code == 202
    refused = client.post("/batches", json=batch(1), headers=CLIENT)  # ...then in debt

    assert refused.status_code == 429
    assert refused.get_json()["code"] == "RATE_LIMITED"
    assert 60 <= int(refused.headers["Retry-After"]) <= 120  # 120 items at 50/min, less 1 min
    assert client.post("/batches", json=batch(1), headers=ADMIN).status_code == 202  # its own


def test_small_batches_within_the_rate_are_all_accepted(
    api_app: AppFactory, settings: Settings
) -> None:
    client = api_app(changed(settings, rate_limit="100/minute")).test_client()

    statuses = [
        client.post("/batches", json=batch(10), headers=CLIENT).status_code for _ in range(5)
    ]

    assert statuses == [202] * 5


def test_with_the_rate_limit_off_batches_are_not_counted(client: FlaskClient) -> None:
    assert [
        client.post("/batches", json=batch(500), headers=CLIENT).status_code for _ in range(3)
    ] == [202] * 3


def open_stream(client: FlaskClient, headers: dict[str, str]) -> Any:
    return client.get("/events/e1/updates", headers=headers, buffered=False)


def test_open_streams_are_capped_per_key_and_a_closed_one_frees_its_slot(
    api_app: AppFactory, settings: Settings
) -> None:
    app = api_app(changed(settings, auth=AuthSettings(max_streams_per_principal=2)))
    client = app.test_client()
    create_event(client, "e1")

    # (closed last-opened first: Flask's test client pops stream contexts as a stack)
    first = open_stream(client, CLIENT)
    second = open_stream(client, CLIENT)
    third = open_stream(client, CLIENT)
    assert [first.status_code, second.status_code] == [200, 200]
    assert third.status_code == 429
    assert third.get_json()["code"] == "RATE_LIMITED"
    assert "Retry-After" in third.headers
    other_key = open_stream(client, ADMIN)
    assert other_key.status_code == 200
    other_key.close()

    second.close()
    again = open_stream(client, CLIENT)
    assert again.status_code == 200
    again.close()
    first.close()


def test_refused_credentials_are_throttled_per_address_even_for_a_right_guess(
    api_app: AppFactory, settings: Settings
) -> None:
    client = api_app(
        changed(settings, auth=AuthSettings(auth_failure_limit="3/minute"))
    ).test_client()
    wrong = {"Authorization": "Bearer guess"}

    statuses = [client.get("/events", headers=wrong).status_code for _ in range(4)]
    right = client.get("/events", headers=CLIENT)
    elsewhere = client.get("/events", headers=CLIENT, environ_overrides={"REMOTE_ADDR": "10.0.0.7"})

    assert statuses == [401, 401, 401, 429]
    assert right.status_code == 429
    assert right.get_json()["code"] == "RATE_LIMITED"
    assert 1 <= int(right.headers["Retry-After"]) <= 60
    assert elsewhere.status_code == 200


def test_refused_attendee_tokens_count_as_refused_credentials(
    api_app: AppFactory, settings: Settings, jwks_url: str
) -> None:
    base = with_attendees(settings, jwks_url, auth_failure_limit="2/minute")
    client = api_app(base).test_client()
    create_users(client, "ann")
    forged = {"Authorization": token_for("ann")["Authorization"][:-4] + "AAAA"}

    assert [client.get("/users/ann", headers=forged).status_code for _ in range(3)] == [
        401,
        401,
        429,
    ]
