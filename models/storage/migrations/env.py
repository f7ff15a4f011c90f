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
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Serialise concurrent `tessera migrate` runs (several containers starting at once).
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_KEY})")
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_KEY})")
        connection.commit()
    engine.dispose()


run_migrations_online()
