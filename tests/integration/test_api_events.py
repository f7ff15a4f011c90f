"""Events over HTTP: create, list, read, change (capacity, waitlist), delete, and who is seated
or waiting."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.storage.tables import Event
from tessera.messaging import event_channel
from tests.integration.conftest import (
    ADMIN,
    CLIENT,
    MISSING,
    RFC3339_UTC,
    create_event,
    create_users,
    event_body,
    get_json,
    listening,
    take_places,
)

pytestmark = pytest.mark.integration


def event_count(db: sessionmaker[Session]) -> int:
    with db.begin() as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def put(client: FlaskClient, event_id: str, **changes: Any) -> Any:
    return client.put(f"/events/{event_id}", json=changes, headers=ADMIN)


# --- create -----------------------------------------------------------------------------


def test_creating_an_event_answers_201_with_every_field_and_its_counts(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/events", json=event_body(eventId="launch", title="  Launch  ", capacity=3), headers=ADMIN
    )

    assert response.status_code == 201
    assert response.headers["Location"] == "/events/launch"
    event = response.get_json()
    assert {k: v for k, v in event.items() if k not in {"createdAt", "updatedAt"}} == {
        "eventId": "launch",
        "title": "Launch",
        "description": "",
        "date": "2026-12-01",
        "location": "Hall A",
        "capacity": 3,
        "organizer": "Org",
        "status": "active",
        "waitlistEnabled": True,
        "maxPartySize": 1,
        "waitlistPolicy": "strict",
        "bypassLimit": 3,
        "promotion": "automatic",
        "offerTtlSeconds": 3600,
        "registrationOpensAt": None,
        "registrationClosesAt": None,
        "unregisterClosesAt": None,
        "admission": "open",
        "opening": "fifo",  # the on-sale draw (#24): none here
        "prequeueOpensAt": None,
        "drawCommitment": None,
        "drawnAt": None,
        "registeredCount": 0,
        "registeredSeats": 0,
        "offeredSeats": 0,
        "waitlistCount": 0,
        "waitlistSeats": 0,
        "availableSpots": 3,
        "applicationCount": 0,
        "prequeuedCount": 0,
    }
    assert RFC3339_UTC.match(event["createdAt"])
    assert event["updatedAt"] == event["createdAt"]
    assert get_json(client, "/events/launch") == event


def test_an_event_without_an_id_gets_one_from_the_server(client: FlaskClient) -> None:
    response = client.post("/events", json=event_body(), headers=ADMIN)

    assert response.status_code == 201
    event_id = response.get_json()["eventId"]
    assert re.fullmatch(r"evt_[0-9a-z]{26}", event_id)
    assert response.headers["Location"] == f"/events/{event_id}"
    assert get_json(client, f"/events/{event_id}")["eventId"] == event_id


def test_the_waitlist_is_off_unless_asked_for(client: FlaskClient) -> None:
    event = create_event(client, "e1", waitlistEnabled=MISSING)
    assert event["waitlistEnabled"] is False


def test_an_event_id_that_is_taken_answers_409_duplicate_event(client: FlaskClient) -> None:
    create_event(client, "e1")

    response = client.post("/events", json=event_body(eventId="e1", title="Other"), headers=ADMIN)

    assert response.status_code == 409
    assert response.get_json()["code"] == "DUPLICATE_EVENT"
    assert get_json(client, "/events/e1")["title"] == "Launch party"


BAD_EVENTS: list[tuple[str, Any]] = [
    ("capacity", True),
    ("capacity", False),
    ("capacity", 2.5),
    ("capacity", 1e300),
    ("capacity", 0),
    ("capacity", -1),
    ("capacity", "3"),
    ("capacity", None),
    ("capacity", 2**31),
    ("capacity", MISSING),
    ("date", "2026-02-30"),
    ("date", "2026-13-01"),
    ("date", "2026-2-3"),
    ("date", "20260203"),
    ("date", "2026-02-03T10:00:00Z"),
    ("date", " 2026-02-03"),
    ("date", 20260203),
    ("date", None),
    ("date", MISSING),
    ("title", ""),
    ("title", "   "),
    ("title", None),
    ("title", 5),
    ("title", MISSING),
    ("title", "bad\u0000title"),
    ("title", "\ufeff"),  # a byte-order mark alone is blank
    ("organizer", "\u001c\u001d"),  # so are the information separators str.strip() removes
    ("location", " "),
    ("location", MISSING),
    ("organizer", ""),
    ("organizer", MISSING),
    ("status", "\t"),
    ("status", MISSING),
    ("description", None),
    ("description", 1),
    ("description", MISSING),
    ("waitlistEnabled", "true"),
    ("waitlistEnabled", 1),
    ("waitlistEnabled", None),
    ("eventId", "has space"),
    ("eventId", ""),
    ("eventId", "x" * 65),
    ("eventId", 12),
    ("eventId", None),
    ("registeredCount", 0),
    ("unknownField", "x"),
    ("maxPartySize", 0),
    ("maxPartySize", 51),
    ("maxPartySize", 1.5),
    ("maxPartySize", 4),  # more than the capacity (2): a party that could never fit
    ("waitlistPolicy", "lottery"),
    ("waitlistPolicy", None),
    ("bypassLimit", -1),
    ("bypassLimit", 101),
    ("bypassLimit", True),
]


@pytest.mark.parametrize(("field", "value"), BAD_EVENTS)
def test_an_event_that_breaks_a_rule_is_refused_with_422_and_nothing_is_written(
    client: FlaskClient, db: sessionmaker[Session], field: str, value: Any
) -> None:
    response = client.post("/events", json=event_body(**{field: value}), headers=ADMIN)

    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert event_count(db) == 0


def test_a_leap_day_is_a_real_date(client: FlaskClient) -> None:
    assert create_event(client, "leap", date="2028-02-29")["date"] == "2028-02-29"


def test_an_unknown_event_is_404_event_not_found(client: FlaskClient) -> None:
    for path in [
        "/events/ghost",
        "/events/ghost/registrations",
        "/events/ghost/waitlist",
        "/events/ghost/registrations/ann",
        "/events/bad%20id",
        "/events/" + "x" * 65 + "/waitlist",
    ]:
        response = client.get(path, headers=CLIENT)
        assert response.status_code == 404, path
        assert response.get_json()["code"] == "EVENT_NOT_FOUND", path


# --- list -------------------------------------------------------------------------------


def test_events_are_listed_by_creation_then_id_one_page_at_a_time(client: FlaskClient) -> None:
    for event_id in ["c", "a", "d", "b", "e"]:
        create_event(client, event_id)

    first = get_json(client, "/events?limit=2")
    second = get_json(client, f"/events?limit=2&cursor={first['nextCursor']}")
    third = get_json(client, f"/events?limit=2&cursor={second['nextCursor']}")

    pages = [first, second, third]
    assert [[e["eventId"] for e in page["items"]] for page in pages] == [
        ["c", "a"],
        ["d", "b"],
        ["e"],
    ]
    assert third["nextCursor"] is None
    assert first["items"][0] == get_json(client, "/events/c")


def test_events_created_in_the_same_instant_are_ordered_by_id(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    with db.begin() as session:  # one transaction: one now() for all three
        for event_id in ["m", "k", "z"]:
            session.add(
                Event(
                    event_id=event_id,
                    title="T",
                    description="",
                    date=dt.date(2026, 1, 1),
                    location="L",
                    capacity=1,
                    organizer="O",
                    status="active",
                )
            )

    first = get_json(client, "/events?limit=2")
    second = get_json(client, f"/events?limit=2&cursor={first['nextCursor']}")

    assert [e["eventId"] for e in first["items"] + second["items"]] == ["k", "m", "z"]


def test_the_last_full_page_still_says_there_is_nothing_after_it(client: FlaskClient) -> None:
    create_event(client, "a")
    create_event(client, "b")

    page = get_json(client, "/events?limit=2")

    assert len(page["items"]) == 2
    assert page["nextCursor"] is None


def test_a_page_holds_50_events_unless_told_otherwise(client: FlaskClient) -> None:
    for index in range(51):
        create_event(client, f"e{index:02d}")

    page = get_json(client, "/events")

    assert len(page["items"]) == 50
    assert page["nextCursor"] is not None
    assert len(get_json(client, "/events?limit=200")["items"]) == 51


def test_the_status_filter_lists_only_events_with_that_status(client: FlaskClient) -> None:
    create_event(client, "a", status="active")
    create_event(client, "b", status="cancelled")
    create_event(client, "c", status="active")

    first = get_json(client, "/events?status=active&limit=1")
    second = get_json(client, f"/events?status=active&limit=1&cursor={first['nextCursor']}")

    assert [e["eventId"] for e in first["items"] + second["items"]] == ["a", "c"]
    assert second["nextCursor"] is None
    assert [e["eventId"] for e in get_json(client, "/events?status=cancelled")["items"]] == ["b"]
    assert get_json(client, "/events?status=draft") == {"items": [], "nextCursor": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.0", "limit"),
        ("limit=", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=WyJ4IiwiYSJd", "cursor"),  # the former (base64) form
        ("cursor=12.", "cursor"),
        ("cursor=.e1", "cursor"),
        ("cursor=-1.e1", "cursor"),
        ("cursor=123456789012345678.e1", "cursor"),  # beyond the year 9999
        ("cursor=1.e1%0A", "cursor"),
        ("cursor=", "cursor"),
        ("status=", "status"),
        ("status=%00", "status"),
    ],
)
def test_a_bad_list_query_is_422_naming_the_parameter(
    client: FlaskClient, query: str, field: str
) -> None:
    response = client.get(f"/events?{query}", headers=CLIENT)

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_unknown_query_parameters_are_ignored(client: FlaskClient) -> None:
    assert get_json(client, "/events?sort=title") == {"items": [], "nextCursor": None}


# --- change -----------------------------------------------------------------------------


def test_a_partial_update_changes_only_the_fields_given(client: FlaskClient) -> None:
    before = create_event(client, "e1")

    response = put(client, "e1", title="New title", date="2027-03-04", description="Now with cake")

    assert response.status_code == 200
    after = response.get_json()
    unchanged = {"location", "capacity", "organizer", "status", "waitlistEnabled", "createdAt"}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert (after["title"], after["date"], after["description"]) == (
        "New title",
        "2027-03-04",
        "Now with cake",
    )
    assert after["updatedAt"] > before["updatedAt"]
    assert get_json(client, "/events/e1") == after


def test_an_empty_update_changes_nothing(client: FlaskClient) -> None:
    before = create_event(client, "e1")

    response = put(client, "e1")

    assert response.status_code == 200
    assert response.get_json() == before


def test_raising_capacity_seats_the_waitlist_in_order_and_the_response_already_shows_it(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob", "cy", "dee")
    create_event(client, "e1", capacity=1)
    take_places(db, "e1", "ann", "bob", "cy", "dee")

    response = put(client, "e1", capacity=3)

    assert response.status_code == 200
    event = response.get_json()
    assert (event["capacity"], event["registeredCount"], event["waitlistCount"]) == (3, 3, 1)
    assert event["availableSpots"] == 0
    assert [r["userId"] for r in get_json(client, "/events/e1/registrations")] == [
        "ann",
        "bob",
        "cy",
    ]
    assert [(w["userId"], w["position"]) for w in get_json(client, "/events/e1/waitlist")] == [
        ("dee", 1)
    ]
    assert get_json(client, "/events/e1/registrations/bob") == {
        "status": "registered",
        "seats": 1,
        "position": None,
    }


def test_raising_capacity_beyond_the_waitlist_leaves_spots_free(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob")
    create_event(client, "e1", capacity=1)
    take_places(db, "e1", "ann", "bob")

    event = put(client, "e1", capacity=5).get_json()

    assert (event["registeredCount"], event["waitlistCount"], event["availableSpots"]) == (2, 0, 3)


def test_capacity_raises_publish_each_promotion(
    client: FlaskClient, db: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    create_users(client, "ann", "bob", "cy")
    create_event(client, "e1", capacity=1)
    take_places(db, "e1", "ann", "bob", "cy")

    with listening(redis_client, event_channel("e1")) as received:
        put(client, "e1", capacity=3)

    assert [(m["event"], m["data"]["userId"]) for m in received] == [
        ("registration.promoted", "bob"),
        ("registration.promoted", "cy"),
    ]


def test_capacity_below_the_registered_count_is_409_and_changes_nothing(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob")
    before = create_event(client, "e1", capacity=3)
    take_places(db, "e1", "ann", "bob")

    response = put(client, "e1", capacity=1, title="Smaller")

    assert response.status_code == 409
    assert response.get_json()["code"] == "CAPACITY_BELOW_REGISTERED"
    after = get_json(client, "/events/e1")
    assert (after["capacity"], after["title"], after["updatedAt"]) == (
        3,
        before["title"],
        before["updatedAt"],
    )


def test_capacity_may_come_down_to_exactly_the_registered_count(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob")
    create_event(client, "e1", capacity=3)
    take_places(db, "e1", "ann", "bob")

    event = put(client, "e1", capacity=2).get_json()

    assert (event["capacity"], event["availableSpots"]) == (2, 0)


def test_turning_the_waitlist_off_keeps_those_waiting_and_they_are_still_promoted(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob", "cy")
    create_event(client, "e1", capacity=1)
    take_places(db, "e1", "ann", "bob", "cy")

    event = put(client, "e1", waitlistEnabled=False).get_json()

    assert (event["waitlistEnabled"], event["waitlistCount"]) == (False, 2)
    assert [w["userId"] for w in get_json(client, "/events/e1/waitlist")] == ["bob", "cy"]
    promoted = put(client, "e1", capacity=2).get_json()
    assert (promoted["registeredCount"], promoted["waitlistCount"]) == (2, 1)
    assert get_json(client, "/events/e1/registrations/bob")["status"] == "registered"


def test_an_update_cannot_name_the_event_id_even_its_own(client: FlaskClient) -> None:
    """The path names the event; `eventId` is no field of an update (docs/API.md)."""
    create_event(client, "e1")

    for event_id in ("e1", "e2"):
        response = put(client, "e1", eventId=event_id, title="Renamed")
        assert response.status_code == 422
        assert [e["field"] for e in response.get_json()["errors"]] == ["eventId"]
    assert get_json(client, "/events/e1")["title"] != "Renamed"
    assert client.get("/events/e2", headers=CLIENT).status_code == 404


def test_an_integral_number_is_an_integer_and_a_fraction_is_not(client: FlaskClient) -> None:
    """JSON has one kind of number: `3.0` and `3e0` are the integer 3 (JSON Schema says so,
    and the contract refuses only non-integral numbers)."""
    created = client.post("/events", json=event_body(eventId="e1", capacity=3.0), headers=ADMIN)
    assert (created.status_code, created.get_json()["capacity"]) == (201, 3)

    raised = client.put(
        "/events/e1", data='{"capacity": 4e0}', content_type="application/json", headers=ADMIN
    )
    assert (raised.status_code, raised.get_json()["capacity"]) == (200, 4)
    assert put(client, "e1", capacity=4.5).status_code == 422


def test_any_cursor_of_the_documented_form_names_a_position(client: FlaskClient) -> None:
    """Not only the cursors the API issued: the document's pattern and the validator agree."""
    for event_id in ("e1", "e2"):
        create_event(client, event_id)
    everything = [e["eventId"] for e in get_json(client, "/events")["items"]]

    assert get_json(client, "/events?cursor=0.a")["items"] != []  # before every event
    assert [e["eventId"] for e in get_json(client, "/events?cursor=0.a")["items"]] == everything
    assert get_json(client, "/events?cursor=99999999999999999.z")["items"] == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", None),
        ("title", " "),
        ("capacity", None),
        ("capacity", 0),
        ("capacity", True),
        ("capacity", 4.5),
        ("date", "2026-04-31"),
        ("waitlistEnabled", None),
        ("waitlistEnabled", "false"),
        ("description", None),
        ("registeredCount", 9),
        ("createdAt", "2020-01-01T00:00:00Z"),
        ("maxPartySize", 0),
        ("waitlistPolicy", "random"),
        ("bypassLimit", 1000),
    ],
)
def test_a_bad_update_is_422_and_changes_nothing(
    client: FlaskClient, field: str, value: Any
) -> None:
    before = create_event(client, "e1")

    response = client.put("/events/e1", json={"title": "Changed", field: value}, headers=ADMIN)

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]
    assert get_json(client, "/events/e1") == before


