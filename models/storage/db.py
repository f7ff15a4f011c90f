"""Engines, sessions, units of work and migrations. Nothing here runs at import time.

Every writer uses the same unit of work (`run`, or `with sessions.begin()` in the hot paths)
and the same after-commit hook: what a transaction wants to tell the world (status updates,
wake-ups) is handed to the process's `Messenger` only once the transaction has committed, and
never if it rolls back. The messenger is attached to the sessionmaker at start-up, so `models`
never imports Redis or Celery.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psycopg.errors
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from models.storage.hosts import HostOrder, answered, split_hosts

log = logging.getLogger("tessera.db")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

T = TypeVar("T")


class Messenger(Protocol):
    """Where committed news goes: status updates to publish, events to wake, webhook
    subscriptions with new deliveries to send."""

    def publish(self, updates: Sequence[Any]) -> None: ...

    def wake(self, event_ids: Collection[str]) -> None: ...

    def deliver(self, webhook_ids: Collection[str]) -> None: ...


_MESSENGER = "tessera.messenger"
_AFTER_COMMIT = "tessera.after_commit"
_DEFERRED = "tessera.deferred_announcements"


# --- engines and sessions ---------------------------------------------------------------


def sqlalchemy_url(database_url: str) -> str:
    """Accept the plain `postgresql://` URLs operators write and use the psycopg 3 driver."""
    database_url = _without_pooler_mark(database_url)
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return _hosts_as_query("postgresql+psycopg://" + database_url[len(prefix) :])
    return _hosts_as_query(database_url)


# `?pgbouncer=true` on DATABASE_URL (Prisma's spelling) says a transaction-pooling PgBouncer
# stands between Tessera and PostgreSQL: consecutive transactions of one connection may run on
# different server sessions, so nothing may rely on session state (docs/SCALING.md, PgBouncer).
POOLER_MARK = "pgbouncer"


def behind_transaction_pooler(database_url: str) -> bool:
    query = urllib.parse.urlsplit(database_url).query
    values = urllib.parse.parse_qs(query).get(POOLER_MARK, [])
    return any(value.lower() in ("true", "1", "on", "yes") for value in values)


def _without_pooler_mark(database_url: str) -> str:
    """The URL without the mark, which libpq would refuse as an unknown parameter."""
    base, question, query = database_url.partition("?")
    if not question:
        return database_url
    kept = [pair for pair in query.split("&") if pair.partition("=")[0] != POOLER_MARK]
    return f"{base}?{'&'.join(kept)}" if kept else base


def _hosts_as_query(url: str) -> str:
    """libpq's multi-host form, `//u@h1:5432,h2:5432/db` (the one replicated PostgreSQL's
    documentation gives), as SQLAlchemy's, `//u@/db?host=h1:5432&host=h2:5432`: SQLAlchemy
    cannot read a port list in the authority, and hands each `host` on to psycopg, which tries
    them in order (with `target_session_attrs=read-write`, until one is the primary)."""
    scheme, separator, rest = url.partition("://")
    authority, _, path_and_query = rest.partition("/")
    userinfo, at, hostlist = authority.rpartition("@")
    if not separator or "," not in hostlist:
        return url
    path, _, query = path_and_query.partition("?")
    hosts = "&".join(f"host={host}" for host in hostlist.split(",") if host)
    return f"{scheme}://{userinfo}{at}/{path}?{hosts}{'&' + query if query else ''}"


def psycopg_url(database_url: str) -> str:
    """The libpq form of a URL, for code that talks to psycopg directly."""
    return _without_pooler_mark(database_url).replace("postgresql+psycopg://", "postgresql://", 1)


# A host that dies or drops off the network sends nothing: without these, its half-open
# connections would hold their transactions, and an applier's event lock, for as long as TCP
# takes to give up (about 15 minutes). Measured in docs/RELIABILITY.md ("A dead worker host").
# Client side: probe an idle connection after 5 s, give up after 3 unanswered probes 1 s apart,
# and drop one whose sent data stays unacknowledged for 2.5 s (a LAN's retransmissions answer
# within a fraction of that; it was 4 s, which every request in flight on a killed primary
# waited before its retry, docs/SCALING.md). The user timeout bounds a connect to a silent host
# too. An API request that finds its pooled connection dead (2.5 s) and then cannot connect
# either (2.5 s) is answered 503 within about 5 s, before a client's usual 10 s timeout.
CONNECT_TIMEOUT_SECONDS = 3
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    "tcp_user_timeout": 2500,
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


# The apply path's statements (the workers') are all lookups by key in tables that grow by
# thousands of rows a second from empty at a launch. psycopg prepares them and PostgreSQL caches
# one generic plan, made with the statistics of that moment: once autovacuum has analysed a table
# while it was empty (or nearly), that plan seq-scans it, and keeps doing so on every pass as it
# grows: a 20,000-ticket backlog drained at 2,900/s instead of 5,300/s, the membership lookup
# alone 70 ms a pass (tests/integration/test_query_plans.py plans every statement that way).
# A seq scan is then chosen only where no index serves the statement at all.
APPLY_SESSION_SETTINGS = {"enable_seqscan": "off"}


def session_options(extra: Mapping[str, str] | None = None) -> str:
    settings = {**SESSION_SETTINGS, **(extra or {})}
    return " ".join(f"-c {name}={value}" for name, value in settings.items())


def make_engine(
    database_url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    session_settings: Mapping[str, str] | None = None,
) -> Engine:
    """`session_settings`: PostgreSQL settings for this engine's sessions beside
    `SESSION_SETTINGS`. Behind a transaction pooler they are not sent (no statement is
    prepared there, so each is planned afresh with the table's size of the moment)."""
    pooled = behind_transaction_pooler(database_url)
    engine = create_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_use_lifo=True,  # reuse the warmest connections; the rest may go idle and be pinged
        pool_recycle=1800,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": "tessera",
            **(_POOLED_CONNECT_ARGS if pooled else {"options": session_options(session_settings)}),
            **KEEPALIVES,
        },
    )
    if pooled:
        _utc_through_the_pooler(engine)
    order = _try_reachable_hosts_first(engine)
    _ping_idle_connections(engine, order)
    _recognise_lost_primary(engine, order)
    return engine


