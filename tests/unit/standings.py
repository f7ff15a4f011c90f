"""Where one user stands across several events: a pure oracle over `EventSeats` for the tests.

The read model answers the same questions in SQL (`models.storage.queries`); this answers them from
complete `EventSeats`, so the two can be compared. Results are sorted by event id so that the
answer does not depend on the order the events were loaded in.
"""

from __future__ import annotations

from collections.abc import Mapping

from models.domain.errors import StateNotLoaded
from models.domain.rules import EventSeats, Standing


def registrations_of(user_id: str, events: Mapping[str, EventSeats]) -> list[str]:
    """Ids of the events where the user holds a seat."""
    found: list[str] = []
    for event_id in sorted(events):
        # membership() raises StateNotLoaded for a window that does not know the user,
        # which is better than reporting "not registered" on missing information.
        membership = events[event_id].membership(user_id)
        if membership is not None and membership.standing is Standing.REGISTERED:
            found.append(event_id)
    return found


def waitlists_of(user_id: str, events: Mapping[str, EventSeats]) -> list[tuple[str, int]]:
    """(event id, 1-based waitlist position) for each event whose waitlist holds the user."""
    found: list[tuple[str, int]] = []
    for event_id in sorted(events):
        seats = events[event_id]
        membership = seats.membership(user_id)
        if membership is None or membership.standing is not Standing.WAITLISTED:
            continue
        position = seats.position(user_id)
        if position is None:
            # Known to wait, but beyond the loaded head of a window: the position is unknown.
            raise StateNotLoaded(
                f"the waitlist position of user {user_id!r} at event {event_id!r} was not loaded"
            )
        found.append((event_id, position))
    return found