def test_updating_an_unknown_event_is_404(client: FlaskClient) -> None:
    response = put(client, "ghost", title="Boo")

    assert response.status_code == 404
    assert response.get_json()["code"] == "EVENT_NOT_FOUND"


# --- delete -----------------------------------------------------------------------------


def test_deleting_an_event_removes_its_registrations_and_waitlist_but_not_its_users(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob")
    create_event(client, "e1", capacity=1)
    create_event(client, "e2", capacity=1)
    take_places(db, "e1", "ann", "bob")
    take_places(db, "e2", "ann")

    response = client.delete("/events/e1", headers=ADMIN)

    assert response.status_code == 204
    assert client.get("/events/e1", headers=CLIENT).status_code == 404
    assert [r["eventId"] for r in get_json(client, "/users/ann/registrations")] == ["e2"]
    assert get_json(client, "/users/bob/waitlists") == []
    assert get_json(client, "/users/bob")["userId"] == "bob"
    assert client.delete("/events/e1", headers=ADMIN).status_code == 404


# --- who is seated or waiting -----------------------------------------------------------


def test_registrations_come_in_the_order_seats_were_taken(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "zed", "amy", "kim")
    create_event(client, "e1", capacity=5)
    take_places(db, "e1", "zed")
    take_places(db, "e1", "amy", "kim")

    registrations = get_json(client, "/events/e1/registrations")

    assert [r["userId"] for r in registrations] == ["zed", "amy", "kim"]
    assert all(set(r) == {"userId", "seats", "registeredAt"} for r in registrations)
    assert all(RFC3339_UTC.match(r["registeredAt"]) for r in registrations)


def test_waitlist_positions_stay_1_to_n_when_someone_leaves_the_middle(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob", "cy", "dee", "eve")
    create_event(client, "e1", capacity=1)
    take_places(db, "e1", "ann", "bob", "cy", "dee", "eve")
    client.delete("/users/cy", headers=ADMIN)

    waitlist = get_json(client, "/events/e1/waitlist")

    assert [(w["userId"], w["position"]) for w in waitlist] == [("bob", 1), ("dee", 2), ("eve", 3)]
    assert all(RFC3339_UTC.match(w["waitlistedAt"]) for w in waitlist)
    assert get_json(client, "/events/e1/registrations/eve") == {
        "status": "waitlisted",
        "seats": 1,
        "position": 3,
    }


def test_someone_neither_seated_nor_waiting_is_404_registration_not_found(
    client: FlaskClient,
) -> None:
    create_users(client, "ann")
    create_event(client, "e1")

    for user_id in ["ann", "ghost", "bad%20id"]:
        response = client.get(f"/events/e1/registrations/{user_id}", headers=CLIENT)
        assert response.status_code == 404
        assert response.get_json()["code"] == "REGISTRATION_NOT_FOUND"
