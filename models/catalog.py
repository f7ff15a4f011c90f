"""Users and events as the synchronous API sees them: create, read, change, delete, list, and
who holds a seat or waits where.

Seat-changing units of work (removing a user, changing an event) live in `models.services`;
this module only reads seats. Waitlist positions are never stored: they are computed from
`place_order` at read time, so they are 1..n and contiguous by construction.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg.errors
from sqlalchemy import RowMapping, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased, sessionmaker

from models.errors import DuplicateEvent, DuplicateUser, EventNotFound, UserNotFound
from models.tables import Event, Registration, User

log = logging.getLogger("tessera.catalog")

T = TypeVar("T")

REGISTERED = "registered"
WAITLISTED = "waitlisted"

USER_COLUMNS = (User.user_id, User.name, User.created_at, User.updated_at)
EVENT_COLUMNS = (
    Event.event_id,
    Event.title,
    Event.description,
    Event.date,
    Event.location,
    Event.capacity,
    Event.organizer,
    Event.status,
    Event.waitlist_enabled,
    Event.registered_count,
    Event.waitlisted_count,
    Event.created_at,
    Event.updated_at,
)


# --- transactions -----------------------------------------------------------------------


RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def is_retryable(error: DBAPIError) -> bool:
    """A deadlock or serialization failure: PostgreSQL rolled the transaction back and the
    same unit of work may simply run again."""
    return isinstance(error.orig, RETRYABLE)


def retrying(work: Callable[[], T], *, attempts: int = 3) -> T:
    """Run a whole unit of work (it opens its own transaction) again when PostgreSQL aborts it
    for a deadlock or serialization failure; anything else, or the last failure, propagates."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DBAPIError as error:
            if attempt == attempts or not is_retryable(error):
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
    """The transaction's own clock, the one `created_at` defaults use, so that `updatedAt` is
    never before `createdAt` whatever the API host's clock says."""
    now: dt.datetime = session.execute(select(func.now())).scalar_one()
    return now


# --- users ------------------------------------------------------------------------------


def create_user(session: Session, user_id: str, name: str) -> RowMapping:
    statement = (
        insert(User)
        .values(user_id=user_id, name=name)
        .on_conflict_do_nothing(index_elements=[User.user_id])
        .returning(*USER_COLUMNS)
    )
    row = session.execute(statement).mappings().one_or_none()
    if row is None:
        raise DuplicateUser(user_id)
    return row


