"""Per-process resources of a worker (engine, sessions, Redis, waker), built on first use."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from models.storage.db import APPLY_SESSION_SETTINGS, make_engine, make_sessionmaker
from tessera.config import ConfigError, Settings
from tessera.messaging import RedisMessenger, TaskSender, Waker, redis_client


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis
    waker: Waker


_current: Runtime | None = None


def build(settings: Settings, sender: TaskSender) -> Runtime:
    if not settings.database_url or not settings.redis_url:
        raise ConfigError("workers need DATABASE_URL and REDIS_URL")
    # A webhook sender runs its tasks in threads: one connection each, at the busiest.
    overflow = max(2, settings.webhook_concurrency)
    engine = make_engine(
        settings.database_url,
        pool_size=2,
        max_overflow=overflow,
        session_settings=APPLY_SESSION_SETTINGS,
    )
    client = redis_client(settings.redis_url)
    waker = Waker(client, sender)
    sessions = make_sessionmaker(engine, RedisMessenger(client, waker))
    return Runtime(settings, engine, sessions, client, waker)


def current(sender: TaskSender) -> Runtime:
    """This process's runtime, built on first use (after the pool forked us): `sender` is the
    Celery app the tasks belong to."""
    global _current  # noqa: PLW0603 - one runtime per process, rebuilt after fork
    if _current is None:
        _current = build(Settings.from_env(), sender)
    return _current


def install(runtime: Runtime) -> None:
    """Use a runtime built elsewhere (tests, embedded workers)."""
    global _current  # noqa: PLW0603
    _current = runtime


def reset() -> None:
    global _current  # noqa: PLW0603
    if _current is not None:
        _current.engine.dispose(close=False)
    _current = None
