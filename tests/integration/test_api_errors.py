"""Every error is problem+json with the contract's code, and no client input causes a 500."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.storage.tables import Event, User
from tests.integration.conftest import ADMIN, CLIENT, create_event, create_users, event_body

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


def rows(db: sessionmaker[Session]) -> tuple[int, int]:
    with db.begin() as session:
        users = session.scalar(select(func.count()).select_from(User)) or 0
        events = session.scalar(select(func.count()).select_from(Event)) or 0
        return int(users), int(events)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert body["code"] == code
    assert set(body) <= {"type", "title", "status", "detail", "code", "requestId", "errors"}
    assert {"type", "title", "detail", "requestId"} <= set(body)
    assert body["requestId"] == response.headers["X-Request-ID"]
    return body


# --- bodies that are not a JSON object --------------------------------------------------

NOT_AN_OBJECT = [
    b"{",
    b'{"userId": "u1", "name": "Ann"',
    b"",
    b"   ",
    b"null",
    b"[]",
    b'[{"userId": "u1", "name": "Ann"}]',
    b'"a string"',
    b"42",
    b"true",
    b'{"userId": "u1", "name": NaN}',
    b'{"capacity": Infinity}',
    b"\xff\xfe{}",
    b'{"userId": "u1", "name": "\xc3"}',
    b"[" * 100_000,
    b'{"a":' * 50_000,
]


@pytest.mark.parametrize("body", NOT_AN_OBJECT, ids=lambda body: repr(body[:20]))
@pytest.mark.parametrize("path", ["/users", "/events"])
def test_a_body_that_is_not_a_json_object_is_422_and_nothing_is_written(
    client: FlaskClient, db: sessionmaker[Session], path: str, body: bytes
) -> None:
    response = client.post(path, data=body, content_type="application/json", headers=ADMIN)

    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert problem["errors"][0]["field"] == "body"
    assert rows(db) == (0, 0)


def test_the_same_holds_for_updates(client: FlaskClient) -> None:
    create_users(client, "ann")
    create_event(client, "e1")

    for path in ["/users/ann", "/events/e1"]:
        for body in [b"null", b"[]", b"{oops", b""]:
            response = client.put(path, data=body, content_type="application/json", headers=ADMIN)
            assert_problem(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/json-patch+json",
    ],
)
def test_a_body_that_is_not_application_json_is_415(
    client: FlaskClient, db: sessionmaker[Session], content_type: str | None
) -> None:
    data = b'{"userId": "u1", "name": "Ann"}'

    response = client.post("/users", data=data, content_type=content_type, headers=ADMIN)

    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert rows(db) == (0, 0)


def test_a_json_content_type_with_a_charset_is_still_json(client: FlaskClient) -> None:
    response = client.post(
        "/users",
        data=b'{"userId": "u1", "name": "Ann"}',
        content_type="application/json; charset=utf-8",
        headers=ADMIN,
    )
    assert response.status_code == 201


def test_a_lone_surrogate_in_text_is_422_not_a_database_error(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    for path, body in [
        ("/users", b'{"userId": "u1", "name": "A\\ud800"}'),
        ("/events", b'{"title": "\\udfff"}'),
    ]:
        response = client.post(path, data=body, content_type="application/json", headers=ADMIN)
        assert_problem(response, 422, "VALIDATION_ERROR")
    assert rows(db) == (0, 0)


def test_unicode_text_beyond_ascii_is_stored_as_sent(client: FlaskClient) -> None:
    name = "Zoë 🎉 東京"
    response = client.post("/users", json={"userId": "u1", "name": name}, headers=ADMIN)
    assert response.get_json()["name"] == name


# --- oversized bodies -------------------------------------------------------------------


def test_a_body_over_the_size_limit_is_413(
    client: FlaskClient, app: Flask, db: sessionmaker[Session]
) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = b'{"userId": "u1", "name": "' + b"x" * limit + b'"}'

    response = client.post("/users", data=body, content_type="application/json", headers=ADMIN)

    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert rows(db) == (0, 0)


def test_a_chunked_body_that_grows_past_the_limit_is_413_not_a_500(
    client: FlaskClient, app: Flask, db: sessionmaker[Session]
) -> None:
    """No Content-Length (as with Transfer-Encoding: chunked through gunicorn): the limit is
    enforced while reading."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    stream = io.BytesIO(b'{"userId": "u1", "name": "' + b"x" * (limit + 10) + b'"}')

    response = client.post(
        "/users",
        input_stream=stream,
        content_type="application/json",
        headers={**ADMIN, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert rows(db) == (0, 0)


def test_a_chunked_body_within_the_limit_is_read(client: FlaskClient) -> None:
    response = client.post(
        "/users",
        input_stream=io.BytesIO(b'{"userId": "u1", "name": "Ann"}'),
        content_type="application/json",
        headers={**ADMIN, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 201


# --- routes and methods -----------------------------------------------------------------


def test_an_unknown_route_is_404_not_found(client: FlaskClient) -> None:
    for path in ["/nope", "/users/", "/users/ann/friends", "/events/e1/registrations/ann/x"]:
        assert_problem(client.get(path, headers=CLIENT), 404, "NOT_FOUND")


def test_a_method_the_route_does_not_have_is_405_with_allow(client: FlaskClient) -> None:
    response = client.patch("/events/e1", json={}, headers=ADMIN)

    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "PUT", "DELETE"}
    assert_problem(client.delete("/events", headers=ADMIN), 405, "METHOD_NOT_ALLOWED")
    assert_problem(client.put("/health"), 405, "METHOD_NOT_ALLOWED")


# --- request ids and internal errors ----------------------------------------------------


def test_every_response_carries_a_request_id(client: FlaskClient) -> None:
    ok = client.get("/events", headers=CLIENT)
    failed = client.get("/events", headers={"Authorization": "Bearer nope"})

    assert ok.headers["X-Request-ID"]
    assert failed.headers["X-Request-ID"] == failed.get_json()["requestId"]
    assert ok.headers["X-Request-ID"] != failed.headers["X-Request-ID"]


def test_a_well_formed_incoming_request_id_is_kept_and_a_bad_one_replaced(
    client: FlaskClient,
) -> None:
    kept = client.get("/users/ghost", headers={**CLIENT, "X-Request-ID": "trace-123.abc"})
    replaced = client.get("/users/ghost", headers={**CLIENT, "X-Request-ID": "bad id\u00e9"})

    assert kept.headers["X-Request-ID"] == "trace-123.abc"
    assert kept.get_json()["requestId"] == "trace-123.abc"
    assert replaced.headers["X-Request-ID"] != "bad id\u00e9"


def test_an_unexpected_failure_is_500_internal_and_discloses_nothing(
    app: Flask, client: FlaskClient
) -> None:
    def explode() -> None:
        raise RuntimeError("password=hunter2 at db.internal:5432")

    app.add_url_rule("/boom", "boom", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    response = client.get("/boom", headers=CLIENT)

    problem = assert_problem(response, 500, "INTERNAL")
    assert b"hunter2" not in response.data
    assert b"db.internal" not in response.data
    assert problem["detail"] == "An internal error occurred."


def test_validation_errors_name_each_field_with_a_dotted_path(client: FlaskClient) -> None:
    response = client.post(
        "/events",
        json=event_body(capacity="many", date="soon", title=" ", extra=1),
        headers=ADMIN,
    )

    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert sorted(e["field"] for e in problem["errors"]) == ["capacity", "date", "extra", "title"]
    assert all(e["message"] for e in problem["errors"])
