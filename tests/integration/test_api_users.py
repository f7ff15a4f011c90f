"""Users over HTTP: create, read, rename, delete (with its cascade), and where they stand."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from models.storage.db import run
from models.storage.tables import User
from tessera.messaging import event_channel
from tests.integration.conftest import (
    ADMIN,
    CLIENT,
    RFC3339_UTC,
    create_event,
    create_users,
    get_json,
    listening,
    take_places,
)

pytestmark = pytest.mark.integration


def user_count(db: sessionmaker[Session]) -> int:
    with db.begin() as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


# --- create and read --------------------------------------------------------------------


def test_creating_a_user_answers_201_with_the_user_and_where_to_find_it(
    client: FlaskClient,
) -> None:
    response = client.post("/users", json={"userId": "ann-1_A", "name": "  Ann  "}, headers=ADMIN)

    assert response.status_code == 201
    assert response.headers["Location"] == "/users/ann-1_A"
    user = response.get_json()
    assert user["userId"] == "ann-1_A"
    assert user["name"] == "Ann"  # stored trimmed
    assert RFC3339_UTC.match(user["createdAt"])
    assert user["updatedAt"] == user["createdAt"]
    assert get_json(client, "/users/ann-1_A") == user


def test_creating_a_user_whose_id_is_taken_answers_409_and_keeps_the_first(
    client: FlaskClient,
) -> None:
    create_users(client, "ann")

    response = client.post("/users", json={"userId": "ann", "name": "Other"}, headers=ADMIN)

    assert response.status_code == 409
    assert response.get_json()["code"] == "DUPLICATE_USER"
    assert get_json(client, "/users/ann")["name"] == "ann"


def test_a_name_of_exactly_200_characters_is_accepted(client: FlaskClient) -> None:
    response = client.post("/users", json={"userId": "u", "name": "x" * 200}, headers=ADMIN)
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"userId": "u1", "name": ""}, "name"),
        ({"userId": "u1", "name": "   \t "}, "name"),
        ({"userId": "u1", "name": "x" * 201}, "name"),
        ({"userId": "u1", "name": None}, "name"),
        ({"userId": "u1", "name": 5}, "name"),
        ({"userId": "u1", "name": ["Ann"]}, "name"),
        ({"userId": "u1"}, "name"),
        ({"userId": "u1", "name": "A\u0000nn"}, "name"),
        ({"userId": "u1", "name": "\ufeff \u0085"}, "name"),
        ({"userId": "bad id", "name": "Ann"}, "userId"),
        ({"userId": "", "name": "Ann"}, "userId"),
        ({"userId": "x" * 65, "name": "Ann"}, "userId"),
        ({"userId": "ann\n", "name": "Ann"}, "userId"),
        ({"userId": "ann!", "name": "Ann"}, "userId"),
        ({"userId": 7, "name": "Ann"}, "userId"),
        ({"name": "Ann"}, "userId"),
        ({"userId": "u1", "name": "Ann", "email": "a@b.c"}, "email"),
    ],
)
def test_a_user_that_breaks_a_rule_is_refused_with_422_naming_the_field_and_nothing_is_written(
    client: FlaskClient, db: sessionmaker[Session], body: dict[str, Any], field: str
) -> None:
    response = client.post("/users", json=body, headers=ADMIN)

    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert field in [error["field"] for error in problem["errors"]]
    assert user_count(db) == 0


def test_every_bad_field_of_a_user_is_listed_at_once(client: FlaskClient) -> None:
    response = client.post("/users", json={"userId": "a b", "name": " "}, headers=ADMIN)

    assert sorted(e["field"] for e in response.get_json()["errors"]) == ["name", "userId"]


def test_an_unknown_user_is_404_user_not_found(client: FlaskClient) -> None:
    response = client.get("/users/ghost", headers=CLIENT)

    assert response.status_code == 404
    assert response.get_json()["code"] == "USER_NOT_FOUND"


@pytest.mark.parametrize("path_id", ["bad%20id", "x" * 65, "ann%00", "%C3%A9"])
def test_a_path_id_that_breaks_the_id_pattern_is_404_user_not_found(
    client: FlaskClient, path_id: str
) -> None:
    for method, path in [
        ("GET", f"/users/{path_id}"),
        ("GET", f"/users/{path_id}/registrations"),
        ("GET", f"/users/{path_id}/waitlists"),
        ("DELETE", f"/users/{path_id}"),
    ]:
        response = client.open(path, method=method, headers=ADMIN)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["code"] == "USER_NOT_FOUND"


# --- rename -----------------------------------------------------------------------------


def test_renaming_a_user_changes_the_name_and_updated_at_but_not_created_at(
    client: FlaskClient,
) -> None:
    create_users(client, "ann")
    before = get_json(client, "/users/ann")

    response = client.put("/users/ann", json={"name": " Ann B. "}, headers=ADMIN)

    assert response.status_code == 200
    after = response.get_json()
    assert after["name"] == "Ann B."
    assert after["createdAt"] == before["createdAt"]
    assert after["updatedAt"] > before["updatedAt"]
    assert get_json(client, "/users/ann") == after


def test_renaming_an_unknown_user_is_404_and_creates_nobody(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    response = client.put("/users/ghost", json={"name": "Ghost"}, headers=ADMIN)

    assert response.status_code == 404
    assert response.get_json()["code"] == "USER_NOT_FOUND"
    assert user_count(db) == 0


@pytest.mark.parametrize(
    "body", [{"name": ""}, {"name": None}, {}, {"name": "Ann", "userId": "ann"}, {"name": 1}]
)
def test_a_bad_rename_is_422_and_leaves_the_name_alone(
    client: FlaskClient, body: dict[str, Any]
) -> None:
    create_users(client, "ann")

    response = client.put("/users/ann", json=body, headers=ADMIN)

    assert response.status_code == 422
    assert get_json(client, "/users/ann")["name"] == "ann"


# --- delete and its cascade -------------------------------------------------------------


def test_deleting_a_user_answers_204_and_the_user_is_gone(client: FlaskClient) -> None:
    create_users(client, "ann")

    response = client.delete("/users/ann", headers=ADMIN)

    assert response.status_code == 204
    assert response.data == b""
    assert client.get("/users/ann", headers=CLIENT).status_code == 404
    assert client.delete("/users/ann", headers=ADMIN).status_code == 404


def test_deleting_a_seated_user_gives_each_freed_seat_to_that_events_waitlist_head(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob", "cy", "dee")
    create_event(client, "e1", capacity=1)
    create_event(client, "e2", capacity=1)
    take_places(db, "e1", "ann", "bob", "cy")
    take_places(db, "e2", "ann", "dee")

    assert client.delete("/users/ann", headers=ADMIN).status_code == 204

    assert [r["userId"] for r in get_json(client, "/events/e1/registrations")] == ["bob"]
    assert get_json(client, "/events/e1/waitlist")[0] | {"waitlistedAt": None} == {
        "userId": "cy",
        "seats": 1,
        "position": 1,
        "waitlistedAt": None,
    }
    assert [r["userId"] for r in get_json(client, "/events/e2/registrations")] == ["dee"]
    assert get_json(client, "/events/e2/waitlist") == []
    event = get_json(client, "/events/e1")
    assert (event["registeredCount"], event["waitlistCount"], event["availableSpots"]) == (1, 1, 0)
    assert [r["eventId"] for r in get_json(client, "/users/bob/registrations")] == ["e1"]
    assert get_json(client, "/users/bob/waitlists") == []


def test_deleting_a_waitlisted_user_closes_the_gap_in_the_positions(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob", "cy", "dee")
    create_event(client, "e1", capacity=1)
    take_places(db, "e1", "ann", "bob", "cy", "dee")

    assert client.delete("/users/cy", headers=ADMIN).status_code == 204

    waitlist = get_json(client, "/events/e1/waitlist")
    assert [(w["userId"], w["position"]) for w in waitlist] == [("bob", 1), ("dee", 2)]
    assert get_json(client, "/events/e1")["waitlistCount"] == 2


def test_deleting_a_user_publishes_the_promotions_after_commit(
    client: FlaskClient, db: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    create_users(client, "ann", "bob")
    create_event(client, "e1", capacity=1)
    take_places(db, "e1", "ann", "bob")
    with listening(redis_client, event_channel("e1")) as received:
        client.delete("/users/ann", headers=ADMIN)

    assert len(received) == 1
    update = received[0]
    assert update["event"] == "registration.promoted"
    # sealed in entry 2: the event's creation, then ann's removal (the places were taken
    # straight through the rules, outside the ledger)
    assert update["data"] == {
        "eventId": "e1",
        "userId": "bob",
        "status": "registered",
        "ledgerIndex": 2,
    }
    assert isinstance(update["id"], int)


def test_a_unit_of_work_aborted_by_a_deadlock_is_run_again(db: sessionmaker[Session]) -> None:
    """Two transactions lock two users in opposite orders; PostgreSQL aborts one of them,
    and `retrying` runs it again, so both complete."""
    with db.begin() as session:
        session.add_all([User(user_id="a", name="A"), User(user_id="b", name="B")])
    both_hold_their_first_lock = threading.Barrier(2)
    attempts: dict[str, int] = {"ab": 0, "ba": 0}
    failures: list[BaseException] = []

    def lock_in_order(first: str, second: str) -> None:
        name = first + second

        def work(session: Session) -> None:
            attempts[name] += 1
            lock = "SELECT 1 FROM users WHERE user_id = :id FOR UPDATE"
            session.execute(text(lock), {"id": first})
            if attempts[name] == 1:
                both_hold_their_first_lock.wait(timeout=5)
            session.execute(text(lock), {"id": second})

        try:
            run(db, work)
        except BaseException as error:  # reported below, in the test's own thread
            failures.append(error)

    threads = [
        threading.Thread(target=lock_in_order, args=("a", "b")),
        threading.Thread(target=lock_in_order, args=("b", "a")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert sorted(attempts.values()) == [1, 2]


# --- where a user stands ----------------------------------------------------------------


def test_a_users_registrations_list_only_the_events_where_they_hold_a_seat(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob")
    create_event(client, "e1", capacity=1, title="First", date="2026-12-01")
    create_event(client, "e2", capacity=1, title="Second", date="2027-01-15")
    create_event(client, "e3", capacity=1)
    take_places(db, "e1", "ann")
    take_places(db, "e3", "bob", "ann")  # ann waits here
    take_places(db, "e2", "ann")

    registrations = get_json(client, "/users/ann/registrations")

    assert [(r["eventId"], r["title"], r["date"]) for r in registrations] == [
        ("e1", "First", "2026-12-01"),
        ("e2", "Second", "2027-01-15"),
    ]
    assert all(RFC3339_UTC.match(r["registeredAt"]) for r in registrations)
    assert set(registrations[0]) == {"eventId", "title", "date", "seats", "registeredAt"}


def test_a_users_waitlists_list_each_waitlist_with_their_current_position(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_users(client, "ann", "bob", "cy", "dee")
    create_event(client, "e1", capacity=1, title="First")
    create_event(client, "e2", capacity=1, title="Second")
    take_places(db, "e1", "ann", "bob", "cy", "dee")  # dee is third in line
    take_places(db, "e2", "bob", "dee")  # dee is first in line
    client.delete("/users/cy", headers=ADMIN)  # dee moves up at e1

    waitlists = get_json(client, "/users/dee/waitlists")

    assert [(w["eventId"], w["title"], w["position"]) for w in waitlists] == [
        ("e1", "First", 2),
        ("e2", "Second", 1),
    ]
    assert set(waitlists[0]) == {"eventId", "title", "date", "seats", "position", "waitlistedAt"}
    assert get_json(client, "/users/dee/registrations") == []


def test_the_registrations_and_waitlists_of_an_unknown_user_are_404(client: FlaskClient) -> None:
    for path in ["/users/ghost/registrations", "/users/ghost/waitlists"]:
        response = client.get(path, headers=CLIENT)
        assert response.status_code == 404
        assert response.get_json()["code"] == "USER_NOT_FOUND"


def test_a_user_with_no_places_has_empty_lists(client: FlaskClient) -> None:
    create_users(client, "ann")

    assert get_json(client, "/users/ann/registrations") == []
    assert get_json(client, "/users/ann/waitlists") == []
