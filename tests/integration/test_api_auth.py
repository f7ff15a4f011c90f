"""Who may call what (keys and roles), per-key rate limits, and CORS."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app, route_table
from api.auth import owner_of
from api.routes import Access
from models.storage import event_log
from models.storage.tables import Base, Ticket
from tessera.config import ApiKey, ConfigError, Settings
from tessera.tools.servers import free_port
from tests.integration.attendees import jwks_url, token_for, with_attendees
from tests.integration.conftest import (
    ADMIN,
    ADMIN_KEY,
    CLIENT,
    CLIENT_KEY,
    SECRET_KEY,
    AppFactory,
    create_event,
    create_users,
    event_body,
    take_places,
)

pytestmark = pytest.mark.integration

NO_KEY: dict[str, str] = {}
UNKNOWN_KEY = {"Authorization": "Bearer not-a-key"}
__all__ = ["jwks_url"]  # a fixture


def with_settings(settings: Settings, **changes: Any) -> Settings:
    return Settings(**{**settings.__dict__, **changes})


# --- the role matrix --------------------------------------------------------------------

Call = Callable[[FlaskClient, dict[str, str]], Any]

READS: dict[str, Call] = {
    "get user": lambda c, h: c.get("/users/ann", headers=h),
    "user registrations": lambda c, h: c.get("/users/ann/registrations", headers=h),
    "user waitlists": lambda c, h: c.get("/users/ann/waitlists", headers=h),
    "get event": lambda c, h: c.get("/events/e1", headers=h),
    "list events": lambda c, h: c.get("/events", headers=h),
    "event registrations": lambda c, h: c.get("/events/e1/registrations", headers=h),
    "event waitlist": lambda c, h: c.get("/events/e1/waitlist", headers=h),
}

CHANGES: dict[str, tuple[Call, int]] = {
    "create user": (
        lambda c, h: c.post("/users", json={"userId": "u", "name": "U"}, headers=h),
        201,
    ),
    "rename user": (lambda c, h: c.put("/users/ann", json={"name": "A"}, headers=h), 200),
    "delete user": (lambda c, h: c.delete("/users/ann", headers=h), 204),
    "create event": (lambda c, h: c.post("/events", json=event_body(), headers=h), 201),
    "update event": (lambda c, h: c.put("/events/e1", json={"capacity": 9}, headers=h), 200),
    "delete event": (lambda c, h: c.delete("/events/e1", headers=h), 204),
}


@pytest.fixture
def seeded(client: FlaskClient) -> FlaskClient:
    create_users(client, "ann")
    create_event(client, "e1")
    return client


@pytest.mark.parametrize("call", READS.values(), ids=READS.keys())
def test_reads_need_a_known_key_of_either_role(seeded: FlaskClient, call: Call) -> None:
    for headers in (NO_KEY, UNKNOWN_KEY):
        response = call(seeded, headers)
        assert response.status_code == 401
        assert response.get_json()["code"] == "UNAUTHORIZED"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert call(seeded, CLIENT).status_code == 200
    assert call(seeded, ADMIN).status_code == 200


@pytest.mark.parametrize(("call", "success"), CHANGES.values(), ids=CHANGES.keys())
def test_creating_changing_and_deleting_users_and_events_need_an_admin_key(
    seeded: FlaskClient, call: Call, success: int
) -> None:
    assert call(seeded, NO_KEY).status_code == 401
    assert call(seeded, UNKNOWN_KEY).status_code == 401
    forbidden = call(seeded, CLIENT)
    assert forbidden.status_code == 403
    assert forbidden.get_json()["code"] == "FORBIDDEN"
    assert call(seeded, ADMIN).status_code == success


WEBHOOK_CALLS: dict[str, tuple[str, str, int]] = {
    "create webhook": ("POST", "/webhooks", 201),
    "list webhooks": ("GET", "/webhooks", 200),
    "get webhook": ("GET", "/webhooks/{webhook}", 200),
    "webhook deliveries": ("GET", "/webhooks/{webhook}/deliveries", 200),
    "retry a delivery": ("POST", "/webhooks/{webhook}/deliveries/{delivery}/retry", 202),
    "delete webhook": ("DELETE", "/webhooks/{webhook}", 204),
}


@pytest.fixture
def with_webhook(
    api_app: AppFactory, settings: Settings, db: sessionmaker[Session]
) -> tuple[FlaskClient, dict[str, str]]:
    """A subscription (to a loopback URL, allowed here) with one delivery in its log."""
    client = api_app(with_settings(settings, webhook_allow_private=True)).test_client()
    created = client.post(
        "/webhooks", json={"url": "http://127.0.0.1:9/", "events": ["*"]}, headers=ADMIN
    ).get_json()
    with db.begin() as session:
        event_log.append(session, [event_log.promoted("e1", "ann", 1)])
    log = client.get(f"/webhooks/{created['webhookId']}/deliveries", headers=ADMIN).get_json()
    return client, {"webhook": created["webhookId"], "delivery": log["items"][0]["deliveryId"]}


@pytest.mark.parametrize(("method", "path", "success"), WEBHOOK_CALLS.values(), ids=WEBHOOK_CALLS)
def test_every_webhook_call_needs_an_admin_key_reads_included(
    with_webhook: tuple[FlaskClient, dict[str, str]], method: str, path: str, success: int
) -> None:
    client, ids = with_webhook
    url = path.format(**ids)
    body = {"url": "http://127.0.0.1:9/", "events": ["*"]} if url == "/webhooks" else None

    def call(headers: dict[str, str]) -> Any:
        return client.open(url, method=method, json=body, headers=headers)

    assert call(NO_KEY).status_code == 401
    assert call(UNKNOWN_KEY).status_code == 401
    forbidden = call(CLIENT)
    assert forbidden.status_code == 403
    assert forbidden.get_json()["code"] == "FORBIDDEN"
    assert call(ADMIN).status_code == success


def test_a_client_key_is_refused_before_its_body_is_even_read(client: FlaskClient) -> None:
    response = client.post("/users", data="not json", headers=CLIENT)
    assert response.status_code == 403


@pytest.mark.parametrize(
    "authorization",
    [
        f"Basic {ADMIN_KEY}",
        "Bearer",
        "Bearer ",
        ADMIN_KEY,
        f"Bearer {ADMIN_KEY}x",
        f"Bearer {ADMIN_KEY[:-1]}",
    ],
)
def test_anything_but_bearer_and_an_exact_key_is_401(
    client: FlaskClient, authorization: str
) -> None:
    response = client.get("/events", headers={"Authorization": authorization})
    assert response.status_code == 401


def test_the_bearer_scheme_is_case_insensitive(client: FlaskClient) -> None:
    assert (
        client.get("/events", headers={"Authorization": f"bearer {CLIENT_KEY}"}).status_code == 200
    )


@pytest.mark.parametrize(
    "path",
    [
        "/health",
        "/live",
        "/ready",
        "/openapi.json",
        "/docs",
        "/docs/swagger-ui.css",
        "/console",
        "/console/js/main.js",
    ],
)
def test_probes_and_docs_need_no_key(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    response.close()


def test_an_unknown_route_is_404_whoever_asks(client: FlaskClient) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.get_json()["code"] == "NOT_FOUND"


def test_the_api_refuses_to_start_without_keys_unless_auth_is_off(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="TESSERA_AUTH=off"):
        create_app(with_settings(settings, api_keys=()))


def test_the_api_refuses_to_start_without_the_server_secret(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="TESSERA_SECRET_KEY"):
        create_app(with_settings(settings, secret_key=None))


def test_a_key_s_owner_is_keyed_by_the_server_secret_not_a_bare_hash_of_the_key(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    create_event(client, "e1", capacity=5)
    create_users(client, "ann")
    ticket = client.post("/events/e1/registrations", json={"userId": "ann"}, headers=CLIENT)
    with db() as session:
        owner = session.scalars(
            select(Ticket.owner).where(Ticket.ticket_id == ticket.get_json()["ticketId"])
        ).one()

    # what a copy of the database would let anyone test a key guess against (before: equal)
    assert owner != "key-" + hashlib.sha256(CLIENT_KEY.encode()).hexdigest()[:16]
    assert owner == owner_of(CLIENT_KEY, SECRET_KEY)
    assert owner != owner_of(CLIENT_KEY, "another-server-secret-0123456789abcdef")


def test_with_auth_off_every_call_is_allowed_without_a_key(
    api_app: AppFactory, settings: Settings
) -> None:
    client = api_app(with_settings(settings, auth_enabled=False, api_keys=())).test_client()

    assert client.post("/users", json={"userId": "u", "name": "U"}).status_code == 201
    assert client.delete("/users/u").status_code == 204


# --- rate limits ------------------------------------------------------------------------


def limited_app(api_app: AppFactory, settings: Settings, rate: str, **changes: Any) -> Flask:
    return api_app(with_settings(settings, rate_limit=rate, **changes))


def test_a_key_over_its_rate_gets_429_rate_limited_with_retry_after(
    api_app: AppFactory, settings: Settings
) -> None:
    client = limited_app(api_app, settings, "3/minute").test_client()

    statuses = [client.get("/events", headers=CLIENT).status_code for _ in range(3)]
    refused = client.get("/events", headers=CLIENT)

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "X-Request-ID" in refused.headers


def test_each_key_has_its_own_budget_shared_across_routes(
    api_app: AppFactory, settings: Settings
) -> None:
    client = limited_app(api_app, settings, "2/minute").test_client()

    assert client.get("/events", headers=CLIENT).status_code == 200
    assert client.get("/users/ghost", headers=CLIENT).status_code == 404
    assert client.get("/events/e1", headers=CLIENT).status_code == 429  # a third route, same key
    assert client.get("/events", headers=ADMIN).status_code == 200


def test_probes_and_docs_are_never_rate_limited(api_app: AppFactory, settings: Settings) -> None:
    client = limited_app(api_app, settings, "1/minute").test_client()

    assert [client.get("/live").status_code for _ in range(5)] == [200] * 5
    assert [client.get("/openapi.json").status_code for _ in range(3)] == [200] * 3


def test_the_limit_is_shared_by_every_app_on_the_same_redis(
    api_app: AppFactory, settings: Settings
) -> None:
    first = limited_app(api_app, settings, "2/minute").test_client()
    second = limited_app(api_app, settings, "2/minute").test_client()

    assert first.get("/events", headers=CLIENT).status_code == 200
    assert second.get("/events", headers=CLIENT).status_code == 200
    assert first.get("/events", headers=CLIENT).status_code == 429


def test_rate_limiting_fails_open_when_its_redis_is_down(
    api_app: AppFactory, settings: Settings
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    client = limited_app(api_app, settings, "100/second", redis_url=dead_redis).test_client()

    assert [client.get("/events", headers=CLIENT).status_code for _ in range(3)] == [200] * 3


def test_a_rate_that_cannot_be_understood_stops_the_api_from_starting(
    settings: Settings,
) -> None:
    with pytest.raises(ConfigError, match="TESSERA_RATE_LIMIT"):
        create_app(with_settings(settings, rate_limit="lots"))


def test_with_auth_off_the_rate_is_counted_per_client_address(
    api_app: AppFactory, settings: Settings
) -> None:
    app = limited_app(api_app, settings, "1/minute", auth_enabled=False, api_keys=())
    client = app.test_client()

    assert client.get("/events").status_code == 200
    assert client.get("/events").status_code == 429
    other = {"REMOTE_ADDR": "10.0.0.9"}
    assert client.get("/events", environ_overrides=other).status_code == 200


# --- CORS -------------------------------------------------------------------------------

ORIGIN = "https://app.example"


@pytest.fixture
def cors_client(api_app: AppFactory, settings: Settings) -> FlaskClient:
    return api_app(with_settings(settings, cors_origins=(ORIGIN,))).test_client()


def test_a_preflight_from_an_allowed_origin_is_answered_without_a_key(
    cors_client: FlaskClient,
) -> None:
    response = cors_client.options(
        "/events/e1/registrations",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"authorization", "content-type", "idempotency-key", "last-event-id"} <= allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_responses_to_an_allowed_origin_expose_the_contract_headers(
    cors_client: FlaskClient,
) -> None:
    response = cors_client.get("/events", headers={"Origin": ORIGIN, **CLIENT})

    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"Location", "X-Request-ID", "Idempotent-Replayed", "Retry-After"}
    assert "Origin" in response.headers["Vary"]


def test_errors_carry_cors_headers_too(cors_client: FlaskClient) -> None:
    response = cors_client.get("/events", headers={"Origin": ORIGIN})

    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_other_origins_get_no_cors_headers(cors_client: FlaskClient) -> None:
    preflight = cors_client.options(
        "/events",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    response = cors_client.get("/events", headers={"Origin": "https://evil.example", **CLIENT})

    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Origin" not in response.headers


def test_without_configured_origins_there_is_no_cors_at_all(client: FlaskClient) -> None:
    response = client.get("/events", headers={"Origin": ORIGIN, **CLIENT})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_api_key_never_appears_in_a_response(client: FlaskClient) -> None:
    response = client.get("/events", headers=UNKNOWN_KEY)
    assert b"not-a-key" not in response.data
    assert all("not-a-key" not in value for _, value in response.headers.items())


def test_a_second_set_of_keys_can_be_configured(api_app: AppFactory, settings: Settings) -> None:
    second_admin, second_client = "second-admin-key-0123456789", "second-client-key-0123456789"
    keys = (
        ApiKey.of(second_admin, "admin", SECRET_KEY),
        ApiKey.of(second_client, "client", SECRET_KEY),
    )
    client = api_app(with_settings(settings, api_keys=keys)).test_client()

    assert (
        client.get("/events", headers={"Authorization": f"Bearer {second_client}"}).status_code
        == 200
    )
    assert client.get("/events", headers=ADMIN).status_code == 401


# --- the attendee role on every route ---------------------------------------------------

# endpoint → (method, path, body, the attendee ann's answer). Paths name ann herself where
# she may act, and bob (another user) or resources she does not own where she may not.
ATTENDEE_MATRIX: list[tuple[str, str, str, Any, int]] = [
    ("commands.register", "POST", "/events/e1/registrations", {}, 202),
    ("commands.register", "POST", "/events/e1/registrations", {"userId": "ann"}, 202),
    ("commands.register", "POST", "/events/e1/registrations", {"userId": "bob"}, 403),
    ("commands.unregister", "DELETE", "/events/e1/registrations/ann", None, 202),
    ("commands.unregister", "DELETE", "/events/e1/registrations/bob", None, 403),
    ("commands.accept_offer", "POST", "/events/e1/offers/ann/accept", None, 202),
    ("commands.accept_offer", "POST", "/events/e1/offers/bob/accept", None, 403),
    ("commands.decline_offer", "POST", "/events/e1/offers/ann/decline", None, 202),
    ("commands.decline_offer", "POST", "/events/e1/offers/bob/decline", None, 403),
    ("commands.get_ticket", "GET", "/tickets/{own_ticket}", None, 200),
    ("commands.get_ticket", "GET", "/tickets/{ticket}", None, 404),
    (
        "batches.create_batch",
        "POST",
        "/batches",
        {"items": [{"type": "register", "userId": "ann", "eventId": "e1"}]},
        403,
    ),
    ("batches.get_batch", "GET", "/batches/{batch}", None, 403),
    ("batches.list_batch_tickets", "GET", "/batches/{batch}/tickets", None, 403),
    ("updates.stream_updates", "GET", "/events/e1/updates", None, 403),
    ("users.create_user", "POST", "/users", {"userId": "u", "name": "U"}, 403),
    ("users.get_user", "GET", "/users/ann", None, 200),
    ("users.get_user", "GET", "/users/bob", None, 403),
    ("users.update_user", "PUT", "/users/ann", {"name": "A"}, 403),
    ("users.delete_user", "DELETE", "/users/ann", None, 403),
    ("users.user_registrations", "GET", "/users/ann/registrations", None, 200),
    ("users.user_registrations", "GET", "/users/bob/registrations", None, 403),
    ("users.user_waitlists", "GET", "/users/ann/waitlists", None, 200),
    ("users.user_waitlists", "GET", "/users/bob/waitlists", None, 403),
    ("users.user_offers", "GET", "/users/ann/offers", None, 200),
    ("users.user_offers", "GET", "/users/bob/offers", None, 403),
    ("events.create_event", "POST", "/events", event_body(), 403),
    ("events.list_events", "GET", "/events", None, 200),
    ("events.get_event", "GET", "/events/e1", None, 200),
    ("events.update_event", "PUT", "/events/e1", {"capacity": 9}, 403),
    ("events.delete_event", "DELETE", "/events/e1", None, 403),
    ("events.event_registrations", "GET", "/events/e1/registrations", None, 403),
    ("events.event_waitlist", "GET", "/events/e1/waitlist", None, 403),
    ("events.registration_status", "GET", "/events/e1/registrations/ann", None, 200),
    ("events.registration_status", "GET", "/events/e1/registrations/bob", None, 403),
    ("events.event_offers", "GET", "/events/e1/offers", None, 403),
    ("events.event_ledger", "GET", "/events/e1/ledger", None, 403),
    (
        "webhooks.create_webhook",
        "POST",
        "/webhooks",
        {"url": "http://127.0.0.1:9/", "events": ["*"]},
        403,
    ),
    ("webhooks.list_webhooks", "GET", "/webhooks", None, 403),
    ("webhooks.get_webhook", "GET", "/webhooks/{webhook}", None, 403),
    ("webhooks.delete_webhook", "DELETE", "/webhooks/{webhook}", None, 403),
    ("webhooks.list_deliveries", "GET", "/webhooks/{webhook}/deliveries", None, 403),
    (
        "webhooks.retry_delivery",
        "POST",
        "/webhooks/{webhook}/deliveries/{delivery}/retry",
        None,
        403,
    ),
    ("keys.create_key", "POST", "/keys", {"name": "mine", "role": "admin"}, 403),
    ("keys.list_keys", "GET", "/keys", None, 403),
    ("keys.revoke_key", "DELETE", "/keys/{key}", None, 403),
    # approval: the applications list and the admins' decisions are not an attendee's
    ("applications.event_applications", "GET", "/events/e1/applications", None, 403),
    ("applications.approve", "POST", "/events/e1/applications/ann/approve", {}, 403),
    ("applications.reject", "POST", "/events/e1/applications/ann/reject", {}, 403),
    ("observability.metrics", "GET", "/metrics", None, 403),
]


@pytest.fixture
def attendee_world(
    api_app: AppFactory, settings: Settings, jwks_url: str, db: sessionmaker[Session]
) -> tuple[FlaskClient, dict[str, str]]:
    """ann and bob, an event where ann holds a seat, a ticket each of ann (her own command) and
    of an admin, a batch, a webhook with a delivery, a runtime key."""
    app = api_app(with_settings(with_attendees(settings, jwks_url), webhook_allow_private=True))
    client = app.test_client()
    create_users(client, "ann", "bob")
    create_event(client, "e1")
    take_places(db, "e1", "ann")
    own = client.post("/events/e1/registrations", json={"userId": "ann"}, headers=token_for("ann"))
    ticket = client.post("/events/e1/registrations", json={"userId": "bob"}, headers=ADMIN)
    batch = client.post(
        "/batches",
        json={"items": [{"type": "register", "userId": "bob", "eventId": "e1"}]},
        headers=ADMIN,
    )
    hook = client.post(
        "/webhooks", json={"url": "http://127.0.0.1:9/", "events": ["*"]}, headers=ADMIN
    ).get_json()
    with db.begin() as session:
        event_log.append(session, [event_log.promoted("e1", "ann", 1)])
    deliveries = client.get(f"/webhooks/{hook['webhookId']}/deliveries", headers=ADMIN).get_json()
    key = client.post("/keys", json={"name": "k", "role": "client"}, headers=ADMIN).get_json()
    return client, {
        "own_ticket": own.get_json()["ticketId"],
        "ticket": ticket.get_json()["ticketId"],
        "batch": batch.get_json()["batchId"],
        "webhook": hook["webhookId"],
        "delivery": deliveries["items"][0]["deliveryId"],
        "key": key["keyId"],
    }


def world_state(db: sessionmaker[Session]) -> dict[str, Any]:
    """Every row of every table, so a refused call provably changed nothing."""
    with db.begin() as session:
        return {
            table.name: sorted((str(row) for row in session.execute(select(table))), key=str)
            for table in Base.metadata.sorted_tables
        }


def test_the_attendee_matrix_names_every_route_that_needs_a_credential(app: Flask) -> None:
    named = {endpoint for endpoint, *_ in ATTENDEE_MATRIX}
    table = route_table()
    guarded = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if table.access(rule.endpoint) is not Access.PUBLIC
    }
    assert guarded == named
    assert {op.endpoint for op in table.operations if op.attendee is not None} <= named


@pytest.mark.parametrize(
    "row", ATTENDEE_MATRIX, ids=[f"{m} {p} {b}" for _, m, p, b, _ in ATTENDEE_MATRIX]
)
def test_an_attendee_may_call_only_what_is_its_own_and_a_refusal_changes_nothing(
    attendee_world: tuple[FlaskClient, dict[str, str]],
    db: sessionmaker[Session],
    row: tuple[str, str, str, Any, int],
) -> None:
    _, method, path, body, expected = row
    client, ids = attendee_world
    before = world_state(db)

    response = client.open(path.format(**ids), method=method, json=body, headers=token_for("ann"))

    assert response.status_code == expected, response.get_data(as_text=True)
    if expected == 403:
        assert response.get_json()["code"] == "FORBIDDEN"
        assert world_state(db) == before
    response.close()
