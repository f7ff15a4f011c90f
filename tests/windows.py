"""One event's window of seats, for tests that load and save seats directly (the applier and
the services load and save many at once: `models.storage.seats.lock_windows`/`save_windows`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

from sqlalchemy.orm import Session

from models.domain.errors import EventNotFound
from models.domain.rules import Command, EventSeats
from models.storage.seats import Wanted, lock_windows, save_windows


def lock_seats(
    session: Session, event_id: str, user_ids: Collection[str], commands: Iterable[Command]
) -> EventSeats:
    """One event's window (see `lock_windows`); EventNotFound if it does not exist."""
    found = lock_windows(session, {event_id: Wanted(user_ids, list(commands))})
    if event_id not in found:
        raise EventNotFound(event_id)
    return found[event_id]


def save_seats(
    session: Session, event_id: str, seats: EventSeats, now: dt.datetime, *, touch: bool = False
) -> None:
    """One event's window (see `save_windows`)."""
    save_windows(session, {event_id: seats}, now, touch=touch)