def get_user(session: Session, user_id: str) -> RowMapping:
    row = (
        session.execute(select(*USER_COLUMNS).where(User.user_id == user_id))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise UserNotFound(user_id)
    return row


def rename_user(session: Session, user_id: str, name: str) -> RowMapping:
    row = (
        session.execute(
            update(User)
            .where(User.user_id == user_id)
            .values(name=name, updated_at=func.now())
            .returning(*USER_COLUMNS)
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise UserNotFound(user_id)
    return row


def _require_user(session: Session, user_id: str) -> None:
    if session.execute(select(User.user_id).where(User.user_id == user_id)).first() is None:
        raise UserNotFound(user_id)


def user_registrations(session: Session, user_id: str) -> list[RowMapping]:
    """The events where the user holds a seat, oldest seat first."""
    _require_user(session, user_id)
    return list(
        session.execute(
            select(
                Event.event_id, Event.title, Event.date, Registration.since.label("registered_at")
            )
            .join(Event, Event.event_id == Registration.event_id)
            .where(Registration.user_id == user_id, Registration.standing == REGISTERED)
            .order_by(Registration.since, Event.event_id)
        ).mappings()
    )


def user_waitlists(session: Session, user_id: str) -> list[RowMapping]:
    """The events whose waitlist holds the user, with their 1-based position.

    The position is the number of people waiting at that event whose `place_order` is not
    after the user's: the same figure as `row_number()` over the event's waitlist, but an
    index range count per event instead of numbering whole waitlists.
    """
    _require_user(session, user_id)
    ahead = aliased(Registration, name="ahead")
    position = (
        select(func.count())
        .where(
            ahead.event_id == Registration.event_id,
            ahead.standing == WAITLISTED,
            ahead.place_order <= Registration.place_order,
        )
        .scalar_subquery()
    )
    return list(
        session.execute(
            select(
                Event.event_id,
                Event.title,
                Event.date,
                position.label("position"),
                Registration.since.label("waitlisted_at"),
            )
            .join(Event, Event.event_id == Registration.event_id)
            .where(Registration.user_id == user_id, Registration.standing == WAITLISTED)
            .order_by(Registration.since, Event.event_id)
        ).mappings()
    )


# --- events -----------------------------------------------------------------------------


def create_event(session: Session, fields: Mapping[str, Any]) -> RowMapping:
    statement = (
        insert(Event)
        .values(**fields)
        .on_conflict_do_nothing(index_elements=[Event.event_id])
        .returning(*EVENT_COLUMNS)
    )
    row = session.execute(statement).mappings().one_or_none()
    if row is None:
        raise DuplicateEvent(str(fields["event_id"]))
    return row


def get_event(session: Session, event_id: str) -> RowMapping:
    row = (
        session.execute(select(*EVENT_COLUMNS).where(Event.event_id == event_id))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise EventNotFound(event_id)
    return row


@dataclass(frozen=True)
class EventPage:
    rows: list[RowMapping]
    more: bool


def list_events(
    session: Session,
    *,
    status: str | None,
    after: tuple[dt.datetime, str] | None,
    limit: int,
) -> EventPage:
    """One page in (created_at, event_id) order, continuing strictly after `after`: a keyset
    page, served by the (status,) created_at, event_id indexes whatever the offset."""
    statement = select(*EVENT_COLUMNS)
    if status is not None:
        statement = statement.where(Event.status == status)
    if after is not None:
        statement = statement.where(tuple_(Event.created_at, Event.event_id) > tuple_(*after))
    # one row more than asked tells whether another page follows
    rows = list(
        session.execute(
            statement.order_by(Event.created_at, Event.event_id).limit(limit + 1)
        ).mappings()
    )
    return EventPage(rows[:limit], more=len(rows) > limit)


def delete_event(session: Session, event_id: str) -> None:
    """Delete an event; its registrations and waitlist go with it (ON DELETE CASCADE)."""
    deleted = session.execute(
        delete(Event).where(Event.event_id == event_id).returning(Event.event_id)
    ).first()
    if deleted is None:
        raise EventNotFound(event_id)


def require_event(session: Session, event_id: str) -> None:
    if session.execute(select(Event.event_id).where(Event.event_id == event_id)).first() is None:
        raise EventNotFound(event_id)


def event_registrations(session: Session, event_id: str) -> list[RowMapping]:
    """Seated users in the order they took their seats."""
    require_event(session, event_id)
    return list(
        session.execute(
            select(Registration.user_id, Registration.since.label("registered_at"))
            .where(Registration.event_id == event_id, Registration.standing == REGISTERED)
            .order_by(Registration.place_order)
        ).mappings()
    )


def event_waitlist(session: Session, event_id: str) -> list[RowMapping]:
    """Waiting users in FIFO order, numbered 1..n from `place_order`."""
    require_event(session, event_id)
    position = func.row_number().over(order_by=Registration.place_order)
    return list(
        session.execute(
            select(
                Registration.user_id,
                position.label("position"),
                Registration.since.label("waitlisted_at"),
            )
            .where(Registration.event_id == event_id, Registration.standing == WAITLISTED)
            .order_by(Registration.place_order)
        ).mappings()
    )


@dataclass(frozen=True)
class Place:
    status: str
    position: int | None


def place_of(session: Session, event_id: str, user_id: str) -> Place | None:
    """Where the user stands at the event (seated, or waiting at a position), or None."""
    require_event(session, event_id)
    row = session.execute(
        select(Registration.standing, Registration.place_order).where(
            Registration.event_id == event_id, Registration.user_id == user_id
        )
    ).one_or_none()
    if row is None:
        return None
    if row.standing == REGISTERED:
        return Place(REGISTERED, None)
    ahead = session.execute(
        select(func.count()).where(
            Registration.event_id == event_id,
            Registration.standing == WAITLISTED,
            Registration.place_order <= row.place_order,
        )
    ).scalar_one()
    return Place(WAITLISTED, int(ahead))
