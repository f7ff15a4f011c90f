"""Tessera through a transaction-pooling PgBouncer (`?pgbouncer=true`): no startup options it
would refuse, no prepared statements that a later transaction's server session lacks, UTC in
every transaction, migrations serialised by a transaction-scoped lock, the unit of work.
Skipped, saying why, where Debian's pgbouncer is not installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from models.storage.db import (
    behind_transaction_pooler,
    make_engine,
    make_sessionmaker,
    migrate,
    psycopg_url,
    run,
    sqlalchemy_url,
)
from tessera.tools.servers import ServerUrls
from tests.pgbouncer import running_pgbouncer, unavailable_reason

pytestmark = pytest.mark.integration


def test_the_pooler_mark_is_read_and_never_reaches_libpq() -> None:
    url = "postgresql://u:p@bouncer:6432/tessera?pgbouncer=true&sslmode=require"

    assert behind_transaction_pooler(url)
    assert not behind_transaction_pooler("postgresql://u:p@db/tessera")
    assert sqlalchemy_url(url) == "postgresql+psycopg://u:p@bouncer:6432/tessera?sslmode=require"
    assert psycopg_url("postgresql://u@b/t?pgbouncer=true") == "postgresql://u@b/t"


@pytest.fixture(scope="module")
def bouncer_url(server_urls: ServerUrls) -> Iterator[str]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_pgbouncer(server_urls.database_url) as url:
        yield url


def test_units_of_work_through_a_transaction_pooling_pgbouncer_see_utc_and_need_no_session(
    bouncer_url: str, db: object
) -> None:
    engine = make_engine(bouncer_url, pool_size=8, max_overflow=0)
    sessions = make_sessionmaker(engine)
    try:
        migrate(bouncer_url)  # already at head: takes and ends its lock, changes nothing

        def add(number: int) -> str:
            def work(session: Session) -> str:
                session.execute(
                    text("INSERT INTO users (user_id, name) VALUES (:u, :u)"),
                    {"u": f"u{number}"},
                )
                zone: str = session.execute(text("SHOW TimeZone")).scalar_one()
                return zone

            return run(sessions, work)

        # More transactions than psycopg's prepare threshold, over 8 client connections and 4
        # server sessions: a prepared statement would be missing on some server session.
        zones = {add(n) for n in range(40)}
        assert zones == {"UTC"}
        with sessions() as session:
            count = session.execute(text("SELECT count(*) FROM users")).scalar_one()
        assert count == 40
    finally:
        engine.dispose()
