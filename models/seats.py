"""Persistence of the rules: load a window of one event's seats under its row lock, write the
changes back.

This is a hot path (the worker's apply loop runs through it for every batch of tickets), so it
speaks SQLAlchemy Core: a handful of set-based statements per batch, never one per user.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Collection, Iterable

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from models import locks
from models.errors import EventNotFound
from models.rules import Command, EventSeats, Membership, Standing, promotions_needed
from models.tables import Event, Registration


def lock_seats(
    session: Session, event_id: str, user_ids: Collection[str], commands: Iterable[Command]
) -> EventSeats:
    """Lock the event row (this serialises everything that changes its seats) and load the
    window the commands need: the standing of `user_ids`, and as many of the first people
    waiting as the commands can promote (`rules.promotions_needed`)."""
    row = locks.lock_event(
        session,
        event_id,
        Event.capacity,
        Event.waitlist_enabled,
        Event.registered_count,
        Event.waitlisted_count,
        Event.next_order,
    )
    if row is None:
        raise EventNotFound(event_id)
    seats = EventSeats(
        capacity=row.capacity,
        waitlist_enabled=row.waitlist_enabled,
        registered_count=row.registered_count,
        waitlisted_count=row.waitlisted_count,
        next_order=row.next_order,
    )
    if user_ids:
        seats.members = dict.fromkeys(user_ids)
        for user_id, standing, order in session.execute(
            select(Registration.user_id, Registration.standing, Registration.place_order).where(
                Registration.event_id == event_id, Registration.user_id.in_(list(user_ids))
            )
        ):
            seats.members[user_id] = Membership(Standing(standing), order)
    heads = min(
        promotions_needed(commands, registered=seats.registered_count), seats.waitlisted_count
    )
    if heads:
        head_rows = session.execute(
            select(Registration.user_id, Registration.place_order)
            .where(
                Registration.event_id == event_id,
                Registration.standing == Standing.WAITLISTED.value,
            )
            .order_by(Registration.place_order)
            .limit(heads)
        ).all()
        seats.waitlist = deque(user_id for user_id, _ in head_rows)
        for user_id, order in head_rows:
            seats.members[user_id] = Membership(Standing.WAITLISTED, order)
    return seats


_UPSERT = text(
    """
    INSERT INTO registrations (event_id, user_id, standing, place_order, since)
    SELECT :event_id, v.user_id, v.standing, v.place_order, :now
      FROM unnest(CAST(:user_ids AS text[]), CAST(:standings AS text[]),
                  CAST(:orders AS bigint[])) AS v(user_id, standing, place_order)
    ON CONFLICT (event_id, user_id) DO UPDATE
       SET standing = excluded.standing, place_order = excluded.place_order,
           since = excluded.since
    """
)
_DELETE = text(
    "DELETE FROM registrations"
    " WHERE event_id = :event_id AND user_id = ANY(CAST(:user_ids AS text[]))"
)

_EXISTING_USERS = text(
    "SELECT user_id FROM users WHERE user_id = ANY(CAST(:user_ids AS text[])) FOR KEY SHARE"
)


def save_seats(
    session: Session, event_id: str, seats: EventSeats, now: dt.datetime, *, touch: bool = False
) -> None:
    """Write what the rules changed: memberships of `seats.changed`, the counts and the
    order counter. `touch` also moves `updated_at` (a change made through PUT)."""
    gone = [u for u in seats.changed if seats.members.get(u) is None]
    kept = [(u, m) for u in seats.changed if (m := seats.members.get(u)) is not None]
    if gone:
        session.execute(_DELETE, {"event_id": event_id, "user_ids": gone})
    if kept:
        # One statement over arrays: no per-row bind parameters to render, parse and send.
        session.execute(
            _UPSERT,
            {
                "event_id": event_id,
                "now": now,
                "user_ids": [u for u, _ in kept],
                "standings": [m.standing.value for _, m in kept],
                "orders": [m.order for _, m in kept],
            },
        )
    values: dict[str, object] = {
        "capacity": seats.capacity,
        "waitlist_enabled": seats.waitlist_enabled,
        "registered_count": seats.registered_count,
        "waitlisted_count": seats.waitlisted_count,
        "next_order": seats.next_order,
    }
    if touch:
        values["updated_at"] = now
    session.execute(update(Event).where(Event.event_id == event_id).values(**values))
    seats.changed.clear()


def existing_user_ids(session: Session, user_ids: Collection[str]) -> set[str]:
    """The users that exist, share-locked (`FOR KEY SHARE`) so that a concurrent deletion waits
    for us and we never seat a user whose row is being deleted."""
    if not user_ids:
        return set()
    rows = session.execute(_EXISTING_USERS, {"user_ids": list(user_ids)})
    return {user_id for (user_id,) in rows}


def user_event_ids(session: Session, user_id: str) -> list[str]:
    """The events where the user is seated or waiting, in event-id order."""
    return list(
        session.scalars(
            select(Registration.event_id)
            .where(Registration.user_id == user_id)
            .order_by(Registration.event_id)
        )
    )
