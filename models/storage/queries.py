"""The read model behind the GET views: users, events, who is seated and who waits where.

Waitlist positions are never stored: `line_positions` numbers each event's waiting users 1..n
from `place_order`, in SQL, and every view that shows a position reads it from there, so they
are contiguous by construction and all agree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import RowMapping, Subquery, func, select, tuple_
from sqlalchemy.orm import Session

from models.domain.errors import EventNotFound, UserNotFound
from models.domain.rules import Standing
from models.domain.settings import SETTINGS
from models.storage.tables import Event, Registration, User

USER_COLUMNS = (User.user_id, User.name, User.created_at, User.updated_at)
_DESCRIBED = ("event_id", "title", "description", "date", "location")
_COUNTED = ("registered_count", "registered_seats", "waitlisted_count", "waitlist_seats")
# The view's columns in the API's order (`capacity`, a setting, keeps its v1 place).
EVENT_COLUMNS = tuple(
    Event.__table__.c[name]
    for name in (
        *_DESCRIBED,
        "capacity",
        "organizer",
        "status",
        *(s.column for s in SETTINGS if s.column != "capacity"),
        *_COUNTED,
        "offered_seats",
        "applied_count",
        "prequeued_count",  # the on-sale draw (#24)
        "created_at",
        "updated_at",
    )
)
REGISTERED = Standing.REGISTERED.value
WAITLISTED = Standing.WAITLISTED.value
OFFERED = Standing.OFFERED.value
APPLIED = Standing.APPLIED.value


def line_positions(event_ids: Collection[str] | None = None) -> Subquery:
    """(event_id, user_id, seats, position, waitlisted_at) of every waiting party, numbered
    1..n per event in the order they joined. Filtering it by event id is pushed below the numbering
    (it is the partition key), so a caller pays only for the events it asks about."""
    query = select(
        Registration.event_id,
        Registration.user_id,
        Registration.seats,
        func.row_number()
        .over(partition_by=Registration.event_id, order_by=Registration.place_order)
        .label("position"),
        Registration.since.label("waitlisted_at"),
    ).where(Registration.standing == WAITLISTED)
    if event_ids is not None:
        query = query.where(Registration.event_id.in_(list(event_ids)))
    return query.subquery("line")


# --- users ------------------------------------------------------------------------------


def get_user(session: Session, user_id: str) -> RowMapping:
    row = (
        session.execute(select(*USER_COLUMNS).where(User.user_id == user_id))
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
                Event.event_id,
                Event.title,
                Event.date,
                Registration.seats,
                Registration.since.label("registered_at"),
            )
            .join(Event, Event.event_id == Registration.event_id)
            .where(Registration.user_id == user_id, Registration.standing == REGISTERED)
            .order_by(Registration.since, Event.event_id)
        ).mappings()
    )


def user_waitlists(session: Session, user_id: str) -> list[RowMapping]:
    """The events whose waitlist holds the user, with their position, oldest first."""
    _require_user(session, user_id)
    waiting_at = select(Registration.event_id).where(
        Registration.user_id == user_id, Registration.standing == WAITLISTED
    )
    line = line_positions(session.scalars(waiting_at).all())
    return list(
        session.execute(
            select(
                Event.event_id,
                Event.title,
                Event.date,
                line.c.seats,
                line.c.position,
                line.c.waitlisted_at,
            )
            .join(Event, Event.event_id == line.c.event_id)
            .where(line.c.user_id == user_id)
            .order_by(line.c.waitlisted_at, Event.event_id)
        ).mappings()
    )


# --- events -----------------------------------------------------------------------------


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


def require_event(session: Session, event_id: str) -> None:
    if session.execute(select(Event.event_id).where(Event.event_id == event_id)).first() is None:
        raise EventNotFound(event_id)


def event_registrations(session: Session, event_id: str) -> list[RowMapping]:
    """Seated users in the order they took their seats."""
    require_event(session, event_id)
    return list(
        session.execute(
            select(
                Registration.user_id, Registration.seats, Registration.since.label("registered_at")
            )
            .where(Registration.event_id == event_id, Registration.standing == REGISTERED)
            .order_by(Registration.place_order)
        ).mappings()
    )


def event_waitlist(session: Session, event_id: str) -> list[RowMapping]:
    """Waiting parties in the order they joined, with their positions."""
    require_event(session, event_id)
    line = line_positions([event_id])
    return list(
        session.execute(
            select(line.c.user_id, line.c.seats, line.c.position, line.c.waitlisted_at).order_by(
                line.c.position
            )
        ).mappings()
    )


@dataclass(frozen=True)
class Place:
    status: str
    seats: int
    position: int | None
    expires_at: dt.datetime | None = None


def place_of(session: Session, event_id: str, user_id: str) -> Place | None:
    """Where the user's party stands at the event (seated, offered seats until a time, or
    waiting at a position), or None."""
    require_event(session, event_id)
    row = session.execute(
        select(Registration.standing, Registration.seats, Registration.offer_expires_at).where(
            Registration.event_id == event_id, Registration.user_id == user_id
        )
    ).one_or_none()
    if row is None:
        return None
    if row.standing != WAITLISTED:
        return Place(row.standing, row.seats, None, row.offer_expires_at)
    line = line_positions([event_id])
    position = session.scalar(select(line.c.position).where(line.c.user_id == user_id))
    return Place(WAITLISTED, row.seats, position)


_OFFER_COLUMNS = (
    Registration.event_id,
    Registration.user_id,
    Registration.seats,
    Registration.since.label("offered_at"),
    Registration.offer_expires_at.label("expires_at"),
)


def event_offers(session: Session, event_id: str) -> list[RowMapping]:
    """The event's open offers in the order they were made."""
    require_event(session, event_id)
    return list(
        session.execute(
            select(*_OFFER_COLUMNS)
            .where(Registration.event_id == event_id, Registration.standing == OFFERED)
            .order_by(Registration.place_order)
        ).mappings()
    )


def user_offers(session: Session, user_id: str) -> list[RowMapping]:
    """The user's open offers, the one ending soonest first."""
    _require_user(session, user_id)
    return list(
        session.execute(
            select(*_OFFER_COLUMNS)
            .where(Registration.user_id == user_id, Registration.standing == OFFERED)
            .order_by(Registration.offer_expires_at, Registration.event_id)
        ).mappings()
    )


# --- approval (#23) -----------------------------------------------------------------------


def event_applications(session: Session, event_id: str) -> list[RowMapping]:
    """The event's pending applications in acceptance order (the order their registers took)."""
    require_event(session, event_id)
    return list(
        session.execute(
            select(Registration.user_id, Registration.seats, Registration.since.label("applied_at"))
            .where(Registration.event_id == event_id, Registration.standing == APPLIED)
            .order_by(Registration.place_order)
        ).mappings()
    )
