"""The Flask app factory: settings, database, Redis, error handling, auth, blueprints."""

from __future__ import annotations

import re
import threading
import time

from flask import Flask, Response, g, request
from ulid import ULID

from api import (
    auth,
    console,
    cors,
    docs,
    events,
    health,
    observability,
    principals,
    ratelimit,
    users,
)
from api.accepts import AcceptQueue
from api.context import ApiContext
from api.errors import register_error_handlers
from api.waiting import Listener
from models.db import make_engine, make_sessionmaker
from tessera.config import ConfigError, Settings
from tessera.messaging import RedisMessenger, TaskSender, Waker, redis_client
from tessera.telemetry import configure_logging

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    if not settings.database_url or not settings.redis_url:
        raise ConfigError("the API needs DATABASE_URL and REDIS_URL (tessera api resolves them)")
    configure_logging(json_format=settings.log_json)
    app = Flask("tessera")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    # Enough connections for the requests of one process that are in the database at once,
    # and few beyond: under gevent a burst waits for a pooled connection rather than opening
    # (and, after it, closing) new ones, each a PostgreSQL backend to fork.
    engine = make_engine(settings.database_url, pool_size=16, max_overflow=4)
    client = redis_client(settings.redis_url)
    waker = Waker(client, _celery_client(settings.redis_url))
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

    # Hook order matters: request id first (every answer carries it), then timing and the
    # request log, then CORS preflights (browsers send them without a key), then auth, then
    # what an attendee may call, then the rate limit (keyed by the authenticated principal).
    _request_ids(app)
    observability.init_app(app, json_lines=settings.log_json)
    register_error_handlers(app)
    cors.init_app(app, settings)
    auth.init_app(app, settings)
    principals.init_app(app)
    ratelimit.init_app(app, settings)

    from api import batches, commands, keys, updates, webhooks

    app.register_blueprint(commands.bp)
    app.register_blueprint(batches.bp)
    app.register_blueprint(updates.bp)
    app.register_blueprint(users.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(keys.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(console.bp)
    health.init_app(app)
    return app


def _celery_client(redis_url: str) -> TaskSender:
    """A Celery app used only to send tasks by name (the API never imports the workers)."""
    from celery import Celery

    client = Celery("tessera-api")
    client.config_from_object("celeryconfig")
    client.conf.broker_url = redis_url
    sender: TaskSender = client
    return sender


def _request_ids(app: Flask) -> None:
    @app.before_request
    def _assign() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else str(ULID())
        g.started = time.perf_counter()

    @app.after_request
    def _echo(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id") or str(ULID())
        return response
