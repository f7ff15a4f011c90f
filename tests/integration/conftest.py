"""The API over real PostgreSQL and Redis: settings → app → client, on an empty database.

Keys: `admin-key` (admin) and `client-key` (client). Rate limiting and the throttling of refused
credentials are off unless a test builds its own app; `api_app` builds one from any settings and
cleans it up afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from models.domain.rules import Register
from tessera.auth_settings import AuthSettings
from tessera.config import ApiKey, Settings
from tessera.tools.servers import ServerUrls
from tests.windows import lock_seats, save_seats
from workers import runtime

ADMIN_KEY = "integration-admin-key-0123456789"
CLIENT_KEY = "integration-client-key-0123456789"
OTHER_CLIENT_KEY = "integration-other-client-key-0123456789"
SECRET_KEY = "integration-server-secret-0123456789abcdef"
WEBHOOK_KEY = "integration-webhook-key"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}
OTHER_CLIENT = {"Authorization": f"Bearer {OTHER_CLIENT_KEY}"}

AppFactory = Callable[[Settings], Flask]


def close_app(app: Flask) -> None:
    """Give back what the app holds: its connection pool (tests build many apps, and
    PostgreSQL's connection slots are finite) and its Redis connections."""
    app.extensions["tessera"].close()


@pytest.fixture
def api_app(db: sessionmaker[Session], redis_client: redis.Redis) -> Iterator[AppFactory]:
    """Build apps from settings on an empty database and Redis; close them at the end."""
    built: list[Flask] = []

    def build(settings: Settings) -> Flask:
        app = create_app(settings)
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield build
    for app in built:
        close_app(app)


@pytest.fixture
def settings(server_urls: ServerUrls) -> Settings:
    return Settings(
        database_url=server_urls.database_url,
        redis_url=server_urls.redis_url,
        auth_enabled=True,
        api_keys=(
            ApiKey.of(ADMIN_KEY, "admin", SECRET_KEY),
            ApiKey.of(CLIENT_KEY, "client", SECRET_KEY),
            ApiKey.of(OTHER_CLIENT_KEY, "client", SECRET_KEY),
        ),
        secret_key=SECRET_KEY,
        rate_limit="off",
        webhook_keys=(WEBHOOK_KEY,),
        # like the rate limit: tests that send refused credentials on purpose turn it on
        auth=AuthSettings(auth_failure_limit="off"),
    )


@pytest.fixture
def app(api_app: AppFactory, settings: Settings) -> Flask:
    return api_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class NoSender:
    """Celery is not needed where the tests drain events themselves."""

    def send_task(self, name: str, args: list[Any], **_: Any) -> object:
        return None


@pytest.fixture
def worker(server_urls: ServerUrls) -> Iterator[runtime.Runtime]:
    """A worker's runtime in the test process: call `workers.drain_event(worker, ...)`."""
    built = runtime.build(
        Settings(database_url=server_urls.database_url, redis_url=server_urls.redis_url),
        sender=NoSender(),
    )
    yield built
    built.engine.dispose()


# --- helpers the API tests share --------------------------------------------------------

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
MISSING: Any = object()  # event_body(title=MISSING) leaves the field out


def event_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Launch party",
        "description": "",
        "date": "2026-12-01",
        "location": "Hall A",
        "capacity": 2,
        "organizer": "Org",
        "status": "active",
        "waitlistEnabled": True,
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not MISSING}


def create_users(client: FlaskClient, *user_ids: str) -> None:
    for user_id in user_ids:
        response = client.post("/users", json={"userId": user_id, "name": user_id}, headers=ADMIN)
        assert response.status_code == 201, response.get_json()


def create_event(client: FlaskClient, event_id: str = "e1", **changes: Any) -> dict[str, Any]:
    response = client.post("/events", json=event_body(eventId=event_id, **changes), headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def take_places(db: sessionmaker[Session], event_id: str, *user_ids: str) -> None:
    """Register users directly through the rules (seat, or waitlist when full), as the worker
    would, without going through tickets."""
    with db.begin() as session:
        seats = lock_seats(session, event_id, user_ids, [])
        for user_id in user_ids:
            seats.handle(Register(user_id))
        save_seats(session, event_id, seats, NOW)


def get_json(client: FlaskClient, path: str) -> Any:
    response = client.get(path, headers=CLIENT)
    assert response.status_code == 200, (path, response.get_json())
    return response.get_json()


@contextmanager
def listening(client: redis.Redis, channel: str) -> Iterator[list[dict[str, Any]]]:
    """Collect what is published on `channel` during the block (and shortly after)."""
    received: list[dict[str, Any]] = []
    pubsub = client.pubsub()  # type: ignore[no-untyped-call]
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1.0)  # the subscription's confirmation
    try:
        yield received
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == "message":
                received.append(json.loads(message["data"]))
    finally:
        pubsub.close()
