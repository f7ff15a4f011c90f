"""The synchronous changes to users and events: create, rename, change, delete.

Those that change seats (removing a user, changing an event) take the same event row lock as
the worker's apply loop, so they serialise with it, and they go through the same rules. Each
runs inside the caller's transaction (`models.db.run`); the status updates it writes are
published once that transaction commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import partial
from typing import Any

from sqlalchemy import RowMapping, delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models import event_log, ledger, ledger_store, locks, settings
from models.errors import DuplicateEvent, DuplicateUser, EventNotFound, UserNotFound
from models.queries import EVENT_COLUMNS, USER_COLUMNS
from models.rules import EventSeats, Reconfigure, RemoveUser
from models.seats import lock_seats, save_seats, user_event_ids
from models.tables import Event, User

# The event's fields an update may change; its settings (`models.settings`) go through the rules.
EVENT_FIELDS = frozenset(
    {"title", "description", "date", "location", "organizer", "status", *settings.BY_COLUMN}
)


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


def remove_user(session: Session, user_id: str, now: dt.datetime) -> list[event_log.Update]:
    """Delete a user: they leave every event first, each freed seat going to that event's
    line in the same transaction (and each departure written in that event's ledger)."""
    locks.lock_event_rows(session, user_event_ids(session, user_id))
    if not locks.lock_user_row(session, user_id):
        raise UserNotFound(user_id)
    # With the user row locked no new place can be taken for them; this list is complete.
    event_ids = user_event_ids(session, user_id)
    book = ledger_store.Appender.read(session, event_ids)
    published: list[event_log.Update] = []
    for event_id in event_ids:
        command = RemoveUser(user_id)
        seats = lock_seats(session, event_id, [user_id], [command])
        seats.now = now
        outcome = seats.remove_user(user_id)
        save_seats(session, event_id, seats, now)
        if outcome.left is not None:
            book.add(event_id, partial(ledger.removed_entry, event_id, outcome=outcome))
        published += event_log.settled(event_id, outcome)
    book.write(session)
    session.execute(delete(User).where(User.user_id == user_id))
    return event_log.append(session, published)


# --- events -----------------------------------------------------------------------------


def create_event(session: Session, fields: Mapping[str, Any]) -> RowMapping:
    """A new event, its seat settings judged by the rules (e.g. no party larger than the
    capacity), and its ledger begun with them."""
    given = _seat_settings(fields)
    seats = EventSeats.empty(given.pop("capacity"), **given)
    statement = (
        insert(Event)
        .values(**fields)
        .on_conflict_do_nothing(index_elements=[Event.event_id])
        .returning(*EVENT_COLUMNS)
    )
    row = session.execute(statement).mappings().one_or_none()
    if row is None:
        raise DuplicateEvent(str(fields["event_id"]))
    event_id = str(fields["event_id"])
    ledger_store.start(
        session, event_id, ledger.created_entry(event_id, ledger.settings_json(seats))
    )
    return row


def update_event(
    session: Session, event_id: str, changes: Mapping[str, Any], now: dt.datetime
) -> list[event_log.Update]:
    """Apply a partial update. The seat settings are judged together by the rules (a capacity
    below the seats taken or the largest party is refused and changes nothing); then the line
    is settled: a capacity raise, or a gentler policy, lets in whoever it can at once. A change
    of the seat settings is a ledger entry."""
    unknown = set(changes) - EVENT_FIELDS
    if unknown:
        raise ValueError(f"not event fields: {sorted(unknown)}")
    command = Reconfigure(**_seat_settings(changes))
    seats = lock_seats(session, event_id, [], [command])
    seats.now = now
    outcome = seats.reconfigure(command)
    save_seats(session, event_id, seats, now, touch=True)
    if outcome.changes:
        book = ledger_store.Appender.read(session, [event_id])
        book.add(event_id, partial(ledger.updated_entry, event_id, outcome=outcome))
        book.write(session)
    plain = {k: v for k, v in changes.items() if k not in settings.BY_COLUMN}
    if plain:
        session.execute(update(Event).where(Event.event_id == event_id).values(**plain))
    return event_log.append(session, event_log.settled(event_id, outcome))


def _seat_settings(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The settings among an event's fields, as the rules name and hold them."""
    return settings.rules_arguments(fields)


def delete_event(session: Session, event_id: str) -> None:
    """Delete an event; its registrations and waitlist go with it (ON DELETE CASCADE)."""
    deleted = session.execute(
        delete(Event).where(Event.event_id == event_id).returning(Event.event_id)
    ).first()
    if deleted is None:
        raise EventNotFound(event_id)
