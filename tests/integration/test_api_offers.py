"""Offers and windows over HTTP (contract v2): seats held for the line's head, accepted,
declined or run out in the event's order by acceptance time; registration windows; and the
ledger every change lands in. Real PostgreSQL and Redis; the worker's apply loop runs in the
test process. An offer's end is moved into the past in the database to stand for time passing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from models.domain import ledger
from tests.drain import drain_event
from tests.integration.conftest import ADMIN, CLIENT, create_event, create_users, get_json
from workers import apply, runtime, sweeper

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def command(http: FlaskClient, method: str, path: str, **kwargs: Any) -> Any:
    kwargs.setdefault("headers", CLIENT)
    response = http.open(path, method=method, **kwargs)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def register(http: FlaskClient, user: str, seats: int = 1) -> Any:
    return command(http, "POST", "/events/e1/registrations", json={"userId": user, "seats": seats})


def unregister(http: FlaskClient, user: str) -> Any:
    return command(http, "DELETE", f"/events/e1/registrations/{user}")


def accept(http: FlaskClient, user: str, **kwargs: Any) -> Any:
    return command(http, "POST", f"/events/e1/offers/{user}/accept", **kwargs)


def decline(http: FlaskClient, user: str) -> Any:
    return command(http, "POST", f"/events/e1/offers/{user}/decline")


def result_of(http: FlaskClient, ticket: dict[str, Any]) -> Any:
    view = get_json(http, f"/tickets/{ticket['ticketId']}")
    assert view["status"] == "completed", view
    return view["result"]


def settle(worker: runtime.Runtime) -> None:
    drain_event(worker, "e1")


def offer_event(http: FlaskClient, capacity: int = 1, **settings: Any) -> None:
    create_event(http, capacity=capacity, promotion="offer", offerTtlSeconds=600, **settings)


def end_offer_at(db: sessionmaker[Session], user: str, moment: str | dt.datetime) -> None:
    """Time passes: the user's offer ends at `moment` (an SQL expression or a time)."""
    with db.begin() as session:
        value = moment if isinstance(moment, dt.datetime) else None
        expression = ":moment" if value is not None else moment
        session.execute(
            text(
                f"UPDATE registrations SET offer_expires_at = {expression}"
                " WHERE event_id = 'e1' AND user_id = :user AND standing = 'offered'"
            ),
            {"user": user, "moment": value},
        )
        session.execute(
            text(
                "UPDATE events SET next_offer_expiry = (SELECT min(offer_expires_at)"
                " FROM registrations WHERE event_id = 'e1' AND standing = 'offered')"
                " WHERE event_id = 'e1'"
            )
        )