# Behind a transaction-pooling PgBouncer: no `options` startup parameter (PgBouncer refuses
# one it was not told to ignore, and could not carry it to every server session anyway; the
# session timeouts and keepalives go into PgBouncer's and the role's configuration instead,
# docs/SCALING.md), and no prepared statements (a statement prepared in one server session
# is unknown in the next; PgBouncer before 1.21 cannot track them).
_POOLED_CONNECT_ARGS: dict[str, Any] = {"prepare_threshold": None}


def _utc_through_the_pooler(engine: Engine) -> None:
    """The time zone is the one session setting Tessera needs (timestamps read back in UTC).
    PgBouncer remembers a client's TimeZone, which PostgreSQL reports on every change, and
    sets it on each server session it lends that client: one SET per new connection holds."""

    @event.listens_for(engine, "connect")
    def _set_utc(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            dbapi_connection.execute("SET TIME ZONE 'UTC'")
        finally:
            dbapi_connection.autocommit = autocommit


def _try_reachable_hosts_first(engine: Engine) -> HostOrder:
    """With a multi-host URL, connect host by host in `HostOrder`'s order, sending one that
    cannot be reached (a dead or cut-off machine) to the back: after a failover the processes'
    new connections reach the new primary without first waiting out the dead one. Each pooled
    connection remembers its host, so one that dies silently sends its host back too."""
    order = HostOrder()

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        host = str(cparams.get("host") or "")
        if "," not in host:
            return None  # one host: psycopg's own connect
        failures: list[str] = []
        for each in order.to_try(split_hosts(host, cparams.get("port"))):
            try:
                connection = dialect.connect(
                    *cargs, **{**cparams, "host": each[0], "port": each[1]}
                )
            except psycopg.OperationalError as error:
                failures.append(f"{each[0]}:{each[1]}: {error}")
                if not answered(str(error)):
                    order.unreachable(each)
                continue
            order.reached(each)
            record.info[_HOST] = each
            return connection
        raise psycopg.OperationalError("no host took the connection: " + "; ".join(failures))

    return order


_HOST = "tessera.host"


def went_silent(order: HostOrder, info: dict[str, Any], error: BaseException) -> None:
    """A connection of a multi-host URL was lost without its server saying why (its machine
    died or was cut off: TCP gave up, `tcp_user_timeout`): its host goes to the back, so the
    unit of work's retry, and the next connections, try the others before waiting out a
    connect timeout on it. (A server that shut the session down answered: it keeps its
    place.)"""
    host = info.get(_HOST)
    if host is not None and not is_lost_primary(error) and not answered(str(error)):
        order.unreachable(host)


# A replicated PostgreSQL fails over by demoting or losing its primary. What a pooled
# connection then meets: the node shutting down (57P01 admin_shutdown, 57P02 crash_shutdown),
# refusing while it restarts as a standby (57P03), or, on a node kept up read-only (some managed
# services, a standby promoted back), every write refused with 25006 read_only_sql_transaction.
# For Tessera each means "this connection no longer reaches the primary": the pool is emptied,
# so the next connection is made anew and `target_session_attrs=read-write` finds the new
# primary, and a unit of work that was cut before its COMMIT is retried (`run`) or answered
# 503 NOT_READY like a PostgreSQL restart. Nothing of it was committed: a read-only node
# refuses the first write, and a terminated session's open transaction is rolled back.
NOT_PRIMARY = (psycopg.errors.ReadOnlySqlTransaction,)
NODE_GONE = (
    psycopg.errors.AdminShutdown,
    psycopg.errors.CrashShutdown,
    psycopg.errors.CannotConnectNow,
)


def is_lost_primary(error: BaseException) -> bool:
    """The node behind this connection is no longer a primary that takes writes."""
    return isinstance(error, NOT_PRIMARY + NODE_GONE)


def _recognise_lost_primary(engine: Engine, order: HostOrder) -> None:
    @event.listens_for(engine, "handle_error")
    def _lost_primary(context: ExceptionContext) -> BaseException | None:
        original = context.original_exception
        if not is_lost_primary(original):
            if context.is_disconnect and context.connection is not None:
                with suppress(Exception):  # an invalidated connection may not say more
                    went_silent(order, context.connection.info, original)
            return None
        context.is_disconnect = True  # drop this connection and the rest of the pool
        if isinstance(context.sqlalchemy_exception, OperationalError):
            return None
        # 25006 is an InternalError to the DB-API; as an OperationalError it takes the path
        # of every other lost connection (503 in the API, a retry in the workers).
        return OperationalError(
            context.statement,
            context.parameters,
            original,
            connection_invalidated=True,
        )


PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "tessera.idle_since"


def _ping_idle_connections(engine: Engine, order: HostOrder) -> None:
    """Check a pooled connection before use only if it sat idle for a second: a PostgreSQL
    restart must cost one retry, not a burst of errors, but a connection returned a moment ago
    is alive, and pinging it on every checkout would cost a round trip per request. (One that
    died meanwhile fails its statement; SQLAlchemy then discards the whole pool.)"""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi)
        except Exception as error:
            went_silent(order, record.info, error)
            raise DisconnectionError("idle connection is gone") from error


