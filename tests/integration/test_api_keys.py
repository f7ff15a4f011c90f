"""Keys made at run time: `POST/GET/DELETE /keys`, their use, revocation seen by every API
process within two seconds, and `lastUsedAt` kept without a write per request."""

from __future__ import annotations

import base64
import time

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.storage.tables import ApiKeyRecord, Ticket
from tessera.config import Settings
from tessera.tools.cli import main
from tessera.tools.servers import ServerUrls
from tests.integration.conftest import (
    ADMIN,
    CLIENT,
    AppFactory,
    create_event,
    create_users,
)

pytestmark = pytest.mark.integration


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def make_key(client: FlaskClient, role: str = "client", name: str = "batch job") -> dict[str, str]:
    response = client.post("/keys", json={"name": name, "role": role}, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    created: dict[str, str] = response.get_json()
    return created


def test_a_new_key_is_shown_once_with_its_secret(client: FlaskClient) -> None:
    response = client.post("/keys", json={"name": "importer", "role": "client"}, headers=ADMIN)

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"keyId", "name", "role", "createdAt", "lastUsedAt", "secret"}
    assert body["name"] == "importer"
    assert body["role"] == "client"
    assert body["lastUsedAt"] is None
    assert body["secret"].startswith("tsk_")
    raw = base64.urlsafe_b64decode(body["secret"][4:] + "=" * (-len(body["secret"][4:]) % 4))
    assert len(raw) >= 32
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Location"] == f"/keys/{body['keyId']}"


def test_keys_are_listed_without_their_secrets_and_configured_keys_are_not_listed(
    client: FlaskClient,
) -> None:
    first = make_key(client, "client", "one")
    second = make_key(client, "admin", "two")

    listed = client.get("/keys", headers=ADMIN)

    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert [item["keyId"] for item in items] == [first["keyId"], second["keyId"]]
    assert all("secret" not in item for item in items)
    assert first["secret"] not in listed.get_data(as_text=True)