def accepted_at(http: FlaskClient, ticket: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(ticket["createdAt"].replace("Z", "+00:00"))


def ledger_of(http: FlaskClient) -> list[dict[str, Any]]:
    page = get_json(http, "/events/e1/ledger?limit=1000")
    assert page["nextAfter"] is None
    return list(page["items"])


# --- offers -----------------------------------------------------------------------------


def test_a_freed_seat_is_offered_to_the_head_and_held_from_newcomers(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    offer_event(client)
    create_users(client, "ann", "bob", "cat")
    register(client, "ann")
    register(client, "bob")
    settle(worker)
    left = unregister(client, "ann")
    settle(worker)

    result = result_of(client, left)
    assert (result["status"], result["promotedUserIds"], result["offeredUserIds"]) == (
        "unregistered",
        [],
        ["bob"],
    )
    [offer] = result["offers"]
    assert (offer["userId"], offer["seats"]) == ("bob", 1)
    status = get_json(client, "/events/e1/registrations/bob")
    assert status == {
        "status": "offered",
        "seats": 1,
        "position": None,
        "expiresAt": offer["expiresAt"],
    }
    expires = dt.datetime.fromisoformat(offer["expiresAt"].replace("Z", "+00:00"))
    assert expires - accepted_at(client, left) == pytest.approx(
        dt.timedelta(seconds=600), abs=dt.timedelta(seconds=5)
    )
    event = get_json(client, "/events/e1")
    assert (event["registeredSeats"], event["offeredSeats"], event["availableSpots"]) == (0, 1, 0)
    [listed] = get_json(client, "/events/e1/offers")
    assert (listed["userId"], listed["seats"], listed["expiresAt"]) == (
        "bob",
        1,
        offer["expiresAt"],
    )
    assert [o["eventId"] for o in get_json(client, "/users/bob/offers")] == ["e1"]

    newcomer = register(client, "cat")
    settle(worker)
    assert result_of(client, newcomer)["status"] == "waitlisted"  # the held seat is not free
    twice = register(client, "bob")
    settle(worker)
    assert result_of(client, twice)["code"] == "ALREADY_WAITLISTED"


def test_accepting_seats_the_party_and_declining_passes_the_seats_on(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    offer_event(client, capacity=2, maxPartySize=2)
    create_users(client, "ann", "bob", "cat", "dan")
    register(client, "ann", seats=2)
    register(client, "bob")
    register(client, "cat")
    settle(worker)
    unregister(client, "ann")
    settle(worker)
    assert [o["userId"] for o in get_json(client, "/events/e1/offers")] == ["bob", "cat"]

    took = accept(client, "bob")
    said_no = decline(client, "cat")
    register(client, "dan")
    settle(worker)

    assert result_of(client, took)["status"] == "registered"
    declined = result_of(client, said_no)
    assert declined["status"] == "declined"
    # In acceptance order dan comes after cat's decline: the line is empty then, the seat free.
    assert get_json(client, "/events/e1/registrations/dan")["status"] == "registered"
    assert get_json(client, "/events/e1/offers") == []
    again = accept(client, "cat")
    settle(worker)
    assert result_of(client, again)["code"] == "NO_OPEN_OFFER"
    event = get_json(client, "/events/e1")
    assert (event["registeredSeats"], event["offeredSeats"]) == (2, 0)


def test_a_decline_offers_the_seats_to_the_next_in_line(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    offer_event(client)
    create_users(client, "ann", "bob", "cat")
    for user in ("ann", "bob", "cat"):
        register(client, user)
    settle(worker)
    unregister(client, "ann")
    settle(worker)
    said_no = decline(client, "bob")
    settle(worker)

    assert result_of(client, said_no)["offeredUserIds"] == ["cat"]
    assert get_json(client, "/events/e1/registrations/cat")["status"] == "offered"
    assert client.get("/events/e1/registrations/bob", headers=CLIENT).status_code == 404


def test_an_offer_past_its_end_expires_in_the_events_order_and_the_next_party_is_offered(
    client: FlaskClient, worker: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    offer_event(client)
    create_users(client, "ann", "bob", "cat")
    for user in ("ann", "bob", "cat"):
        register(client, user)
    settle(worker)
    unregister(client, "ann")
    settle(worker)
    end_offer_at(db, "bob", "now() - interval '1 second'")

    assert sweeper.wake_for_due_offers(worker) == ["e1"]
    settle(worker)

    assert client.get("/events/e1/registrations/bob", headers=CLIENT).status_code == 404
    assert get_json(client, "/events/e1/registrations/cat")["status"] == "offered"
    assert sweeper.wake_for_due_offers(worker) == []
    expired = [e for e in ledger_of(client) if e["kind"] == "offer_expired"]
    assert [
        (e["userId"], e["outcome"]["left"], e["outcome"]["offeredUserIds"]) for e in expired
    ] == [("bob", "offered", ["cat"])]


def test_the_acceptance_time_decides_an_accept_against_the_offers_end(
    client: FlaskClient, worker: runtime.Runtime, db: sessionmaker[Session]
) -> None:
    offer_event(client, capacity=2)
    create_users(client, "ann", "amy", "bob", "cat")
    for user in ("ann", "amy", "bob", "cat"):
        register(client, user)
    settle(worker)
    unregister(client, "ann")
    unregister(client, "amy")
    settle(worker)
    in_time = accept(client, "bob")
    too_late = accept(client, "cat")
    # Both are applied after both offers ended; bob's was accepted a millisecond before his
    # offer's end, cat's exactly at hers.
    end_offer_at(db, "bob", accepted_at(client, in_time) + dt.timedelta(milliseconds=1))
    end_offer_at(db, "cat", accepted_at(client, too_late))
    settle(worker)

    assert result_of(client, in_time)["status"] == "registered"
    assert result_of(client, too_late)["code"] == "NO_OPEN_OFFER"
    entries = ledger_of(client)
    order = [(e["kind"], e["userId"]) for e in entries if e["userId"] in {"bob", "cat"}][-3:]
    # cat's offer ended before her accept was applied; bob's accept came before his offer's end
    assert order == [("ticket", "bob"), ("offer_expired", "cat"), ("ticket", "cat")]


def test_unregistering_an_offered_user_ends_the_offer(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    offer_event(client)
    create_users(client, "ann", "bob")
    register(client, "ann")
    register(client, "bob")
    settle(worker)
    unregister(client, "ann")
    settle(worker)
    left = unregister(client, "bob")
    settle(worker)

    assert result_of(client, left)["status"] == "unregistered"
    event = get_json(client, "/events/e1")
    assert (event["offeredSeats"], event["availableSpots"]) == (0, 1)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"extra": 1}, 422),
        ([], 422),
        ("yes", 422),
    ],
)
def test_an_accept_with_a_body_other_than_an_empty_object_is_refused(
    client: FlaskClient, body: object, status: int
) -> None:
    offer_event(client)
    create_users(client, "bob")
    response = client.post("/events/e1/offers/bob/accept", json=body, headers=CLIENT)
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    assert client.get("/events/e1/ledger", headers=CLIENT).get_json()["items"][-1]["index"] == 1


def test_an_accept_with_an_empty_object_or_no_body_and_idempotency_keys_work(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    offer_event(client)
    create_users(client, "bob")
    first = accept(client, "bob", json={}, headers={**CLIENT, "Idempotency-Key": "k1"})
    again = client.post(
        "/events/e1/offers/bob/accept", json={}, headers={**CLIENT, "Idempotency-Key": "k1"}
    )
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["ticketId"] == first["ticketId"]
    bare = decline(client, "bob")
    settle(worker)
    assert result_of(client, first)["code"] == "NO_OPEN_OFFER"
    assert result_of(client, bare)["code"] == "NO_OPEN_OFFER"
    assert get_json(client, f"/tickets/{bare['ticketId']}")["type"] == "decline_offer"


def test_offers_of_unknown_events_and_users_are_404(client: FlaskClient) -> None:
    create_event(client)
    create_users(client, "bob")
    assert client.post("/events/nope/offers/bob/accept", headers=CLIENT).status_code == 404
    assert client.post("/events/e1/offers/nobody/decline", headers=CLIENT).status_code == 404
    assert client.get("/events/nope/offers", headers=CLIENT).status_code == 404
    assert client.get("/users/nobody/offers", headers=CLIENT).status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("promotion", "maybe"),
        ("promotion", None),
        ("offerTtlSeconds", 4),
        ("offerTtlSeconds", 604801),
        ("offerTtlSeconds", 60.5),
        ("offerTtlSeconds", "60"),
        ("registrationOpensAt", "tomorrow"),
        ("registrationOpensAt", "2027-01-01T10:00:00"),  # no offset
        ("registrationOpensAt", "2027-02-30T10:00:00Z"),
        ("registrationClosesAt", 1700000000),
        ("unregisterClosesAt", True),
    ],
)
def test_bad_offer_and_window_settings_are_422_naming_the_field(
    client: FlaskClient, field: str, value: object
) -> None:
    response = client.post(
        "/events",
        json={**_event(), field: value},
        headers=ADMIN,
    )
    assert response.status_code == 422, response.get_json()
    assert [e["field"] for e in response.get_json()["errors"]] == [field]
    assert client.get("/events/e1", headers=ADMIN).status_code == 404


def _event(**changes: Any) -> dict[str, Any]:
    return {
        "eventId": "e1",
        "title": "T",
        "description": "",
        "date": "2026-12-01",
        "location": "L",
        "capacity": 2,
        "organizer": "O",
        "status": "active",
        "waitlistEnabled": True,
        **changes,
    }


# --- windows ----------------------------------------------------------------------------


def test_a_window_that_opens_after_it_closes_is_422_and_changes_nothing(
    client: FlaskClient,
) -> None:
    body = _event(
        registrationOpensAt="2027-01-02T00:00:00Z", registrationClosesAt="2027-01-01T00:00:00Z"
    )
    response = client.post("/events", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["registrationOpensAt"]

    create_event(client, registrationClosesAt="2027-01-01T00:00:00Z")
    response = client.put(
        "/events/e1", json={"registrationOpensAt": "2027-01-01T00:00:00Z"}, headers=ADMIN
    )
    assert response.status_code == 422
    assert get_json(client, "/events/e1")["registrationOpensAt"] is None


def test_registrations_are_judged_by_acceptance_time_against_the_window(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_event(client, registrationOpensAt="2099-01-01T00:00:00.1234Z")
    event = get_json(client, "/events/e1")
    assert event["registrationOpensAt"] == "2099-01-01T00:00:00.123Z"
    create_users(client, "ann", "bob")
    early = register(client, "ann")
    settle(worker)
    assert result_of(client, early)["code"] == "REGISTRATION_NOT_OPEN"

    response = client.put(
        "/events/e1",
        json={"registrationOpensAt": None, "registrationClosesAt": "2020-01-01T00:00:00Z"},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.get_json()
    late = register(client, "bob")
    settle(worker)
    assert result_of(client, late)["code"] == "REGISTRATION_CLOSED"


def test_unregistering_a_seat_after_the_unregister_window_is_refused_but_waiting_users_leave(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    create_event(client, capacity=1)
    create_users(client, "ann", "bob")
    register(client, "ann")
    register(client, "bob")
    settle(worker)
    client.put("/events/e1", json={"unregisterClosesAt": "2020-01-01T00:00:00Z"}, headers=ADMIN)
    seated = unregister(client, "ann")
    waiting = unregister(client, "bob")
    settle(worker)

    assert result_of(client, seated)["code"] == "UNREGISTER_CLOSED"
    assert result_of(client, waiting)["status"] == "unregistered"


# --- the ledger -------------------------------------------------------------------------


def test_every_change_is_a_chained_ledger_entry_and_results_point_at_theirs(
    client: FlaskClient, worker: runtime.Runtime
) -> None:
    offer_event(client)
    create_users(client, "ann", "bob")
    first = register(client, "ann")
    register(client, "bob")
    settle(worker)
    client.put("/events/e1", json={"title": "renamed"}, headers=ADMIN)  # no seat setting: none
    client.put("/events/e1", json={"capacity": 2}, headers=ADMIN)
    client.delete("/users/bob", headers=ADMIN)

    entries = ledger_of(client)
    assert [e["kind"] for e in entries] == [
        "event_created",
        "ticket",
        "ticket",
        "event_updated",
        "user_removed",
    ]
    assert [e["index"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prevHash"] == ledger.GENESIS_HASH
    for previous, entry in itertools.pairwise(entries):
        assert entry["prevHash"] == previous["hash"]
    for entry in entries:
        assert ledger.entry_hash(entry) == entry["hash"]
    assert entries[0]["outcome"]["promotion"] == "offer"
    assert entries[3]["outcome"]["changes"] == {"capacity": {"from": 1, "to": 2}}
    assert entries[3]["outcome"]["offeredUserIds"] == ["bob"]
    assert (entries[4]["outcome"]["userId"], entries[4]["outcome"]["left"]) == ("bob", "offered")
    result = result_of(client, first)
    assert (result["ledgerIndex"], result["ledgerHash"]) == (2, entries[1]["hash"])
    assert entries[1]["outcome"] == {
        k: v for k, v in result.items() if k not in {"ledgerIndex", "ledgerHash"}
    }


def test_the_ledger_pages_by_index(client: FlaskClient, worker: runtime.Runtime) -> None:
    create_event(client, capacity=5)
    create_users(client, "a", "b", "c")
    for user in ("a", "b", "c"):
        register(client, user)
    settle(worker)

    page = get_json(client, "/events/e1/ledger?limit=2")
    assert ([e["index"] for e in page["items"]], page["nextAfter"]) == ([1, 2], 2)
    page = get_json(client, "/events/e1/ledger?after=2&limit=2")
    assert ([e["index"] for e in page["items"]], page["nextAfter"]) == ([3, 4], None)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=1.0", "after=-1", "after=x", "limit=%201"]
)
def test_bad_ledger_queries_are_422(client: FlaskClient, query: str) -> None:
    create_event(client)
    response = client.get(f"/events/e1/ledger?{query}", headers=CLIENT)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"


def test_the_ledger_of_an_unknown_event_is_404(client: FlaskClient) -> None:
    assert client.get("/events/nope/ledger", headers=CLIENT).status_code == 404


def test_a_backlog_of_expiries_over_many_events_is_ended_in_bounded_passes(
    client: FlaskClient, server_urls: Any, db: sessionmaker[Session]
) -> None:
    """Many events' offers run out at once (a worker was down): one drain ends them all, in
    passes of at most `apply_batch_size` events, each event's next party offered."""
    from tessera.config import Settings
    from tests.integration.conftest import NoSender

    events = [f"x{n:02d}" for n in range(30)]
    create_users(client, "ann", "bob", "cat")
    for event_id in events:
        create_event(client, event_id, capacity=1, promotion="offer", offerTtlSeconds=60)
    small = runtime.build(
        Settings(
            database_url=server_urls.database_url,
            redis_url=server_urls.redis_url,
            apply_batch_size=7,
        ),
        sender=NoSender(),
    )
    try:
        for user in ("ann", "bob", "cat"):
            for event_id in events:
                command(client, "POST", f"/events/{event_id}/registrations", json={"userId": user})
        apply.drain(small)
        for event_id in events:
            command(client, "DELETE", f"/events/{event_id}/registrations/ann")
        apply.drain(small)
        with db.begin() as session:
            session.execute(
                text(
                    "UPDATE registrations SET offer_expires_at = now() - interval '5 s'"
                    " WHERE standing = 'offered'"
                )
            )
            session.execute(text("UPDATE events SET next_offer_expiry = now() - interval '5 s'"))
        assert sorted(sweeper.wake_for_due_offers(small)) == events

        report = apply.drain(small)

        assert report.batches >= 5  # 30 events, at most 7 per pass
        assert sweeper.wake_for_due_offers(small) == []
        for event_id in events:
            [offer] = get_json(client, f"/events/{event_id}/offers")
            assert offer["userId"] == "cat"
    finally:
        small.engine.dispose()


def test_an_expiry_pass_that_dies_midway_commits_nothing_and_the_next_ends_the_offer_once(
    client: FlaskClient,
    worker: runtime.Runtime,
    db: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    offer_event(client)
    create_users(client, "ann", "bob", "cat")
    for user in ("ann", "bob", "cat"):
        register(client, user)
    settle(worker)
    unregister(client, "ann")
    settle(worker)
    end_offer_at(db, "bob", "now() - interval '1 second'")
    real_save = apply.save_windows
    calls = {"n": 0}

    def dies_once(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the worker died mid-expiry")
        real_save(*args, **kwargs)

    monkeypatch.setattr(apply, "save_windows", dies_once)
    apply.drain(worker)  # the worker's own drain: it retries the pass that died

    assert calls["n"] >= 2
    expired = [e for e in ledger_of(client) if e["kind"] == "offer_expired"]
    assert [e["userId"] for e in expired] == ["bob"]
    assert get_json(client, "/events/e1/registrations/cat")["status"] == "offered"
