"""The on-sale draw over HTTP (#24; contract v3 "The on-sale draw"): the commitment in the view
and the ledger, the pre-queue, DRAW_LOCKED, the draw made once by the applier (two at once, or
one killed mid-draw), and a ledger that verifies. Real PostgreSQL and Redis; the worker's apply
loop runs in the test process. The opening is moved into the past in the database to stand
for time passing (past the pre-queue's opening, the API would refuse it: DRAW_LOCKED)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from models.domain import draw as drawing
from models.domain.ledger_verify import Views, verify
from models.domain.results import rfc3339
from models.storage import locks
from models.storage.db import database_now
from tests.drain import drain_event
from tests.integration.conftest import ADMIN, CLIENT, create_event, create_users, get_json
from workers import apply, runtime, sweeper

pytestmark = pytest.mark.integration

USERS = ("ann", "bob", "cat", "dan", "eve")


def _soon(hours: float) -> str:
    return rfc3339(dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours))  # type: ignore[return-value]


def draw_event(http: FlaskClient, **more: Any) -> dict[str, Any]:
    """A draw whose pre-queue is open now and whose opening is an hour away."""
    return create_event(
        http,
        capacity=2,
        opening="draw",
        prequeueOpensAt=_soon(-1),
        registrationOpensAt=_soon(1),
        **more,
    )


def register(http: FlaskClient, user: str) -> Any:
    response = http.post("/events/e1/registrations", json={"userId": user}, headers=CLIENT)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def open_now(db: sessionmaker[Session]) -> None:
    """Time passes: the opening is now in the past (so the draw is due)."""
    with db.begin() as session:
        session.execute(
            text(
                "UPDATE events SET registration_opens_at = now() - interval '1 second'"
                " WHERE event_id = 'e1'"
            )
        )


def ledger_of(http: FlaskClient) -> list[dict[str, Any]]:
    page = get_json(http, "/events/e1/ledger?limit=1000")
    return list(page["items"])


def prequeue_everyone(client: FlaskClient, worker: runtime.Runtime) -> None:
    create_users(client, *USERS)
    tickets = [register(client, user) for user in USERS]
    drain_event(worker, "e1")
    for ticket in tickets:
        result = get_json(client, f"/tickets/{ticket['ticketId']}")["result"]
        assert result["status"] == "prequeued", result


def test_a_draw_event_publishes_its_commitment_and_keeps_its_seed_out_of_every_view(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    event = draw_event(client)

    commitment = event["drawCommitment"]
    assert drawing.is_digest(commitment)
    assert event["drawnAt"] is None
    assert (event["opening"], event["prequeuedCount"]) == ("draw", 0)
    (created,) = ledger_of(client)
    assert created["outcome"]["drawCommitment"] == commitment
    with db.begin() as session:
        seed = session.scalar(text("SELECT seed FROM draw_seeds WHERE event_id = 'e1'"))
    assert hashlib.sha256(seed).hexdigest() == commitment
    assert seed.hex() not in str(event) + str(created)


@pytest.mark.parametrize(
    "body",
    [
        {"opening": "draw", "registrationOpensAt": "2030-01-01T10:00:00Z"},
        {"opening": "draw", "prequeueOpensAt": "2030-01-01T10:00:00Z"},
        {
            "opening": "draw",
            "prequeueOpensAt": "2030-01-01T10:00:00Z",
            "registrationOpensAt": "2030-01-01T10:00:00Z",
        },
    ],
)
def test_a_draw_without_a_prequeue_before_the_opening_is_refused(
    client: FlaskClient, body: dict[str, Any]
) -> None:
    response = client.post("/events", json={**_body(), **body}, headers=ADMIN)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"][0]["field"] == "prequeueOpensAt"
    assert client.get("/events/e9", headers=CLIENT).status_code == 404


def _body() -> dict[str, Any]:
    return {
        "eventId": "e9",
        "title": "On sale",
        "description": "",
        "date": "2030-01-02",
        "location": "Hall",
        "capacity": 2,
        "organizer": "Org",
        "status": "active",
    }


def test_after_the_prequeue_opens_the_times_are_locked_until_the_draw(
    client: FlaskClient,
) -> None:
    draw_event(client)
    for change in ({"opening": "fifo"}, {"registrationOpensAt": _soon(2)}):
        response = client.put("/events/e1", json=change, headers=ADMIN)
        assert response.status_code == 409, response.get_json()
        assert response.get_json()["code"] == "DRAW_LOCKED"
    assert client.put("/events/e1", json={"capacity": 3}, headers=ADMIN).status_code == 200
    assert get_json(client, "/events/e1")["opening"] == "draw"


def test_an_event_becoming_a_draw_commits_in_its_update_entry(client: FlaskClient) -> None:
    create_event(client)
    response = client.put(
        "/events/e1",
        json={"opening": "draw", "prequeueOpensAt": _soon(1), "registrationOpensAt": _soon(2)},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.get_json()
    commitment = response.get_json()["drawCommitment"]
    updated = ledger_of(client)[-1]
    assert updated["outcome"]["changes"]["drawCommitment"] == {"from": None, "to": commitment}


def test_the_prequeue_is_drawn_once_when_due_and_the_ledger_verifies(
    client: FlaskClient, worker: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    draw_event(client)
    prequeue_everyone(client, worker)
    assert get_json(client, "/events/e1/registrations/ann") == {
        "status": "prequeued",
        "seats": 1,
        "position": None,
    }
    assert get_json(client, "/events/e1")["prequeuedCount"] == len(USERS)
    open_now(db)

    assert sweeper.wake_for_due_offers(worker) == ["e1"]
    drain_event(worker, "e1")

    assert sweeper.wake_for_due_offers(worker) == []
    entries = ledger_of(client)
    (draw,) = [e for e in entries if e["kind"] == "draw"]
    outcome = draw["outcome"]
    assert outcome["closingHash"] == entries[draw["index"] - 2]["hash"]
    assert (
        hashlib.sha256(bytes.fromhex(outcome["seed"])).hexdigest()
        == (entries[0]["outcome"]["drawCommitment"])
    )
    assert [p["status"] for p in outcome["drawn"]] == ["registered"] * 2 + ["waitlisted"] * 3
    event = get_json(client, "/events/e1")
    assert (event["registeredCount"], event["waitlistCount"], event["prequeuedCount"]) == (2, 3, 0)
    assert event["drawnAt"] is not None
    with db.begin() as session:
        messages = session.execute(
            text(
                "SELECT payload FROM event_log WHERE event_id = 'e1'"
                " AND kind = 'registration.drawn' ORDER BY id"
            )
        ).scalars()
        said = [(m["userId"], m["status"], m["position"], m["ledgerIndex"]) for m in messages]
    assert said == [
        (p["userId"], p["status"], p["position"], draw["index"]) for p in outcome["drawn"]
    ]
    # The opening the test moved in the database is no change the ledger could know of.
    shown = {name: value for name, value in event.items() if name != "registrationOpensAt"}
    verdict = verify(entries, Views(event=shown, waitlist=get_json(client, "/events/e1/waitlist")))
    assert verdict.ok, verdict.divergence


def test_a_register_accepted_at_the_opening_comes_after_the_drawn_parties(
    client: FlaskClient, worker: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    draw_event(client)
    prequeue_everyone(client, worker)
    open_now(db)
    create_users(client, "zed")
    late = register(client, "zed")  # accepted after the opening, before any draw ran

    drain_event(worker, "e1")

    kinds = [e["kind"] for e in ledger_of(client)]
    assert kinds[-2:] == ["draw", "ticket"]
    result = get_json(client, f"/tickets/{late['ticketId']}")["result"]
    assert (result["status"], result["position"]) == ("waitlisted", 4)


def test_two_appliers_waking_at_once_draw_once(
    client: FlaskClient, worker: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    draw_event(client)
    prequeue_everyone(client, worker)
    open_now(db)
    barrier = threading.Barrier(2)

    def one_pass() -> None:
        barrier.wait()
        apply.apply_pass(worker, 100)

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drain_event(worker, "e1")

    assert [e["kind"] for e in ledger_of(client)].count("draw") == 1
    assert get_json(client, "/events/e1")["registeredCount"] == 2


def test_an_applier_killed_mid_draw_leaves_nothing_and_the_next_draws_once(
    client: FlaskClient, worker: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    draw_event(client)
    prequeue_everyone(client, worker)
    open_now(db)

    # The applier draws, then its connection dies before it commits (a killed worker, as
    # PostgreSQL sees it).
    session = worker.sessions()
    try:
        locks.take_event(session, "e1")
        now = database_now(session)
        applied = apply.apply_events(session, ["e1"], now, 100)
        assert applied is not None
        assert applied.drawn == 1
        pid = session.scalar(text("SELECT pg_backend_pid()"))
        with db.begin() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        with contextlib.suppress(OperationalError):  # its connection is gone: so is the draw
            session.close()
    assert [e["kind"] for e in ledger_of(client)].count("draw") == 0
    assert get_json(client, "/events/e1")["prequeuedCount"] == len(USERS)

    drain_event(worker, "e1")

    assert [e["kind"] for e in ledger_of(client)].count("draw") == 1
    assert verify(ledger_of(client)).ok