def make_sessionmaker(engine: Engine, messenger: Messenger | None = None) -> sessionmaker[Session]:
    """Sessions bound to `engine`; `messenger` receives what committed transactions announce
    (without one, announcements are dropped: tools and tests that publish nothing)."""
    sessions = sessionmaker(bind=engine, expire_on_commit=False, info={_MESSENGER: messenger})
    event.listen(sessions, "after_commit", _run_after_commit)
    event.listen(sessions, "after_rollback", _forget_after_commit)
    return sessions


# --- after commit -----------------------------------------------------------------------


def after_commit(session: Session, callback: Callable[[Messenger], None]) -> None:
    """Call `callback(messenger)` once the session's transaction has committed; never if it
    rolls back. A reader must never hear of a change that was then undone."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def defer_announcements(session: Session, to: list[Callable[[], None]]) -> None:
    """Once the session's transaction has committed, append its announcements to `to` instead
    of making them: the caller makes them later (after answering its clients)."""
    session.info[_DEFERRED] = to


def announce(announcements: Iterable[Callable[[], None]]) -> None:
    """Make deferred announcements; a failure is logged, never raised (the change committed)."""
    for announcement in announcements:
        try:
            announcement()
        except Exception:
            log.exception("after-commit announcement failed")


def _run_after_commit(session: Session) -> None:
    callbacks: list[Callable[[Messenger], None]] = session.info.pop(_AFTER_COMMIT, [])
    messenger: Messenger | None = session.info.get(_MESSENGER)
    if messenger is None:
        return
    deferred: list[Callable[[], None]] | None = session.info.get(_DEFERRED)
    if deferred is not None:
        deferred.extend(functools.partial(callback, messenger) for callback in callbacks)
        return
    for callback in callbacks:
        try:
            callback(messenger)
        except Exception:  # the change is committed; telling of it must not undo the answer
            log.exception("after-commit announcement failed")


def _forget_after_commit(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


# --- units of work ----------------------------------------------------------------------

RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def is_retryable(error: DBAPIError) -> bool:
    """A deadlock or serialization failure: PostgreSQL rolled the transaction back and the
    same unit of work may simply run again. (A lost primary invalidates the connection and is
    retried as a stale one.)"""
    return isinstance(error.orig, RETRYABLE)


def run(sessions: sessionmaker[Session], work: Callable[[Session], T], *, attempts: int = 3) -> T:
    """Run `work` in one transaction and return its value; run it again in a fresh transaction
    when PostgreSQL aborts it for a deadlock or serialization failure, or when the pooled
    connection turns out dead or no longer on the primary before the commit was sent (after a
    database restart or a failover; nothing was committed, so trying again on a new connection
    is safe). Anything else, or the last failure, propagates (and nothing of it was committed
    or announced)."""
    for attempt in range(1, attempts + 1):
        committing = False
        try:
            with sessions.begin() as session:
                value = work(session)
                committing = True  # a failure from here on may have committed: never retried
            return value
        except DBAPIError as error:
            stale = error.connection_invalidated and not committing
            if attempt == attempts or not (stale or is_retryable(error)):
                raise
            log.warning("unit of work aborted (%s); retry %d", type(error.orig).__name__, attempt)
            time.sleep(0.01 * 2**attempt)  # let the transaction we collided with finish
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def snapshot(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only REPEATABLE READ transaction: every statement in it sees one snapshot, so a
    response built from several queries never mixes two states. (Read-only transactions at
    this level never fail with serialization errors.)"""
    with sessions() as session, session.begin():
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
        yield session


def database_now(session: Session) -> dt.datetime:
    """The transaction's own clock, the one `created_at` defaults use: every timestamp Tessera
    writes follows the database's clock, whatever a host's clock says."""
    now: dt.datetime = session.execute(select(func.now())).scalar_one()
    return now


def acceptance_clock(session: Session) -> dt.datetime:
    """The database's clock now (not at the transaction's start), to the millisecond: tickets
    take it under their accept lock, so acceptance times grow with `seq`, and every time the
    rules compare (windows, offers' ends) has the precision the API shows."""
    now: dt.datetime = session.execute(
        select(func.date_trunc("milliseconds", func.clock_timestamp()))
    ).scalar_one()
    return now


# --- migrations -------------------------------------------------------------------------


def migrate(database_url: str) -> None:
    """Bring the schema to the newest revision (Alembic `upgrade head`)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    command.upgrade(config, "head")
