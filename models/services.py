"""Units of work that change seats outside the worker: removing a user, changing an event.

They take the same event row lock as the worker's apply loop, so they serialise with it, and
they go through the same rules. The caller owns the transaction and publishes the returned
updates after it commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from models import rules, updates
from models.errors import UserNotFound
from models.rules import EventSeats
from models.seats import lock_seats, lock_user_for_removal, save_seats, user_event_ids
from models.tables import Event, User

EVENT_FIELDS = frozenset(
    {
        "title",
        "description",
        "date",
        "location",
        "capacity",
        "organizer",
        "status",
        "waitlist_enabled",
    }
)


def remove_user(session: Session, user_id: str, now: dt.datetime) -> list[updates.Update]:
    """Delete a user: they leave every event first, each freed seat going to that event's
    waitlist head in the same transaction."""
    event_ids = lock_user_for_removal(session, user_id)
    if event_ids is None:
        raise UserNotFound(user_id)
    # With the user row locked no new place can be taken for them; pick up any taken between
    # our first look and the lock.
    event_ids = sorted(set(event_ids) | set(user_event_ids(session, user_id)))
    published: list[updates.Update] = []
    for event_id in event_ids:
        seats = lock_seats(session, event_id, [user_id], waitlist_heads=1)
        removed = rules.remove_user(seats, user_id)
        save_seats(session, event_id, seats, now)
        if removed.promoted_user_id is not None:
            published.append(updates.promoted(event_id, removed.promoted_user_id))
    session.execute(delete(User).where(User.user_id == user_id))
    return updates.append(session, published)


def update_event(
    session: Session, event_id: str, changes: Mapping[str, Any], now: dt.datetime
) -> list[updates.Update]:
    """Apply a partial update. A capacity raise promotes the waitlist FIFO at once; a capacity
    below the registered count raises CapacityBelowRegistered and changes nothing."""
    unknown = set(changes) - EVENT_FIELDS
    if unknown:
        raise ValueError(f"not event fields: {sorted(unknown)}")

    def heads_for(seats: EventSeats) -> int:
        capacity = changes.get("capacity", seats.capacity)
        return max(0, int(capacity) - seats.registered_count)

    seats = lock_seats(session, event_id, [], waitlist_heads=heads_for)
    promoted: tuple[str, ...] = ()
    if "capacity" in changes:
        promoted = rules.change_capacity(seats, changes["capacity"]).promoted_user_ids
    if "waitlist_enabled" in changes:
        # Turning the waitlist off keeps those already waiting; it only denies newcomers.
        seats.waitlist_enabled = bool(changes["waitlist_enabled"])
    save_seats(session, event_id, seats, now, touch=True)
    plain = {k: v for k, v in changes.items() if k not in {"capacity", "waitlist_enabled"}}
    if plain:
        session.execute(update(Event).where(Event.event_id == event_id).values(**plain))
    return updates.append(session, [updates.promoted(event_id, u) for u in promoted])
