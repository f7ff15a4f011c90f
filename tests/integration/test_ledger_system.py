"""The ledger the running system writes verifies, through the real rules, against the views the
API shows; and a change made behind the system's back is caught. Real PostgreSQL and Redis; the
worker's apply loop runs in the test process; `tessera verify`/`replay` read the database."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from models.domain.ledger_verify import verify
from tessera.tools.cli import main
from tessera.tools.ledger_sources import DatabaseSource
from tessera.tools.servers import ServerUrls
from tests.drain import drain_event
from tests.integration.conftest import ADMIN, CLIENT, create_event, create_users
from workers import runtime

pytestmark = pytest.mark.integration

USERS = [f"u{n}" for n in range(14)]


def send(http: FlaskClient, method: str, path: str, **kwargs: Any) -> None:
    response = http.open(path, method=method, headers=CLIENT, **kwargs)
    assert response.status_code == 202, response.get_json()


def busy_history(
    client: FlaskClient, worker: runtime.Runtime, db: sessionmaker[Session], seed: int
) -> None:
    """Random demand on a fill event with parties and offers: registers, leaves, accepts,
    declines, capacity and policy changes, a user deleted. (Offers running out need real time
    to pass: an offer's end is in the ledger, so moving it in the database would be a change
    behind the system's back, which the verifier rightly refuses; see the test below.)"""
    rng = random.Random(seed)
    create_event(
        client,
        capacity=6,
        maxPartySize=3,
        waitlistPolicy="fill",
        bypassLimit=1,
        promotion="offer",
        offerTtlSeconds=60,
    )
    create_users(client, *USERS)
    send(client, "POST", "/events/e1/registrations", json={"userId": USERS[0]})
    for step in range(60):
        user = rng.choice(USERS[1:])
        match rng.randrange(9):
            case 0 | 1 | 2 | 3:
                body = {"userId": user, "seats": rng.randint(1, 3)}
                send(client, "POST", "/events/e1/registrations", json=body)
            case 4 | 5:
                send(client, "DELETE", f"/events/e1/registrations/{user}")
            case 6:
                send(client, "POST", f"/events/e1/offers/{user}/accept")
            case 7:
                send(client, "POST", f"/events/e1/offers/{user}/decline")
            case _:
                change = rng.choice(
                    [{"capacity": rng.randint(6, 9)}, {"waitlistPolicy": "strict"}, {"title": "x"}]
                )
                client.put("/events/e1", json=change, headers=ADMIN)  # a 409 is a refusal
        if step % 7 == 0:
            drain_event(worker, "e1")
    assert client.delete(f"/users/{USERS[0]}", headers=ADMIN).status_code == 204
    drain_event(worker, "e1")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_ledger_of_a_busy_event_verifies_against_the_views(
    client: FlaskClient,
    worker: runtime.Runtime,
    db: sessionmaker[Session],
    server_urls: ServerUrls,
    seed: int,
) -> None:
    busy_history(client, worker, db, seed)
    snapshot = DatabaseSource(server_urls.database_url).snapshot("e1", with_views=True)

    verdict = verify(snapshot.entries, snapshot.views, event_id="e1")

    assert verdict.ok, verdict.divergence
    assert verdict.unchecked == ()  # every view field was compared
    assert verdict.entries == len(snapshot.entries) > 40
    kinds = {entry["kind"] for entry in snapshot.entries}
    assert {"event_created", "ticket", "user_removed"} <= kinds


def test_an_offer_that_ran_out_in_real_time_verifies(
    client: FlaskClient, worker: runtime.Runtime, server_urls: ServerUrls
) -> None:
    create_event(client, capacity=1, promotion="offer", offerTtlSeconds=5)
    create_users(client, "ann", "bob", "cat")
    for user in ("ann", "bob", "cat"):
        send(client, "POST", "/events/e1/registrations", json={"userId": user})
    drain_event(worker, "e1")
    send(client, "DELETE", "/events/e1/registrations/ann")
    drain_event(worker, "e1")
    time.sleep(5.2)
    drain_event(worker, "e1")

    snapshot = DatabaseSource(server_urls.database_url).snapshot("e1", with_views=True)
    assert [e["kind"] for e in snapshot.entries][-1] == "offer_expired"
    verdict = verify(snapshot.entries, snapshot.views, event_id="e1")
    assert verdict.ok, verdict.divergence


def test_a_seat_changed_behind_the_systems_back_or_an_edited_entry_is_caught(
    client: FlaskClient,
    worker: runtime.Runtime,
    db: sessionmaker[Session],
    server_urls: ServerUrls,
) -> None:
    busy_history(client, worker, db, seed=4)
    source = DatabaseSource(server_urls.database_url)
    assert verify(source.snapshot("e1", with_views=True).entries, event_id="e1").ok

    with db.begin() as session:  # an edited outcome, hash recomputed by nobody
        raw = session.scalar(text("SELECT entry FROM ledger_entries WHERE index = 2"))
        entry = json.loads(raw)
        entry["outcome"]["status"] = (
            "registered" if entry["outcome"]["status"] != "registered" else "denied"
        )
        session.execute(
            text("UPDATE ledger_entries SET entry = :entry WHERE index = 2"),
            {"entry": json.dumps(entry)},
        )
    verdict = verify(source.snapshot("e1", with_views=True).entries, event_id="e1")
    assert not verdict.ok
    assert verdict.divergence is not None
    assert verdict.divergence.index == 2


def test_tessera_verify_and_replay_read_the_database(
    client: FlaskClient,
    worker: runtime.Runtime,
    db: sessionmaker[Session],
    server_urls: ServerUrls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    busy_history(client, worker, db, seed=5)
    monkeypatch.setenv("DATABASE_URL", server_urls.database_url)
    runner = CliRunner()

    verified = runner.invoke(main, ["verify", "e1"])
    assert verified.exit_code == 0, verified.output

    replayed = runner.invoke(main, ["replay", "e1", "--policy", "strict", "--json"])
    assert replayed.exit_code == 0, replayed.output
    assert json.loads(replayed.output)

    with db.begin() as session:
        session.execute(text("DELETE FROM ledger_entries WHERE index = 3"))
    broken = runner.invoke(main, ["verify", "e1"])
    assert broken.exit_code == 1, broken.output
    assert "3" in broken.output
