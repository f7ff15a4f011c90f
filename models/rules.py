"""The registration rules for one event's seats: pure Python over plain data, no I/O.

Commands are orders (`Register`, `Unregister`, `ChangeCapacity`, `RemoveUser`); `EventSeats`
applies them and returns an outcome in the past tense (`Registered`, `Waitlisted`, `Denied`,
`Unregistered`, `CapacityChanged`, `UserRemoved`). The rules never publish or write.

Where each rule lives: capacity (`register`, `change_capacity`), the line's order and a
position in it (`_join_line`, `position`), promotion (`_promote_head`: a freed seat goes to the
head of the line in the same step), duplicates (`register`).

`EventSeats` may be a *window* onto a large event: it must know the standing of every user
the commands name and enough of the waitlist's head for the promotions they can cause
(`promotions_needed` says how many); asking about anything else raises `StateNotLoaded`
instead of guessing.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from models.errors import CapacityBelowRegistered, InvalidCapacity, InvalidInput, StateNotLoaded


class Standing(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"


class DenialCode(enum.StrEnum):
    EVENT_FULL = "EVENT_FULL"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    ALREADY_WAITLISTED = "ALREADY_WAITLISTED"
    NOT_REGISTERED = "NOT_REGISTERED"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    EVENT_NOT_FOUND = "EVENT_NOT_FOUND"


DENIAL_MESSAGES: dict[DenialCode, str] = {
    DenialCode.EVENT_FULL: "the event is full and has no waitlist",
    DenialCode.ALREADY_REGISTERED: "the user already holds a seat at this event",
    DenialCode.ALREADY_WAITLISTED: "the user is already on this event's waitlist",
    DenialCode.NOT_REGISTERED: "the user is neither registered nor waitlisted for this event",
    DenialCode.USER_NOT_FOUND: "the user does not exist",
    DenialCode.EVENT_NOT_FOUND: "the event does not exist",
}


# --- commands ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Register:
    user_id: str


@dataclass(frozen=True)
class Unregister:
    user_id: str


@dataclass(frozen=True)
class RemoveUser:
    """The user is being deleted: they leave the event, whatever their standing."""

    user_id: str


@dataclass(frozen=True)
class ChangeCapacity:
    capacity: int


Command = Register | Unregister | RemoveUser | ChangeCapacity


# --- outcomes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    user_id: str


@dataclass(frozen=True)
class Waitlisted:
    user_id: str
    position: int


@dataclass(frozen=True)
class Denied:
    user_id: str
    code: DenialCode

    @property
    def message(self) -> str:
        return DENIAL_MESSAGES[self.code]


@dataclass(frozen=True)
class Unregistered:
    user_id: str
    left: Standing
    promoted_user_id: str | None = None


@dataclass(frozen=True)
class UserRemoved:
    user_id: str
    left: Standing | None
    promoted_user_id: str | None = None


@dataclass(frozen=True)
class CapacityChanged:
    capacity: int
    promoted_user_ids: tuple[str, ...] = ()


Outcome = Registered | Waitlisted | Denied | Unregistered | UserRemoved | CapacityChanged


def promoted_by(outcome: Outcome) -> tuple[str, ...]:
    """Who an outcome seated from the waitlist, in the order they were seated."""
    match outcome:
        case (
            Unregistered(promoted_user_id=str(user_id)) | UserRemoved(promoted_user_id=str(user_id))
        ):
            return (user_id,)
        case CapacityChanged(promoted_user_ids=user_ids):
            return user_ids
    return ()


def promotions_needed(commands: Iterable[Command], *, registered: int = 0) -> int:
    """An upper bound on how many waitlist heads the commands can promote, so that a loader
    fetches just that many: one per leave, and up to the free seats of a new capacity
    (`registered` is the event's registered count, when known)."""
    count = 0
    for command in commands:
        match command:
            case Unregister() | RemoveUser():
                count += 1
            case ChangeCapacity(capacity) if isinstance(capacity, int):
                # a capacity the rules will refuse (not an int) promotes nobody
                count += max(int(capacity) - registered, 0)
            case _:
                pass
    return count


# --- state ------------------------------------------------------------------------------


@dataclass
class Membership:
    """A user's place at the event. `order` sorts seats by when they were taken and the
    waitlist by when it was joined; it only ever grows within an event."""

    standing: Standing
    order: int


def _check_user_id(user_id: str) -> None:
    if not isinstance(user_id, str) or not user_id.strip():
        raise InvalidInput("userId", "must not be blank")


def _check_capacity(capacity: object) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise InvalidCapacity(capacity)
    return capacity


@dataclass
class EventSeats:
    """What the rules know of one event, and the rules themselves.

    `members` maps a user to their membership, or to None when known to hold none. When
    `complete` is true every user not in `members` holds none; otherwise only the users
    listed are known. `waitlist` is the head of the queue in FIFO order: all of it when its
    length equals `waitlisted_count`, else the first part. `changed` names the users whose
    membership a rule changed since the last save.
    """

    capacity: int
    waitlist_enabled: bool
    registered_count: int = 0
    waitlisted_count: int = 0
    next_order: int = 1
    members: dict[str, Membership | None] = field(default_factory=dict)
    waitlist: deque[str] = field(default_factory=deque)
    complete: bool = False
    changed: set[str] = field(default_factory=set)

    @classmethod
    def empty(cls, capacity: int, *, waitlist_enabled: bool = False) -> EventSeats:
        _check_capacity(capacity)
        return cls(capacity=capacity, waitlist_enabled=waitlist_enabled, complete=True)

    # --- queries ------------------------------------------------------------------------

    @property
    def available(self) -> int:
        return self.capacity - self.registered_count

    def membership(self, user_id: str) -> Membership | None:
        if user_id in self.members:
            return self.members[user_id]
        if self.complete:
            return None
        raise StateNotLoaded(f"the standing of user {user_id!r} was not loaded")

    def position(self, user_id: str) -> int | None:
        """1-based waitlist position of a user in the known head; None if not there."""
        for index, waiting in enumerate(self.waitlist, start=1):
            if waiting == user_id:
                return index
        return None

    # --- the rules ----------------------------------------------------------------------

    def handle(self, command: Command) -> Outcome:
        """Apply one command; the single entry point the worker and the services call."""
        match command:
            case Register(user_id):
                return self.register(user_id)
            case Unregister(user_id):
                return self.unregister(user_id)
            case RemoveUser(user_id):
                return self.remove_user(user_id)
            case ChangeCapacity(capacity):
                return self.change_capacity(capacity)
        raise InvalidInput("type", f"unknown command {command!r}")

    def register(self, user_id: str) -> Registered | Waitlisted | Denied:
        _check_user_id(user_id)
        membership = self.membership(user_id)
        if membership is not None:
            code = (
                DenialCode.ALREADY_REGISTERED
                if membership.standing is Standing.REGISTERED
                else DenialCode.ALREADY_WAITLISTED
            )
            return Denied(user_id, code)
        # Free seats with people waiting cannot happen (promotion fills them at once), so a
        # free seat always goes to the newcomer.
        if self.available > 0 and self.waitlisted_count == 0:
            self._seat(user_id)
            return Registered(user_id)
        if not self.waitlist_enabled:
            return Denied(user_id, DenialCode.EVENT_FULL)
        return Waitlisted(user_id, position=self._join_line(user_id))

    def unregister(self, user_id: str) -> Unregistered | Denied:
        _check_user_id(user_id)
        left, promoted = self._leave(user_id)
        if left is None:
            return Denied(user_id, DenialCode.NOT_REGISTERED)
        return Unregistered(user_id, left=left, promoted_user_id=promoted)

    def remove_user(self, user_id: str) -> UserRemoved:
        _check_user_id(user_id)
        left, promoted = self._leave(user_id)
        return UserRemoved(user_id, left=left, promoted_user_id=promoted)

    def change_capacity(self, capacity: int) -> CapacityChanged:
        _check_capacity(capacity)
        if capacity < self.registered_count:
            raise CapacityBelowRegistered(capacity, self.registered_count)
        self.capacity = capacity
        promoted: list[str] = []
        while self.available > 0:
            head = self._promote_head()
            if head is None:
                break
            promoted.append(head)
        return CapacityChanged(capacity, tuple(promoted))

    def set_waitlist_enabled(self, enabled: bool) -> None:
        """Turning the waitlist off keeps those already waiting; it only denies newcomers."""
        self.waitlist_enabled = enabled

    # --- the moves the rules are made of ------------------------------------------------

    def _take_order(self) -> int:
        order = self.next_order
        self.next_order += 1
        return order

    def _set(self, user_id: str, membership: Membership | None) -> None:
        self.members[user_id] = membership
        self.changed.add(user_id)

    def _seat(self, user_id: str) -> None:
        self._set(user_id, Membership(Standing.REGISTERED, self._take_order()))
        self.registered_count += 1

    def _join_line(self, user_id: str) -> int:
        """Put the user at the back of the line; returns their position."""
        self._set(user_id, Membership(Standing.WAITLISTED, self._take_order()))
        if len(self.waitlist) == self.waitlisted_count:  # the known head is the whole line
            self.waitlist.append(user_id)
        self.waitlisted_count += 1
        return self.waitlisted_count

    def _promote_head(self) -> str | None:
        """Fill one free seat from the head of the waitlist, if anyone waits."""
        if self.waitlisted_count == 0:
            return None
        if not self.waitlist:
            raise StateNotLoaded("the head of the waitlist was not loaded")
        head = self.waitlist.popleft()
        self.waitlisted_count -= 1
        self._seat(head)
        return head

    def _leave(self, user_id: str) -> tuple[Standing | None, str | None]:
        """Take the user out of the event; a freed seat goes to the waitlist's head."""
        membership = self.membership(user_id)
        if membership is None:
            return None, None
        self._set(user_id, None)
        if membership.standing is Standing.WAITLISTED:
            self.waitlisted_count -= 1
            if user_id in self.waitlist:
                self.waitlist.remove(user_id)
            return Standing.WAITLISTED, None
        self.registered_count -= 1
        return Standing.REGISTERED, self._promote_head()

    # --- the contract's guarantee 3 -----------------------------------------------------

    def invariant_violations(self) -> list[str]:
        """Guarantee 3 of the contract, checked over a complete `EventSeats`."""
        problems: list[str] = []
        seated = [u for u, m in self.members.items() if m and m.standing is Standing.REGISTERED]
        waiting = [u for u, m in self.members.items() if m and m.standing is Standing.WAITLISTED]
        if self.registered_count > self.capacity:
            problems.append(f"{self.registered_count} registered exceeds capacity {self.capacity}")
        if self.complete and len(seated) != self.registered_count:
            problems.append(f"registered count {self.registered_count} != {len(seated)} seats")
        if self.complete and len(waiting) != self.waitlisted_count:
            problems.append(f"waitlist count {self.waitlisted_count} != {len(waiting)} entries")
        if self.complete and list(self.waitlist) != sorted(
            waiting,
            key=lambda u: self.members[u].order,  # type: ignore[union-attr]
        ):
            problems.append("waitlist is not in the order it was joined")
        if self.waitlisted_count > 0 and self.available > 0:
            problems.append("people wait while seats are free")
        return problems