def test_only_the_digest_of_a_secret_is_stored(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    created = make_key(client)

    with db.begin() as session:
        row = session.scalars(select(ApiKeyRecord)).one()
        stored = [row.key_id, row.name, row.role, bytes(row.digest).hex()]
    assert all(created["secret"] not in str(value) for value in stored)
    assert created["secret"][4:] not in bytes(row.digest).hex()


def test_a_runtime_key_acts_with_its_role_and_owns_what_it_creates(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann")
    create_event(client, "e1")
    key = make_key(client, "client")

    assert client.get("/events", headers=bearer(key["secret"])).status_code == 200
    assert (
        client.post(
            "/users", json={"userId": "x", "name": "X"}, headers=bearer(key["secret"])
        ).status_code
        == 403
    )
    accepted = client.post(
        "/events/e1/registrations", json={"userId": "ann"}, headers=bearer(key["secret"])
    )
    assert accepted.status_code == 202
    ticket_id = accepted.get_json()["ticketId"]

    assert client.get(f"/tickets/{ticket_id}", headers=bearer(key["secret"])).status_code == 200
    assert client.get(f"/tickets/{ticket_id}", headers=CLIENT).status_code == 404
    with db.begin() as session:
        owner = session.scalars(select(Ticket.owner)).one()
    assert owner == "rk-" + key["keyId"]  # from the id, never the secret


def test_an_admin_runtime_key_may_make_keys(client: FlaskClient) -> None:
    admin = make_key(client, "admin")

    response = client.post(
        "/keys", json={"name": "n", "role": "client"}, headers=bearer(admin["secret"])
    )

    assert response.status_code == 201


def test_a_revoked_key_is_refused_at_once_by_the_process_that_revoked_it(
    client: FlaskClient,
) -> None:
    key = make_key(client)
    assert client.get("/events", headers=bearer(key["secret"])).status_code == 200

    assert client.delete(f"/keys/{key['keyId']}", headers=ADMIN).status_code == 204

    refused = client.get("/events", headers=bearer(key["secret"]))
    assert refused.status_code == 401
    assert client.get("/keys", headers=ADMIN).get_json()["items"] == []


def test_a_key_revoked_by_one_process_is_refused_by_another_within_two_seconds(
    api_app: AppFactory, settings: Settings
) -> None:
    one = api_app(settings).test_client()
    other = api_app(settings).test_client()
    key = make_key(one)
    assert other.get("/events", headers=bearer(key["secret"])).status_code == 200

    assert one.delete(f"/keys/{key['keyId']}", headers=ADMIN).status_code == 204
    revoked_at = time.monotonic()

    while other.get("/events", headers=bearer(key["secret"])).status_code != 401:
        assert time.monotonic() - revoked_at < 2.0, "still accepted 2 s after revocation"
        time.sleep(0.05)


def test_a_key_made_by_one_process_is_accepted_by_another_within_two_seconds(
    api_app: AppFactory, settings: Settings
) -> None:
    one = api_app(settings).test_client()
    other = api_app(settings).test_client()
    assert other.get("/events", headers=CLIENT).status_code == 200  # its key table is loaded

    key = make_key(one)
    made_at = time.monotonic()

    while other.get("/events", headers=bearer(key["secret"])).status_code != 200:
        assert time.monotonic() - made_at < 2.0
        time.sleep(0.05)


def test_last_used_at_moves_within_a_few_seconds_of_a_use(client: FlaskClient) -> None:
    key = make_key(client)

    for _ in range(3):
        assert client.get("/events", headers=bearer(key["secret"])).status_code == 200
    used_at = time.monotonic()

    def last_used() -> str | None:
        items = client.get("/keys", headers=ADMIN).get_json()["items"]
        value: str | None = items[0]["lastUsedAt"]
        return value

    while last_used() is None:
        assert time.monotonic() - used_at < 8.0, "lastUsedAt never written"
        time.sleep(0.25)


def test_a_configured_key_is_not_a_runtime_key_and_cannot_be_deleted(
    client: FlaskClient,
) -> None:
    response = client.delete("/keys/admin-key", headers=ADMIN)

    assert response.status_code == 404
    assert response.get_json()["code"] == "KEY_NOT_FOUND"
    assert client.get("/events", headers=ADMIN).status_code == 200


def test_deleting_an_unknown_key_is_404_key_not_found(client: FlaskClient) -> None:
    response = client.delete("/keys/01J00000000000000000000000", headers=ADMIN)

    assert response.status_code == 404
    assert response.get_json()["code"] == "KEY_NOT_FOUND"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "role": "client"},
        {"name": "   ", "role": "client"},
        {"name": "x" * 201, "role": "client"},
        {"name": "x", "role": "root"},
        {"name": "x", "role": "attendee"},
        {"role": "client"},
        {"name": "x"},
        {"name": "x", "role": "client", "secret": "tsk_mine"},
        {"name": 5, "role": "client"},
    ],
)
def test_a_bad_key_request_is_422_and_makes_no_key(client: FlaskClient, body: object) -> None:
    response = client.post("/keys", json=body, headers=ADMIN)

    assert response.status_code == 422
    assert response.get_json()["code"] == "VALIDATION_ERROR"
    assert client.get("/keys", headers=ADMIN).get_json()["items"] == []


def test_keys_are_admin_only(app: Flask) -> None:
    client = app.test_client()
    key = make_key(client)

    for call in (
        lambda h: client.post("/keys", json={"name": "n", "role": "admin"}, headers=h),
        lambda h: client.get("/keys", headers=h),
        lambda h: client.delete(f"/keys/{key['keyId']}", headers=h),
    ):
        assert call(CLIENT).status_code == 403
        assert call(bearer(key["secret"])).status_code == 403
        assert call({}).status_code == 401
    assert len(client.get("/keys", headers=ADMIN).get_json()["items"]) == 1


def test_operators_make_list_and_revoke_keys_with_the_cli(
    client: FlaskClient, server_urls: ServerUrls
) -> None:
    env = {"DATABASE_URL": server_urls.database_url, "REDIS_URL": server_urls.redis_url}
    runner = CliRunner()

    made = runner.invoke(main, ["keys", "create", "--name", "ops", "--role", "client"], env=env)
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert secret.startswith("tsk_")
    assert client.get("/events", headers=bearer(secret)).status_code in {200, 401}
    deadline = time.monotonic() + 2.0
    while client.get("/events", headers=bearer(secret)).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    listed = runner.invoke(main, ["keys", "list"], env=env)
    assert listed.exit_code == 0
    assert "ops" in listed.stdout
    assert secret not in listed.stdout
    key_id = listed.stdout.split()[0]

    assert runner.invoke(main, ["keys", "revoke", key_id], env=env).exit_code == 0
    deadline = time.monotonic() + 2.0
    while client.get("/events", headers=bearer(secret)).status_code != 401:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert runner.invoke(main, ["keys", "revoke", key_id], env=env).exit_code == 1
