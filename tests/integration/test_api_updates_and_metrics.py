"""SSE updates, /metrics, and accepting commands while Redis is away — real PostgreSQL/Redis."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api import updates
from api.app import create_app
from models.storage.tables import Ticket
from tessera.config import Settings
from tessera.tools.servers import ServerUrls
from tests.drain import drain_event
from tests.integration.conftest import AppFactory
from tests.integration.test_seats_persistence import make_event, make_users
from workers import runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def app(api_app: AppFactory, settings: Settings, db: sessionmaker[Session]) -> Flask:
    """Auth off: these tests are about the stream and the metrics, not keys."""
    built = api_app(dataclasses.replace(settings, auth_enabled=False))
    make_event(db, "e1", capacity=1)
    make_users(db, "ann", "bob")
    return built


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


def read_messages(body: Iterator[bytes], count: int) -> list[dict[str, Any]]:
    """Parse SSE frames from a streamed body until `count` messages (comments are kept)."""
    messages: list[dict[str, Any]] = []
    buffer = b""
    for chunk in body:
        buffer += chunk
        while b"\n\n" in buffer:
            frame, buffer = buffer.split(b"\n\n", 1)
            message: dict[str, Any] = {}
            for line in frame.decode().splitlines():
                field, _, value = line.partition(":")
                message[field or "comment"] = value.strip()
            if "retry" in message:
                continue
            messages.append(message)
            if len(messages) == count:
                return messages
    return messages


def test_a_reconnecting_client_gets_what_it_missed_from_last_event_id(
    http: FlaskClient, worker: runtime.Runtime
) -> None:
    http.post("/events/e1/registrations", json={"userId": "ann"})
    http.post("/events/e1/registrations", json={"userId": "bob"})
    drain_event(worker, "e1")

    response = http.get("/events/e1/updates", headers={"Last-Event-ID": "0"}, buffered=False)

    assert response.mimetype == "text/event-stream"
    first, second = read_messages(response.response, 2)  # type: ignore[arg-type]
    response.close()
    assert (first["event"], second["event"]) == ("ticket.completed", "ticket.completed")
    assert int(first["id"]) < int(second["id"])
    data = json.loads(second["data"])
    assert (data["eventId"], data["userId"], data["status"]) == ("e1", "bob", "completed")
    assert data["result"]["status"] == "waitlisted"
    assert data["ticketId"]


def test_a_live_client_sees_a_completion_and_the_promotion_it_caused(
    http: FlaskClient, worker: runtime.Runtime
) -> None:
    http.post("/events/e1/registrations", json={"userId": "ann"})
    http.post("/events/e1/registrations", json={"userId": "bob"})
    drain_event(worker, "e1")
    response = http.get("/events/e1/updates", buffered=False)
    body = iter(response.response)  # type: ignore[arg-type]
    assert next(body).startswith(b"retry:")

    http.delete("/events/e1/registrations/ann")
    threading.Timer(0.2, drain_event, args=(worker, "e1")).start()
    completed, promoted = read_messages(body, 2)
    response.close()

    assert completed["event"] == "ticket.completed"
    assert json.loads(completed["data"])["result"]["promotedUserId"] == "bob"
    assert promoted["event"] == "registration.promoted"
    assert json.loads(promoted["data"]) == {
        "eventId": "e1",
        "userId": "bob",
        "status": "registered",
        "ledgerIndex": 0,  # an event made straight in the database keeps no ledger
    }


def test_an_idle_stream_sends_heartbeat_comments(
    http: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(updates, "HEARTBEAT_SECONDS", 0.1)
    response = http.get("/events/e1/updates", buffered=False)
    (beat,) = read_messages(response.response, 1)  # type: ignore[arg-type]
    response.close()
    assert beat == {"comment": "keep-alive"}


def test_updates_of_an_unknown_event_are_404(http: FlaskClient) -> None:
    response = http.get("/events/nope/updates")
    assert (response.status_code, response.get_json()["code"]) == (404, "EVENT_NOT_FOUND")


def test_an_event_id_with_a_nul_byte_is_404_not_a_server_error(http: FlaskClient) -> None:
    response = http.get("/events/a%00b/updates")
    assert (response.status_code, response.get_json()["code"]) == (404, "EVENT_NOT_FOUND")


def test_a_malformed_last_event_id_is_422(http: FlaskClient) -> None:
    response = http.get("/events/e1/updates", headers={"Last-Event-ID": "yesterday"})
    assert (response.status_code, response.get_json()["code"]) == (422, "VALIDATION_ERROR")


def test_an_empty_last_event_id_streams_from_now_as_the_document_says(
    http: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(updates, "HEARTBEAT_SECONDS", 0.1)
    [header] = [
        p
        for p in http.get("/openapi.json").get_json()["paths"]["/events/{eventId}/updates"]["get"][
            "parameters"
        ]
        if p["name"] == "Last-Event-ID"
    ]
    assert re.search(header["schema"]["pattern"], "")  # the document allows it ...
    assert not re.search(header["schema"]["pattern"], "yesterday")

    response = http.get("/events/e1/updates", headers={"Last-Event-ID": ""}, buffered=False)
    assert response.status_code == 200  # ... and the API answers it like no header
    (beat,) = read_messages(response.response, 1)  # type: ignore[arg-type]
    response.close()
    assert beat == {"comment": "keep-alive"}


def test_metrics_count_requests_accepted_tickets_applied_results_and_queue_lag(
    http: FlaskClient, worker: runtime.Runtime
) -> None:
    http.post("/events/e1/registrations", json={"userId": "ann"})
    http.post("/events/e1/registrations", json={"userId": "bob"})
    before = http.get("/metrics").get_data(as_text=True)
    assert "tessera_tickets_pending 2.0" in before
    drain_event(worker, "e1")

    text = http.get("/metrics").get_data(as_text=True)

    route = "/events/<event_id>/registrations"
    assert f'tessera_http_requests_total{{method="POST",route="{route}",status="202"}} 2.0' in text
    assert "tessera_tickets_accepted_total 2.0" in text
    assert 'tessera_tickets_applied_total{result="registered"}' in text
    assert 'tessera_tickets_applied_total{result="waitlisted"}' in text
    assert "tessera_apply_batch_size_count" in text
    assert "tessera_queue_lag_seconds 0.0" in text
    assert "tessera_tickets_pending 0.0" in text


def test_commands_are_accepted_while_redis_is_unreachable(
    server_urls: ServerUrls, db: sessionmaker[Session], worker: runtime.Runtime
) -> None:
    """The ticket row is the truth: without Redis the wake-up is skipped, and the sweeper
    (here: a drain, as the sweeper's wake-up would cause) completes the ticket later."""
    app = create_app(
        Settings(
            database_url=server_urls.database_url,
            redis_url="redis://127.0.0.1:1/0",
            auth_enabled=False,
            rate_limit="off",
        )
    )
    make_event(db, "e2", capacity=5)
    make_users(db, "cy")

    response = app.test_client().post("/events/e2/registrations", json={"userId": "cy"})

    assert response.status_code == 202
    with db.begin() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 1
    drain_event(worker, "e2")
    ticket_id = response.get_json()["ticketId"]
    done = app.test_client().get(f"/tickets/{ticket_id}").get_json()
    assert done["result"]["status"] == "registered"
