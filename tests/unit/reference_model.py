"""A deliberately naive model of one event's registrations, written from the HTTP contract.

It shares no code with `models.domain.rules`: two plain lists (seats in the order they were taken,
the waitlist in the order it was joined), no counters, no windows, no membership orders.
Being this simple is the point; when it and the rules disagree, the rules are the suspect.

Outcomes are plain tuples so that comparing them never depends on the rules' classes:

    ("registered", user_id)
    ("waitlisted", user_id, position)
    ("denied", user_id, code)
    ("unregistered", user_id, left, promoted_user_id | None)
    ("removed", user_id, left | None, promoted_user_id | None)
    ("capacity_changed", capacity, (promoted_user_id, ...))

Refused input raises `Rejected` with one of the reasons below, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

RefOutcome = tuple[object, ...]

BLANK_USER_ID = "blank_user_id"
INVALID_CAPACITY = "invalid_capacity"
CAPACITY_BELOW_REGISTERED = "capacity_below_registered"


class Rejected(Exception):
    """The contract refuses the input outright (the HTTP 4xx that is not a denial)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_user(user_id: object) -> str:
    if not isinstance(user_id, str) or user_id.strip() == "":
        raise Rejected(BLANK_USER_ID)
    return user_id


def _check_capacity(capacity: object) -> int:
    # bool is an int to Python but never a capacity to the contract.
    if type(capacity) is not int or capacity < 1:
        raise Rejected(INVALID_CAPACITY)
    return capacity


@dataclass
class ReferenceEvent:
    capacity: int
    waitlist_enabled: bool
    seated: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, capacity: object, *, waitlist_enabled: bool) -> ReferenceEvent:
        return cls(_check_capacity(capacity), waitlist_enabled)

    # --- queries ----------------------------------------------------------------------

    def standing_of(self, user_id: str) -> str | None:
        if user_id in self.seated:
            return "registered"
        if user_id in self.waiting:
            return "waitlisted"
        return None

    def position_of(self, user_id: str) -> int | None:
        if user_id in self.waiting:
            return self.waiting.index(user_id) + 1
        return None

    # --- commands ---------------------------------------------------------------------

    def register(self, user_id: str) -> RefOutcome:
        user_id = _check_user(user_id)
        if user_id in self.seated:
            return ("denied", user_id, "ALREADY_REGISTERED")
        if user_id in self.waiting:
            return ("denied", user_id, "ALREADY_WAITLISTED")
        if len(self.seated) < self.capacity:
            self.seated.append(user_id)
            return ("registered", user_id)
        if self.waitlist_enabled:
            self.waiting.append(user_id)
            return ("waitlisted", user_id, len(self.waiting))
        return ("denied", user_id, "EVENT_FULL")

    def unregister(self, user_id: str) -> RefOutcome:
        user_id = _check_user(user_id)
        left, promoted = self._leave(user_id)
        if left is None:
            return ("denied", user_id, "NOT_REGISTERED")
        return ("unregistered", user_id, left, promoted)

    def remove_user(self, user_id: str) -> RefOutcome:
        user_id = _check_user(user_id)
        left, promoted = self._leave(user_id)
        return ("removed", user_id, left, promoted)

    def change_capacity(self, capacity: object) -> RefOutcome:
        new_capacity = _check_capacity(capacity)
        if new_capacity < len(self.seated):
            raise Rejected(CAPACITY_BELOW_REGISTERED)
        self.capacity = new_capacity
        promoted: list[str] = []
        while len(self.seated) < self.capacity and self.waiting:
            promoted.append(self._promote())
        return ("capacity_changed", new_capacity, tuple(promoted))

    def set_waitlist_enabled(self, enabled: bool) -> None:
        # The contract keeps whoever already waits; only new joiners are affected.
        self.waitlist_enabled = enabled

    def _leave(self, user_id: str) -> tuple[str | None, str | None]:
        if user_id in self.waiting:
            self.waiting.remove(user_id)
            return "waitlisted", None
        if user_id in self.seated:
            self.seated.remove(user_id)
            promoted = self._promote() if self.waiting else None
            return "registered", promoted
        return None, None

    def _promote(self) -> str:
        head = self.waiting.pop(0)
        self.seated.append(head)
        return head


def reference_registrations(user_id: str, events: Mapping[str, ReferenceEvent]) -> list[str]:
    return sorted(event_id for event_id, event in events.items() if user_id in event.seated)


def reference_waitlists(
    user_id: str, events: Mapping[str, ReferenceEvent]
) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for event_id in sorted(events):
        position = events[event_id].position_of(user_id)
        if position is not None:
            found.append((event_id, position))
    return found
