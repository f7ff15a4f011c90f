"""Every SSE and webhook message names the ledger entry its change was sealed in: `data` carries
`ledgerIndex` (an integer) at its top level, whatever its type (CONTRACT.md, v3 preamble).

One event goes through every kind of change that sends messages (tickets of each type, a
promotion, offers made, accepted, declined and run out, a capacity raise, a user's deletion);
its messages are then read over SSE and from the webhook outbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from api import updates
from models.domain.updates import (
    OFFER_ACCEPTED,
    OFFER_DECLINED,
    OFFER_EXPIRED,
    OFFER_MADE,
    REGISTRATION_PROMOTED,
    TICKET_COMPLETED,
)
from tessera.config import Settings
from tests.drain import drain_event
from tests.integration.conftest import ADMIN, AppFactory, create_event, create_users, get_json
from tests.integration.test_api_offers import accept, decline, end_offer_at, register, unregister
from tests.integration.test_webhooks import subscribe, webhook_settings
from workers import runtime

pytestmark = pytest.mark.integration

ALL_TYPES = {
    TICKET_COMPLETED,
    REGISTRATION_PROMOTED,
    OFFER_MADE,
    OFFER_ACCEPTED,
    OFFER_DECLINED,
    OFFER_EXPIRED,
}


@pytest.fixture
def hooks(api_app: AppFactory, settings: Settings) -> FlaskClient:
    return api_app(webhook_settings(settings)).test_client()


def sse_messages(client: FlaskClient) -> list[tuple[str, dict[str, Any]]]:
    """Everything the stream replays from the start, until its first keep-alive."""
    response = client.get(
        "/events/e1/updates", headers={**ADMIN, "Last-Event-ID": "0"}, buffered=False
    )
    assert response.status_code == 200
    messages: list[tuple[str, dict[str, Any]]] = []
    buffer = b""
    chunks: Iterator[bytes] = iter(response.response)  # type: ignore[arg-type]
    for chunk in chunks:
        buffer += chunk
        if b": keep-alive" in buffer or len(messages) > 100:
            break
        while b"\n\n" in buffer:
            frame, buffer = buffer.split(b"\n\n", 1)
            fields = dict(line.partition(": ")[::2] for line in frame.decode().splitlines())
            if "event" in fields:
                messages.append((fields["event"], json.loads(fields["data"])))
    response.close()
    return messages


def outbox_messages(db: sessionmaker[Session]) -> list[tuple[str, dict[str, Any]]]:
    with db.begin() as session:
        rows = session.execute(text("SELECT kind, payload FROM webhook_deliveries ORDER BY id"))
        return [(row.kind, row.payload) for row in rows]


def every_kind_of_change(client: FlaskClient, worker: runtime.Runtime, db: Any) -> None:
    create_users(client, "ann", "bob", "cy", "dan", "eve")
    create_event(client, capacity=1, promotion="offer", offerTtlSeconds=600)
    for user in ("ann", "bob", "cy", "dan"):
        register(client, user)
    drain_event(worker, "e1")
    unregister(client, "ann")  # an offer to bob
    drain_event(worker, "e1")
    accept(client, "bob")
    drain_event(worker, "e1")
    unregister(client, "bob")  # an offer to cy
    drain_event(worker, "e1")
    decline(client, "cy")  # an offer to dan
    drain_event(worker, "e1")
    end_offer_at(db, "dan", "now() - interval '1 second'")
    drain_event(worker, "e1")  # dan's offer runs out; the line is empty
    register(client, "eve")
    drain_event(worker, "e1")  # eve takes the free seat
    register(client, "ann")
    drain_event(worker, "e1")  # ann waits
    changed = client.put(
        "/events/e1", json={"capacity": 2, "promotion": "automatic"}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.get_json()  # ann is promoted by the update
    register(client, "bob")
    drain_event(worker, "e1")  # bob waits
    assert client.delete("/users/eve", headers=ADMIN).status_code == 204  # bob is promoted


def check_ledger_indexes(
    messages: list[tuple[str, dict[str, Any]]], entries: list[dict[str, Any]]
) -> None:
    assert {kind for kind, _ in messages} == ALL_TYPES
    for kind, data in messages:
        index = data["ledgerIndex"]
        assert type(index) is int, (kind, data)
        entry = entries[index - 1]
        assert entry["index"] == index
        if kind == TICKET_COMPLETED:
            assert index == data["result"]["ledgerIndex"]
            assert entry["ticketId"] == data["ticketId"]
        else:  # the entry whose change sent it names the user
            assert data["userId"] in json.dumps(entry), (kind, data, entry)
    indexes = [data["ledgerIndex"] for _, data in messages]
    assert indexes == sorted(indexes)


def test_every_message_over_sse_and_webhooks_names_its_ledger_entry(
    hooks: FlaskClient,
    worker: runtime.Runtime,
    db: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(updates, "HEARTBEAT_SECONDS", 0.2)  # the replay ends at the first beat
    subscribe(hooks, "http://127.0.0.1:9/hook")
    every_kind_of_change(hooks, worker, db)
    page = get_json(hooks, "/events/e1/ledger?limit=1000")
    entries = page["items"]

    over_sse = sse_messages(hooks)
    check_ledger_indexes(over_sse, entries)
    over_webhooks = outbox_messages(db)
    check_ledger_indexes(over_webhooks, entries)
    assert over_webhooks == over_sse
