"""The Flask app factory: settings, database, Redis, error handling, auth, blueprints."""

from __future__ import annotations

import re
import threading
import time

from flask import Flask, Response, g, request
from ulid import ULID

from api import (
    applications,
    auth,
    batches,
    commands,
    console,
    cors,
    docs,
    events,
    health,
    keys,
    observability,
    ratelimit,
    updates,
    users,
    webhooks,
)
from api.accepts import AcceptQueue
from api.context import ApiContext
from api.errors import register_error_handlers
from api.routes import Resource, RouteTable
from api.waiting import Listener
from models.storage.db import make_engine, make_sessionmaker
from tessera import tracing
from tessera.config import ConfigError, Settings
from tessera.messaging import (
    REDIS_SOCKET_TIMEOUT,
    RedisMessenger,
    TaskSender,
    Waker,
    redis_client,
)
from tessera.redis_urls import celery_broker
from tessera.telemetry import REQUEST_ID, configure_logging

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# After a wake-up failed, the next second's are not attempted (`tessera.messaging.Waker`): the
# accepts answer at once, and the first wake-up after the pause or the sweeper queues their drain.
WAKE_PAUSE_SECONDS = 1.0

# Every route of the API is declared on one of these (see `api.routes`); the document's
# operations come in this order.
BLUEPRINTS: tuple[Resource, ...] = (
    users.bp,
    events.bp,
    commands.bp,
    applications.bp,
    batches.bp,
    updates.bp,
    webhooks.bp,
    keys.bp,
    health.bp,
    observability.bp,
    docs.bp,
    console.bp,
)


def route_table() -> RouteTable:
    """The operations of every blueprint the app serves (no app needed)."""
    return RouteTable.of(BLUEPRINTS)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    if not settings.database_url or not settings.redis_url:
        raise ConfigError("the API needs DATABASE_URL and REDIS_URL (tessera api resolves them)")
    configure_logging(json_format=settings.log_json)
    # No static folder: the only static files (the console's, Swagger UI's) are served by
    # their own declared routes.
    app = Flask("tessera", static_folder=None)
    tracing.configure("tessera-api")
    tracing.instrument_app(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    # Enough connections for the requests of one process that are in the database at once,
    # and few beyond: under gevent a burst waits for a pooled connection rather than opening
    # (and, after it, closing) new ones, each a PostgreSQL backend to fork.
    engine = make_engine(settings.database_url, pool_size=16, max_overflow=4)
    client = redis_client(settings.redis_url)
    waker = Waker(
        client, _celery_client(settings.redis_url), pause_after_failure=WAKE_PAUSE_SECONDS
    )
    sessions = make_sessionmaker(engine, RedisMessenger(client, waker))
    redis_url = settings.redis_url
    app.extensions["tessera"] = ApiContext(
        settings=settings,
        sessions=sessions,
        redis=client,
        accepts=AcceptQueue(sessions),
        listener=Listener(lambda: redis_client(redis_url), sessions),
        streams=threading.BoundedSemaphore(settings.max_streams),
    )

    table = route_table()
    table.install(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    health.init_app(app)

    # Hook order matters: request id first (every answer carries it), then timing and the
    # request log, then CORS preflights (browsers send them without a key), then
    # authentication, then the rate limit (keyed by the authenticated principal, so a key
    # calling an operation its role may not call still spends its budget), then roles and
    # what an attendee may call.
    _request_ids(app)
    observability.init_app(app, json_lines=settings.log_json)
    register_error_handlers(app)
    cors.init_app(app, settings)
    auth.init_app(app, settings, table)
    ratelimit.init_app(app, settings, table)
    auth.init_roles(app, table)
    return app


def _celery_client(redis_url: str) -> TaskSender:
    """A Celery app used only to send tasks by name (the API never imports the workers)."""
    from celery import Celery

    client = Celery("tessera-api")
    client.config_from_object("celeryconfig")
    broker = celery_broker(redis_url, REDIS_SOCKET_TIMEOUT)
    client.conf.broker_url = broker.url
    client.conf.broker_transport = broker.transport
    client.conf.broker_transport_options = {
        **client.conf.broker_transport_options,
        **broker.transport_options,
    }
    sender: TaskSender = client
    return sender


def _request_ids(app: Flask) -> None:
    @app.before_request
    def _assign() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else str(ULID())
        g.started = time.perf_counter()
        # each request runs in its own greenlet or thread, whose context this sets
        REQUEST_ID.set(g.request_id)

    @app.after_request
    def _echo(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id") or str(ULID())
        return response
