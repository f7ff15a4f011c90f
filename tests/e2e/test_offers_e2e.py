"""Offers end on time with a real worker and beat: nobody runs a drain by hand, and the
stream carries the offer's life (`offer.made`, `offer.expired`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from tessera.tools.cli import main
from tests.e2e.conftest import ADMIN_KEY, Api

pytestmark = pytest.mark.e2e

TTL_SECONDS = 5  # the shortest the contract allows
EXPIRY_LAG_SECONDS = 2.0  # the contract's bound


def moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def stream_messages(
    base_url: str, into: list[tuple[str, dict[str, Any]]], stop: threading.Event
) -> None:
    """Collect the event's stream until stopped (or until the stack goes away)."""
    # the stack may stop under an open stream: what was read is what counts
    with contextlib.suppress(requests.RequestException):
        _read_stream(base_url, into, stop)


def _read_stream(
    base_url: str, into: list[tuple[str, dict[str, Any]]], stop: threading.Event
) -> None:
    with requests.get(
        f"{base_url}/events/course/updates",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        stream=True,
        timeout=30,
    ) as response:
        response.encoding = "utf-8"
        kind = ""
        for line in response.iter_lines(chunk_size=1, decode_unicode=True):
            if stop.is_set():
                return
            if line.startswith("event:"):
                kind = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                into.append((kind, json.loads(line.removeprefix("data:"))))


def test_an_unanswered_offer_expires_within_the_lag_and_the_next_party_is_offered(
    admin: Api,
) -> None:
    for user in ("ann", "bob", "cat"):
        admin.create_user(user)
    body = {
        "eventId": "course",
        "title": "Course",
        "description": "",
        "date": "2027-01-01",
        "location": "Room 1",
        "capacity": 1,
        "organizer": "Uni",
        "status": "active",
        "waitlistEnabled": True,
        "promotion": "offer",
        "offerTtlSeconds": TTL_SECONDS,
    }
    assert admin.call("POST", "/events", json=body).status_code == 201
    messages: list[tuple[str, dict[str, Any]]] = []
    stop = threading.Event()
    reader = threading.Thread(
        target=stream_messages, args=(admin.base_url, messages, stop), daemon=True
    )
    reader.start()
    time.sleep(0.5)  # the stream is open
    for user in ("ann", "bob", "cat"):
        admin.outcome(admin.register("course", user))
    left = admin.outcome(admin.unregister("course", "ann"))["result"]
    [offer] = left["offers"]
    assert offer["userId"] == "bob"
    expires_at = moment(offer["expiresAt"])

    deadline = time.monotonic() + TTL_SECONDS + 10
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = admin.call("GET", "/events/course/registrations/cat").json()
        if status.get("status") == "offered":
            break
        time.sleep(0.05)
    seen_at = dt.datetime.now(dt.UTC)
    assert status["status"] == "offered", status
    assert (seen_at - expires_at).total_seconds() < EXPIRY_LAG_SECONDS + 0.5  # + our polling
    assert admin.call("GET", "/events/course/registrations/bob").status_code == 404

    ledger = admin.call("GET", "/events/course/ledger").json()["items"]
    [expired] = [e for e in ledger if e["kind"] == "offer_expired"]
    assert (expired["userId"], expired["outcome"]["offeredUserIds"]) == ("bob", ["cat"])

    verified = CliRunner().invoke(
        main, ["verify", "course", "--url", admin.base_url, "--key", ADMIN_KEY]
    )
    assert verified.exit_code == 0, verified.output

    time.sleep(0.3)
    stop.set()
    kinds = [(kind, data.get("userId")) for kind, data in messages if kind.startswith("offer.")]
    assert kinds == [("offer.made", "bob"), ("offer.expired", "bob"), ("offer.made", "cat")]
