"""Alembic environment: runs migrations online against the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from models.storage.locks import MIGRATION_KEY
from models.storage.tables import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by models.storage.db.migrate"
    # No prepared statements: the same URL may lead through a transaction-pooling PgBouncer.
    engine = create_engine(url, poolclass=pool.NullPool, connect_args={"prepare_threshold": None})
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            # Serialise concurrent `tessera migrate` runs (several containers starting at
            # once). Every migration runs in this one transaction, and the lock ends with it,
            # so it holds behind a transaction-pooling PgBouncer too (a session lock there
            # would stay on whichever server connection took it).
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_KEY})")
            context.run_migrations()
    engine.dispose()


run_migrations_online()
