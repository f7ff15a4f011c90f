"""Engines, sessions and migrations. Nothing here runs at import time."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def sqlalchemy_url(database_url: str) -> str:
    """Accept the plain `postgresql://` URLs operators write and use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    return database_url


def psycopg_url(database_url: str) -> str:
    """The libpq form of a URL, for code that talks to psycopg directly."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def make_engine(database_url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    return create_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,  # a PostgreSQL restart must cost one retry, not a burst of 500s
        pool_recycle=1800,
        connect_args={
            "connect_timeout": 5,
            "application_name": "tessera",
            # timestamps come back in UTC whatever the server's default zone (RFC 3339 "Z")
            "options": "-c timezone=utc",
        },
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def migrate(database_url: str) -> None:
    """Bring the schema to the newest revision (Alembic `upgrade head`)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    command.upgrade(config, "head")
