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


# A host that dies or drops off the network sends nothing: without these, its half-open
# connections would hold their transactions, and an applier's event lock, for as long as TCP
# takes to give up (about 15 minutes). Measured in docs/RELIABILITY.md ("A dead worker host").
# Client side: probe an idle connection after 5 s, give up after 3 unanswered probes 1 s apart,
# and drop one whose sent data stays unacknowledged for 4 s. An API request that finds its
# pooled connection dead (4 s) and then cannot connect either (3 s) is answered 503 within 7 s,
# before a client's usual 10 s timeout.
CONNECT_TIMEOUT_SECONDS = 3
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    "tcp_user_timeout": 4000,
}
# Server side, per session: the same probes towards the client, and a transaction left idle
# for 5 s is ended (nothing of ours pauses in a transaction; a vanished client would hold its
# locks until then). Sent as startup options, so they need no change to postgresql.conf.
SESSION_SETTINGS = {
    "timezone": "utc",  # timestamps come back in UTC whatever the server's default (RFC 3339 "Z")
    "idle_in_transaction_session_timeout": "5s",
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "4000",
}


def session_options() -> str:
    return " ".join(f"-c {name}={value}" for name, value in SESSION_SETTINGS.items())


def make_engine(database_url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    return create_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,  # a PostgreSQL restart must cost one retry, not a burst of 500s
        pool_recycle=1800,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": "tessera",
            "options": session_options(),
            **KEEPALIVES,
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
