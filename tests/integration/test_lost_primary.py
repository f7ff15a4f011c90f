"""A connection that no longer reaches a primary (a demoted or read-only node, a node shutting
down) is recognised like a lost one: retried on a fresh connection, or answered 503, never 500.

A real read-only transaction on the embedded PostgreSQL stands in for a demoted node: it
refuses every write with SQLSTATE 25006, exactly as a standby or a read-only primary does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from models.storage.db import is_lost_primary, make_engine, make_sessionmaker, run
from tessera.tools.servers import ServerUrls
from tests.integration.conftest import ADMIN_KEY, AppFactory

pytestmark = pytest.mark.integration


def add_user(user_id: str) -> Any:
    def work(session: Session) -> None:
        session.execute(text("INSERT INTO users (user_id, name) VALUES (:u, :u)"), {"u": user_id})

    return work


def users(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT user_id FROM users")).scalars())


@contextmanager
def small_engine(server_urls: ServerUrls) -> Iterator[Engine]:
    engine = make_engine(server_urls.database_url, pool_size=1, max_overflow=0)
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_unit_of_work_on_a_connection_left_on_a_read_only_node_is_retried_on_a_fresh_one(
    db: sessionmaker[Session], server_urls: ServerUrls
) -> None:
    with small_engine(server_urls) as engine:
        # the pool's only connection now behaves like one to a demoted primary
        with engine.connect() as connection:
            connection.exec_driver_sql("SET SESSION default_transaction_read_only = on")
            connection.commit()
        run(make_sessionmaker(engine), add_user("ann"))
        assert users(engine) == ["ann"]
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW transaction_read_only").scalar() == "off"


def test_writes_on_a_node_that_stays_read_only_fail_as_a_lost_connection_and_commit_nothing(
    db: sessionmaker[Session], server_urls: ServerUrls
) -> None:
    with small_engine(server_urls) as engine:
        connects = []

        @event.listens_for(engine, "connect")
        def _read_only(dbapi: Any, _record: Any) -> None:
            connects.append(1)
            with dbapi.cursor() as cursor:
                cursor.execute("SET SESSION default_transaction_read_only = on")
            dbapi.commit()

        with pytest.raises(OperationalError) as raised:
            run(make_sessionmaker(engine), add_user("bob"), attempts=3)
        assert raised.value.connection_invalidated
        assert isinstance(raised.value.orig, psycopg.errors.ReadOnlySqlTransaction)
        assert len(connects) == 3  # each attempt on a new connection, none reused
    with small_engine(server_urls) as engine:
        assert users(engine) == []


def test_a_node_shutting_down_or_refusing_connections_is_a_lost_primary() -> None:
    assert is_lost_primary(psycopg.errors.AdminShutdown())
    assert is_lost_primary(psycopg.errors.CannotConnectNow())
    assert is_lost_primary(psycopg.errors.ReadOnlySqlTransaction())
    assert not is_lost_primary(psycopg.errors.UniqueViolation())


def test_a_write_while_the_database_is_read_only_is_answered_503_not_ready(
    api_app: AppFactory, settings: Any, engine: Engine, server_urls: ServerUrls
) -> None:
    name = engine.url.database
    with engine.connect() as connection:
        connection.exec_driver_sql(
            f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'
        )
        connection.commit()
    try:
        client = api_app(settings).test_client()
        response = client.post(
            "/users",
            json={"userId": "cy", "name": "Cy"},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert response.status_code == 503, response.text
        assert response.json is not None
        assert response.json["code"] == "NOT_READY"
        assert response.headers["Retry-After"] == "1"
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(
                f'ALTER DATABASE "{name}" RESET default_transaction_read_only'
            )
            connection.commit()
    assert users(engine) == []


def _with_dead_host_first(database_url: str) -> str:
    """The same database behind a multi-host URL whose first host refuses connections (a
    port nothing listens on), as a dead old primary first in the URL would."""
    from sqlalchemy import make_url

    url = make_url(database_url)
    real = f"{url.host}:{url.port}"
    credentials = f"{url.username}:{url.password}@" if url.password else f"{url.username}@"
    return f"postgresql://{credentials}127.0.0.1:1,{real}/{url.database}"


def test_a_multi_host_url_tries_an_unreachable_host_last_once_it_failed(
    server_urls: ServerUrls, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(_with_dead_host_first(server_urls.database_url), pool_size=2)

    def attempts_on_the_dead_host() -> int:
        return sum(
            "attempt: host: '127.0.0.1', port: '1'" in r.getMessage() for r in caplog.records
        )

    try:
        with caplog.at_level(logging.DEBUG, logger="psycopg"):
            with engine.connect() as first:
                assert first.exec_driver_sql("SELECT 1").scalar() == 1
                assert attempts_on_the_dead_host() == 1  # first in the URL: tried, refused
                with engine.connect() as second:  # a new connection: the dead host goes last
                    assert second.exec_driver_sql("SELECT 1").scalar() == 1
            assert attempts_on_the_dead_host() == 1
    finally:
        engine.dispose()
