"""The synchronous changes to users and events: create, rename, change, delete.

Those that change seats (removing a user, changing an event) take the same event row lock as
the worker's apply loop, so they serialise with it, and they go through the same rules. Each
runs inside the caller's transaction (`models.storage.db.run`); the status updates it writes are
published once that transaction commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import RowMapping, delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.domain import draw as drawing
from models.domain import ledger, passes, settings
from models.domain.errors import DuplicateEvent, DuplicateUser, EventNotFound, UserNotFound
from models.domain.rules import EventSeats, Opening, Reconfigure, RemoveUser
from models.storage import draws, event_log, ledger_store, locks
from models.storage.queries import EVENT_COLUMNS, USER_COLUMNS
from models.storage.seats import Wanted, lock_windows, save_windows, user_event_ids
from models.storage.tables import Event, User

# The event's fields an update may change; its settings (`models.domain.settings`) go through the
# rules.
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
    lines: dict[str, list[passes.Step]] = {
        e: [RemoveUser(user_id)] for e in user_event_ids(session, user_id)
    }
    decided = _decide(session, lines, now)
    session.execute(delete(User).where(User.user_id == user_id))
    return event_log.append(session, decided.updates)


def _decide(
    session: Session,
    lines: dict[str, list[passes.Step]],
    now: dt.datetime,
    *,
    touch: bool = False,
    windows: dict[str, EventSeats] | None = None,
) -> passes.Decided:
    """Load the events' windows under their row locks, run the rules over the lines
    (`models.domain.passes`), save the seats and the ledger entries: the worker's recipe."""
    heads: dict[str, ledger.Head] = {}
    wanted = {e: Wanted(*passes.commands_of(line)) for e, line in lines.items()}
    loaded = lock_windows(session, wanted, heads)
    if windows is not None:
        windows.update(loaded)
    windows = loaded
    missing = set(lines) - set(windows)
    if missing:
        raise EventNotFound(min(missing))
    decided = passes.decide(windows, lines, ledger.Chain(heads), now)
    ledger_store.write(session, decided.chain, move_heads=False)
    save_windows(session, windows, now, touch=touch, ledger_heads=decided.chain.heads)
    return decided


# --- events -----------------------------------------------------------------------------


def create_event(session: Session, fields: Mapping[str, Any]) -> RowMapping:
    """A new event, its seat settings judged by the rules (e.g. no party larger than the
    capacity), and its ledger begun with them."""
    given = _seat_settings(fields)
    seed = _new_draw(given)
    seats = EventSeats.empty(given.pop("capacity"), **given)
    statement = (
        insert(Event)
        .values(**fields, draw_commitment=seats.draw_commitment)
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
    if seed is not None:
        draws.keep_seed(session, event_id, seed)
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
    given = _seat_settings(changes)
    seed = _new_draw(given)
    command = Reconfigure(**given)
    windows: dict[str, EventSeats] = {}
    decided = _decide(session, {event_id: [command]}, now, touch=True, windows=windows)
    if seed is not None and windows[event_id].draw_commitment == drawing.commitment(seed):
        draws.keep_seed(session, event_id, seed)  # the opening became a draw: this seed
    plain = {k: v for k, v in changes.items() if k not in settings.BY_COLUMN}
    if plain:
        session.execute(update(Event).where(Event.event_id == event_id).values(**plain))
    return event_log.append(session, decided.updates)


def _new_draw(given: dict[str, Any]) -> bytes | None:
    """A seed, and its commitment among the settings, when the change asks for a draw (the
    rules take the commitment only if the opening becomes a draw; #24)."""
    if given.get("opening") is not Opening.DRAW:
        return None
    seed = draws.new_seed()
    given["draw_commitment"] = drawing.commitment(seed)
    return seed


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
