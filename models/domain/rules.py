"""The registration rules for one event's seats: pure Python over plain data, no I/O.

Commands are orders (`Register`, `Unregister`, `RemoveUser`, `ChangeCapacity`, `Reconfigure`);
`EventSeats` applies them and returns an outcome in the past tense (`Registered`, `Waitlisted`,
`Denied`, `Unregistered`, `UserRemoved`, `CapacityChanged`, `Reconfigured`). The rules never
publish or write.

A registration is a *party* of one or more seats, seated or waiting as a whole. Where each rule
lives: capacity (`register`, `_check_capacity_for`), the line's order and a position in it
(`_join_line`, `position`), who gets freed seats (`_settle`, run after every change: the policy
`strict` or `fill` with its bypass bound), duplicates and party size (`register`).

`EventSeats` may be a *window* onto a large event: it must know the standing of every user the
commands name and as much of the line's head as `line_needed` asks for; asking about anything
else raises `StateNotLoaded` instead of guessing.
"""

from __future__ import annotations

import copy
import datetime as dt
import enum
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from models.domain import draw as drawing
from models.domain.approval import Applied, Approve, Approved, Reject, Rejected
from models.domain.errors import (
    CapacityBelowPartySize,
    CapacityBelowRegistered,
    DrawLocked,
    InvalidCapacity,
    InvalidInput,
    StateNotLoaded,
)
from models.domain.settings import (  # the rules' vocabulary too: re-exported, importable from here
    MAX_PARTY_SEATS,
    SETTINGS,
)
from models.domain.settings import (
    UNCHANGED as UNCHANGED,  # noqa: PLC0414
)
from models.domain.settings import (
    Admission as Admission,  # noqa: PLC0414
)
from models.domain.settings import (
    Opening as Opening,  # noqa: PLC0414
)
from models.domain.settings import (
    Policy as Policy,  # noqa: PLC0414
)
from models.domain.settings import (
    Promotion as Promotion,  # noqa: PLC0414
)
from models.domain.settings import (
    Unchanged as Unchanged,  # noqa: PLC0414
)


class Standing(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    OFFERED = "offered"  # seats held for a party of the line until it accepts or the offer ends
    # --- approval (#23) ---
    APPLIED = "applied"  # waiting for an admin's decision: no seat, no place in the line
    # --- the on-sale draw (#24) ---
    PREQUEUED = "prequeued"  # waits for the draw: no seat, no place in the line


class DenialCode(enum.StrEnum):
    EVENT_FULL = "EVENT_FULL"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    ALREADY_WAITLISTED = "ALREADY_WAITLISTED"
    NOT_REGISTERED = "NOT_REGISTERED"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    EVENT_NOT_FOUND = "EVENT_NOT_FOUND"
    PARTY_TOO_LARGE = "PARTY_TOO_LARGE"
    REGISTRATION_NOT_OPEN = "REGISTRATION_NOT_OPEN"
    REGISTRATION_CLOSED = "REGISTRATION_CLOSED"
    UNREGISTER_CLOSED = "UNREGISTER_CLOSED"
    NO_OPEN_OFFER = "NO_OPEN_OFFER"
    # --- approval (#23) ---
    ALREADY_APPLIED = "ALREADY_APPLIED"
    NO_APPLICATION = "NO_APPLICATION"
    # --- the on-sale draw (#24) ---
    ALREADY_PREQUEUED = "ALREADY_PREQUEUED"


DENIAL_MESSAGES: dict[DenialCode, str] = {
    DenialCode.EVENT_FULL: "the event is full and has no waitlist",
    DenialCode.ALREADY_REGISTERED: "the user already holds a seat at this event",
    DenialCode.ALREADY_WAITLISTED: "the user is already on this event's waitlist",
    DenialCode.NOT_REGISTERED: "the user is neither registered nor waitlisted for this event",
    DenialCode.USER_NOT_FOUND: "the user does not exist",
    DenialCode.EVENT_NOT_FOUND: "the event does not exist",
    DenialCode.PARTY_TOO_LARGE: "the party has more seats than this event allows one registration",
    DenialCode.REGISTRATION_NOT_OPEN: "registration had not opened when the command was accepted",
    DenialCode.REGISTRATION_CLOSED: "registration had closed when the command was accepted",
    DenialCode.UNREGISTER_CLOSED: "unregistering had closed when the command was accepted",
    DenialCode.NO_OPEN_OFFER: "the user had no open offer for this event when it was accepted",
    # --- approval (#23) ---
    DenialCode.ALREADY_APPLIED: "the user has already applied to this event",
    DenialCode.NO_APPLICATION: "the user has no pending application for this event",
    DenialCode.ALREADY_PREQUEUED: "the user is already in this event's pre-queue for the draw",
}

# --- commands ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Register:
    user_id: str
    seats: int = 1
    accepted_at: dt.datetime | None = None  # the ticket's acceptance time: windows decide by it


@dataclass(frozen=True)
class Unregister:
    user_id: str
    accepted_at: dt.datetime | None = None


@dataclass(frozen=True)
class AcceptOffer:
    user_id: str
    accepted_at: dt.datetime | None = None  # accepted strictly before the offer's expiry: wins


@dataclass(frozen=True)
class DeclineOffer:
    user_id: str


@dataclass(frozen=True)
class ExpireOffers:
    """The offers that ran out by `until` end, in the order they expired."""

    until: dt.datetime


@dataclass(frozen=True)
class RemoveUser:
    """The user is being deleted: they leave the event, whatever their standing."""

    user_id: str


@dataclass(frozen=True)
class ChangeCapacity:
    capacity: int


@dataclass(frozen=True)
class Reconfigure:
    """An event update: the settings given change (None: unchanged), judged together."""

    capacity: int | None = None
    waitlist_enabled: bool | None = None
    max_party_size: int | None = None
    policy: Policy | None = None
    bypass_limit: int | None = None
    promotion: Promotion | None = None
    offer_ttl_seconds: int | None = None
    registration_opens_at: dt.datetime | Unchanged | None = UNCHANGED
    registration_closes_at: dt.datetime | Unchanged | None = UNCHANGED
    unregister_closes_at: dt.datetime | Unchanged | None = UNCHANGED
    admission: Admission | None = None
    # --- the on-sale draw (#24); `draw_commitment` is the server's, given when a draw begins
    opening: Opening | None = None
    prequeue_opens_at: dt.datetime | Unchanged | None = UNCHANGED
    draw_commitment: str | Unchanged | None = UNCHANGED
    drawn_at: dt.datetime | Unchanged | None = UNCHANGED


# --- the on-sale draw (#24) ---
@dataclass(frozen=True)
class Draw:
    """Draw the pre-queue if the draw is due by `until` (its seed: `EventSeats.draw_seed`)."""

    until: dt.datetime


Command = (
    Register
    | Unregister
    | RemoveUser
    | ChangeCapacity
    | Reconfigure
    | AcceptOffer
    | DeclineOffer
    | ExpireOffers
    | Approve
    | Reject
    | Draw
)


# --- outcomes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    user_id: str
    seats: int = 1


@dataclass(frozen=True)
class Waitlisted:
    user_id: str
    position: int
    seats: int = 1


@dataclass(frozen=True)
class Denied:
    user_id: str
    code: DenialCode

    @property
    def message(self) -> str:
        return DENIAL_MESSAGES[self.code]


@dataclass(frozen=True)
class Offer:
    """Seats held for a party of the line until `expires_at`."""

    user_id: str
    seats: int
    expires_at: dt.datetime


@dataclass(frozen=True)
class Unregistered:
    user_id: str
    left: Standing
    promoted_user_ids: tuple[str, ...] = ()
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True)
class UserRemoved:
    user_id: str
    left: Standing | None
    promoted_user_ids: tuple[str, ...] = ()
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True)
class CapacityChanged:
    capacity: int
    promoted_user_ids: tuple[str, ...] = ()
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True)
class Reconfigured:
    changes: tuple[tuple[str, object, object], ...]  # (setting, from, to), in a fixed order
    promoted_user_ids: tuple[str, ...] = ()
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True)
class OfferAccepted:
    user_id: str
    seats: int


@dataclass(frozen=True)
class OfferDeclined:
    user_id: str
    promoted_user_ids: tuple[str, ...] = ()
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True)
class OfferExpired:
    user_id: str
    seats: int
    expired_at: dt.datetime
    promoted_user_ids: tuple[str, ...] = ()
    offers: tuple[Offer, ...] = ()


# --- the on-sale draw (#24) ---
@dataclass(frozen=True)
class Prequeued:
    user_id: str
    seats: int = 1


@dataclass(frozen=True)
class DrawnParty:
    """One pre-queued party as the draw registered it: its key, and how it came out."""

    user_id: str
    seats: int
    key: str
    status: str  # registered, waitlisted or denied
    position: int | None


@dataclass(frozen=True)
class Drawn:
    seed: str  # hex: revealed by the draw
    closing_hash: str
    drawn: tuple[DrawnParty, ...]
    promoted_user_ids: tuple[str, ...] = ()
    offers: tuple[Offer, ...] = ()


Settles = (
    Unregistered
    | UserRemoved
    | CapacityChanged
    | Reconfigured
    | OfferDeclined
    | OfferExpired
    | Approved
    | Drawn
)
Outcome = (
    Registered | Waitlisted | Denied | OfferAccepted | Settles | Applied | Rejected | Prequeued
)


def promoted_by(outcome: Outcome) -> tuple[str, ...]:
    """Who an outcome's settling seated from the line, in the order they were seated."""
    if isinstance(outcome, Settles):
        return outcome.promoted_user_ids
    return ()


def offers_by(outcome: Outcome) -> tuple[Offer, ...]:
    """The offers an outcome's settling made, in the order made."""
    if isinstance(outcome, Settles):
        return outcome.offers
    return ()


# --- state ------------------------------------------------------------------------------


@dataclass
class Membership:
    """A party's place at the event. `order` sorts seats by when they were taken and the line
    by when it was joined; it only ever grows within an event. `passovers` counts the later
    parties seated while this one kept waiting."""

    standing: Standing
    order: int
    seats: int = 1
    passovers: int = 0
    expires_at: dt.datetime | None = None  # an offer's end


def _check_user_id(user_id: str) -> None:
    if not isinstance(user_id, str) or not user_id.strip():
        raise InvalidInput("userId", "must not be blank")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_capacity(capacity: object) -> int:
    if not _is_int(capacity) or capacity < 1:  # type: ignore[operator]
        raise InvalidCapacity(capacity)
    return capacity  # type: ignore[return-value]


def _check_range(field_name: str, value: object, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:  # type: ignore[operator]
        raise InvalidInput(field_name, f"must be an integer from {low} to {high}")
    return value  # type: ignore[return-value]


@dataclass
class EventSeats:
    """What the rules know of one event, and the rules themselves.

    `members` maps a user to their party's membership, or to None when known to hold none. When
    `complete` is true every user not in `members` holds none; otherwise only the users listed
    are known. `waitlist` is the head of the line (user ids) in order: all of it when its length
    equals `waitlisted_count`, else the first part. Counts are of parties (`registered_count`,
    `waitlisted_count`, `offered_count`) and of seats (`registered_seats`, `waitlist_seats`,
    `offered_seats`). `now` is the clock offers are made by (the applying transaction's). `changed`
    names the users whose membership a rule changed since the last save.
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
    registered_seats: int = -1  # -1: as many as registered parties (one seat each)
    waitlist_seats: int = -1
    max_party_size: int = 1
    policy: Policy = Policy.STRICT
    bypass_limit: int = 3
    promotion: Promotion = Promotion.AUTOMATIC
    offer_ttl_seconds: int = 3600
    offered_count: int = 0
    offered_seats: int = 0
    registration_opens_at: dt.datetime | None = None
    registration_closes_at: dt.datetime | None = None
    unregister_closes_at: dt.datetime | None = None
    now: dt.datetime | None = None
    # --- approval (#23) ---
    admission: Admission = Admission.OPEN
    applied_count: int = 0  # pending applications (they hold no seats)
    # --- the on-sale draw (#24) ---
    opening: Opening = Opening.FIFO
    prequeue_opens_at: dt.datetime | None = None
    draw_commitment: str | None = None
    drawn_at: dt.datetime | None = None
    prequeued_count: int = 0
    prequeued_seats: int = 0
    # The seed, loaded by the applier only when the draw is due; never shown (not even in a repr).
    draw_seed: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.registered_seats < 0:
            self.registered_seats = self.registered_count
        if self.waitlist_seats < 0:
            self.waitlist_seats = self.waitlisted_count

    @classmethod
    def empty(cls, capacity: int, **settings: Any) -> EventSeats:
        """A new event with no one in it; its settings (`models.domain.settings`, by their `attr`,
        the rest at their defaults) judged as an event update's are."""
        unknown = set(settings) - {s.attr for s in SETTINGS}
        if unknown:
            raise TypeError(f"not event settings: {sorted(unknown)}")
        # The capacity is set first so a party size above it is named as the fault.
        seats = cls(capacity=_check_capacity(capacity), waitlist_enabled=False, complete=True)
        defaults: dict[str, Any] = {s.attr: s.default for s in SETTINGS if s.attr != "capacity"}
        seats._apply_settings(Reconfigure(**(defaults | settings)))
        return seats

    # --- queries ------------------------------------------------------------------------

    @property
    def available(self) -> int:
        return self.capacity - self.registered_seats - self.offered_seats

    @property
    def line_loaded(self) -> bool:
        return len(self.waitlist) == self.waitlisted_count

    @property
    def _bypass_bound(self) -> int:
        """How many times a waiting party may be passed over: none at all under `strict`."""
        return 0 if self.policy is Policy.STRICT else self.bypass_limit

    def membership(self, user_id: str) -> Membership | None:
        if user_id in self.members:
            return self.members[user_id]
        if self.complete:
            return None
        raise StateNotLoaded(f"the standing of user {user_id!r} was not loaded")

    def position(self, user_id: str) -> int | None:
        """1-based line position of a user in the known head; None if not there."""
        for index, waiting in enumerate(self.waitlist, start=1):
            if waiting == user_id:
                return index
        return None

    def draw_due(self) -> dt.datetime | None:
        """When the pre-queue must be drawn: the opening, while a draw is pending."""
        if self.opening is not Opening.DRAW or self.drawn_at is not None:
            return None
        return self.registration_opens_at

    def _prequeue_open(self, accepted_at: dt.datetime) -> bool:
        """Whether a register accepted then joins the pre-queue."""
        opens, prequeue = self.draw_due(), self.prequeue_opens_at
        return opens is not None and prequeue is not None and prequeue <= accepted_at < opens

    def open_offers(self) -> list[tuple[str, Membership]]:
        """The known open offers, in the order made."""
        offered = [
            (u, m)
            for u, m in self.members.items()
            if m is not None and m.standing is Standing.OFFERED
        ]
        return sorted(offered, key=lambda pair: pair[1].order)

    def line_needed(self, commands: Iterable[Command]) -> int:  # noqa: PLR0912 - a case each
        """How much of the line's head the commands can need, for a loader that has read the
        event's counts, the named users' memberships and the offers due to expire: nothing
        while no seat can be free, the whole line under `fill`, else one party per seat that
        can free up (each takes one at least), one more to see who blocks, and one per waiting
        party that may leave."""
        if self.waitlisted_count == 0:
            return 0
        capacity, fill = self.capacity, self.policy is Policy.FILL
        freed = leaving_waiting = 0
        for command in commands:
            match command:
                case Unregister(user_id) | RemoveUser(user_id) | DeclineOffer(user_id):
                    membership = self.members.get(user_id)
                    if membership is None or membership.standing is Standing.APPLIED:
                        continue  # an applicant frees nothing and leaves no gap in the line
                    if membership.standing is Standing.WAITLISTED:
                        leaving_waiting += 1
                    else:
                        freed += membership.seats
                case ExpireOffers(until):
                    freed += sum(m.seats for _, m in self.open_offers() if _is_due(m, until))
                case ChangeCapacity(new) if _is_int(new):
                    capacity = max(capacity, new)
                case Reconfigure(capacity=int(new)) if _is_int(new):
                    capacity = max(capacity, new)
                    fill = fill or command.policy is Policy.FILL
                case Reconfigure(policy=new_policy):
                    fill = fill or new_policy is Policy.FILL
                case Approve():
                    # where the applicant's place falls in the line, and its position: all of it
                    return self.waitlisted_count
                case Draw(until):
                    due = self.draw_due()
                    if due is not None and due <= until:  # fill's rule: all of the line
                        return self.waitlisted_count
                case _:
                    pass
        most_available = capacity - self.registered_seats - self.offered_seats + freed
        if most_available <= 0:
            return 0
        if fill:
            return self.waitlisted_count
        return min(self.waitlisted_count, most_available + 1 + leaving_waiting)

    # --- the rules ----------------------------------------------------------------------

    def handle(self, command: Command) -> Outcome:  # noqa: PLR0911 - one per command
        """Apply one command (for `ExpireOffers`, use `expire_offers`: it may end several)."""
        match command:
            case Register(user_id, seats, accepted_at):
                return self.register(user_id, seats, accepted_at)
            case Unregister(user_id, accepted_at):
                return self.unregister(user_id, accepted_at)
            case RemoveUser(user_id):
                return self.remove_user(user_id)
            case ChangeCapacity(capacity):
                return self.change_capacity(capacity)
            case Reconfigure():
                return self.reconfigure(command)
            case AcceptOffer(user_id, accepted_at):
                return self.accept_offer(user_id, accepted_at)
            case DeclineOffer(user_id):
                return self.decline_offer(user_id)
            case Approve(user_id):
                return self.approve(user_id)
            case Reject(user_id):
                return self.reject(user_id)
        raise InvalidInput("type", f"unknown command {command!r}")

    def register(  # noqa: PLR0911 - each denial in the contract's order
        self, user_id: str, seats: int = 1, accepted_at: dt.datetime | None = None
    ) -> Registered | Waitlisted | Denied | Applied | Prequeued:
        _check_user_id(user_id)
        _check_range("seats", seats, 1, MAX_PARTY_SEATS)
        prequeue = accepted_at is not None and self._prequeue_open(accepted_at)
        if accepted_at is not None:
            if (
                self.registration_opens_at
                and accepted_at < self.registration_opens_at
                and not prequeue
            ):
                return Denied(user_id, DenialCode.REGISTRATION_NOT_OPEN)
            if self.registration_closes_at and accepted_at >= self.registration_closes_at:
                return Denied(user_id, DenialCode.REGISTRATION_CLOSED)
        membership = self.membership(user_id)
        if membership is not None:
            return Denied(user_id, _ALREADY[membership.standing])
        if seats > self.max_party_size:
            return Denied(user_id, DenialCode.PARTY_TOO_LARGE)
        if prequeue:
            self._set(user_id, Membership(Standing.PREQUEUED, self._take_order(), seats))
            self.prequeued_count += 1
            self.prequeued_seats += seats
            return Prequeued(user_id, seats)
        if self.admission is Admission.APPROVAL:
            return self.apply_for(user_id, seats)
        # The line is settled, so no waiting party fits now: the newcomer, considered last,
        # is seated (never offered) if it fits and nobody waiting bars the way (under `strict`,
        # anybody waiting).
        if seats <= self.available and not self._line_bars_newcomers():
            self._pass_over_everyone_waiting()
            self._seat(user_id, seats)
            return Registered(user_id, seats)
        if not self.waitlist_enabled:
            return Denied(user_id, DenialCode.EVENT_FULL)
        return Waitlisted(user_id, position=self._join_line(user_id, seats), seats=seats)

    def unregister(
        self, user_id: str, accepted_at: dt.datetime | None = None
    ) -> Unregistered | Denied:
        _check_user_id(user_id)
        membership = self.membership(user_id)
        if membership is None:
            return Denied(user_id, DenialCode.NOT_REGISTERED)
        closes = self.unregister_closes_at
        if (
            membership.standing is Standing.REGISTERED
            and closes is not None
            and accepted_at is not None
            and accepted_at >= closes
        ):
            return Denied(user_id, DenialCode.UNREGISTER_CLOSED)
        left = self._leave(user_id)
        assert left is not None
        if left is Standing.APPLIED:  # a withdrawal: nothing was held, nothing to settle
            return Unregistered(user_id, left)
        promoted, offers = self._settle()
        return Unregistered(user_id, left, promoted, offers)

    def remove_user(self, user_id: str) -> UserRemoved:
        _check_user_id(user_id)
        left = self._leave(user_id)
        if left is None or left is Standing.APPLIED:
            return UserRemoved(user_id, left=left)
        promoted, offers = self._settle()
        return UserRemoved(user_id, left, promoted, offers)

    def accept_offer(
        self, user_id: str, accepted_at: dt.datetime | None = None
    ) -> OfferAccepted | Denied:
        """The offered party takes its seats, in seat order now; an accept accepted at or
        after the offer's end finds no open offer."""
        _check_user_id(user_id)
        membership = self.membership(user_id)
        if (
            membership is None
            or membership.standing is not Standing.OFFERED
            or (accepted_at is not None and not _is_before_end(accepted_at, membership))
        ):
            return Denied(user_id, DenialCode.NO_OPEN_OFFER)
        self._leave(user_id)
        self._seat(user_id, membership.seats)
        return OfferAccepted(user_id, membership.seats)

    def decline_offer(self, user_id: str) -> OfferDeclined | Denied:
        _check_user_id(user_id)
        membership = self.membership(user_id)
        if membership is None or membership.standing is not Standing.OFFERED:
            return Denied(user_id, DenialCode.NO_OPEN_OFFER)
        self._leave(user_id)
        promoted, offers = self._settle()
        return OfferDeclined(user_id, promoted, offers)

    def expire_offers(self, until: dt.datetime) -> list[OfferExpired]:
        """End every known offer that ran out by `until`, earliest first (ties in the order
        made), settling after each (so the seats of one may become the next offer). The
        loader must have loaded every offer due by then."""
        ended: list[OfferExpired] = []
        if self.offered_count == 0:  # the common case: nothing to look through
            return ended
        while due := [
            (m.expires_at, m.order, u) for u, m in self.open_offers() if _is_due(m, until)
        ]:
            ended.append(self.expire_offer(min(due)[2]))
        return ended

    def expire_offer(self, user_id: str) -> OfferExpired:
        """End one open offer at its expiry and settle the line (a ledger replays expiries one
        entry at a time with this)."""
        membership = self.membership(user_id)
        if membership is None or membership.standing is not Standing.OFFERED:
            raise InvalidInput("userId", f"{user_id!r} holds no open offer")
        assert membership.expires_at is not None
        self._leave(user_id)
        promoted, offers = self._settle()
        return OfferExpired(user_id, membership.seats, membership.expires_at, promoted, offers)

    def next_expiry(self) -> dt.datetime | None:
        """When the earliest known offer runs out."""
        if self.offered_count == 0:
            return None
        ends = [m.expires_at for _, m in self.open_offers() if m.expires_at is not None]
        return min(ends) if ends else None

    # --- the on-sale draw (#24) ---

    def draw(self, closing_hash: str) -> Drawn:
        """Register every pre-queued party in drawn order (`models.domain.draw`: ascending key
        of seed, closing hash and user id), each as a register accepted at the opening."""
        opens = self.draw_due()
        if opens is None:
            raise InvalidInput("opening", "no draw is pending for this event")
        seed = self.draw_seed
        if seed is None:
            raise StateNotLoaded("the draw's seed was not loaded")
        if drawing.commitment(seed) != self.draw_commitment:
            raise InvalidInput("seed", "the seed does not match the event's draw commitment")
        prequeued = {
            u: m.seats
            for u, m in self.members.items()
            if m is not None and m.standing is Standing.PREQUEUED
        }
        if len(prequeued) != self.prequeued_count:
            raise StateNotLoaded("the whole pre-queue was needed but not loaded")
        drawn: list[DrawnParty] = []
        for key, user_id in drawing.order(seed, closing_hash, prequeued):
            self._leave(user_id)
            outcome = self.register(user_id, prequeued[user_id], opens)
            position = outcome.position if isinstance(outcome, Waitlisted) else None
            status = (
                "registered"
                if isinstance(outcome, Registered)
                else "waitlisted"
                if isinstance(outcome, Waitlisted)
                else "denied"
            )
            drawn.append(DrawnParty(user_id, prequeued[user_id], key, status, position))
        self.drawn_at = self.now or opens
        return Drawn(seed.hex(), closing_hash, tuple(drawn))

    def change_capacity(self, capacity: int) -> CapacityChanged:
        _check_capacity(capacity)
        self._check_capacity_for(capacity, self.max_party_size, capacity_changed=True)
        self.capacity = capacity
        promoted, offers = self._settle()
        return CapacityChanged(capacity, promoted, offers)

    def reconfigure(self, change: Reconfigure) -> Reconfigured:
        """An event update, judged on its new values together; a refusal changes nothing."""
        before = self._settings()
        self._apply_settings(change)
        after = self._settings()
        changes = tuple(
            (name, before[name], after[name]) for name in before if before[name] != after[name]
        )
        promoted, offers = self._settle()
        return Reconfigured(changes, promoted, offers)

    def set_waitlist_enabled(self, enabled: bool) -> None:
        """Turning the waitlist off keeps those already waiting; it only denies newcomers."""
        self.waitlist_enabled = enabled

    # --- approval (#23) ------------------------------------------------------------------

    def apply_for(self, user_id: str, seats: int) -> Applied:
        """A register under approval that passed every denial: the party takes its order now
        (its place in acceptance order) but no seat and no place in the line."""
        self._set(user_id, Membership(Standing.APPLIED, self._take_order(), seats))
        self.applied_count += 1
        return Applied(user_id, seats)

    def approve(self, user_id: str) -> Approved | Denied:
        """The applicant joins the line at the place its acceptance gave it (ahead of every
        party that joined after it), then the line is settled. Being let in, it is seated at
        once, as a newcomer would be (never offered); seats already given are never taken
        back. Denied (nothing changes, the application stays pending): no application; its
        party above the event's largest party now; it would wait and the waitlist is off."""
        _check_user_id(user_id)
        membership = self.membership(user_id)
        if membership is None or membership.standing is not Standing.APPLIED:
            return Denied(user_id, DenialCode.NO_APPLICATION)
        if membership.seats > self.max_party_size:
            return Denied(user_id, DenialCode.PARTY_TOO_LARGE)
        earlier = self._waiting_before(membership.order)
        if membership.seats <= self.available and not any(
            self._waiting(u).passovers >= self._bypass_bound for u in earlier
        ):
            # The settled line has no earlier party that fits, so settling would let this
            # one in: every earlier waiting party is passed over once (none, under `strict`).
            self._leave(user_id)
            for passed in earlier:
                self._waiting(passed).passovers += 1
                self.changed.add(passed)
            self._seat(user_id, membership.seats)
            promoted, offers = self._settle()
            return Approved(user_id, membership.seats, None, promoted, offers)
        if not self.waitlist_enabled:
            return Denied(user_id, DenialCode.EVENT_FULL)
        self._leave(user_id)
        position = self._join_line_at(user_id, membership.seats, membership.order)
        promoted, offers = self._settle()
        return Approved(user_id, membership.seats, position, promoted, offers)

    def reject(self, user_id: str) -> Rejected | Denied:
        _check_user_id(user_id)
        membership = self.membership(user_id)
        if membership is None or membership.standing is not Standing.APPLIED:
            return Denied(user_id, DenialCode.NO_APPLICATION)
        self._leave(user_id)
        return Rejected(user_id, membership.seats)

    def _waiting_before(self, order: int) -> list[str]:
        """The waiting parties that joined the line before `order` (the whole line needed)."""
        if not self.line_loaded:
            raise StateNotLoaded("the line was not loaded")
        return [u for u in self.waitlist if self._waiting(u).order < order]

    def _join_line_at(self, user_id: str, seats: int, order: int) -> int:
        """Put the party into the line where `order` sorts it; returns its position."""
        position = len(self._waiting_before(order)) + 1
        self._set(user_id, Membership(Standing.WAITLISTED, order, seats))
        self.waitlist.insert(position - 1, user_id)
        self.waitlisted_count += 1
        self.waitlist_seats += seats
        return position

    # --- the moves the rules are made of ------------------------------------------------

    def _settings(self) -> dict[str, object]:
        """The `event_created` settings by JSON name, as plain values (`models.domain.settings`)."""
        return {s.json: s.plain(getattr(self, s.attr)) for s in SETTINGS if s.in_ledger}

    def _apply_settings(self, change: Reconfigure) -> None:
        """Judge every new value first (a refusal changes nothing), then set them."""
        new = {
            s.attr: getattr(self, s.attr) if given is s.unchanged else s.judge(given)
            for s in SETTINGS
            for given in (getattr(change, s.attr),)
        }
        opens, closes = new["registration_opens_at"], new["registration_closes_at"]
        if opens is not None and closes is not None and opens >= closes:  # type: ignore[operator]
            raise InvalidInput("registrationOpensAt", "must be before registrationClosesAt")
        self._judge_draw(change, new)
        self._check_capacity_for(
            new["capacity"],  # type: ignore[arg-type]
            new["max_party_size"],  # type: ignore[arg-type]
            capacity_changed=change.capacity is not None,
        )
        for attr, value in new.items():
            setattr(self, attr, value)

    def _judge_draw(self, change: Reconfigure, new: dict[str, object]) -> None:
        """The draw's rules between settings: its times, its lock once the pre-queue opened, and
        a new commitment (the server's, in `change`) whenever `opening` becomes `draw`."""
        locked = (
            self.draw_due() is not None
            and self.prequeue_opens_at is not None
            and self.now is not None
            and self.now >= self.prequeue_opens_at
        )
        timing = ("opening", "prequeue_opens_at", "registration_opens_at")
        if locked and any(new[name] != getattr(self, name) for name in timing):
            raise DrawLocked(self.prequeue_opens_at)
        becomes_draw = new["opening"] is Opening.DRAW and self.opening is not Opening.DRAW
        if becomes_draw:
            if not drawing.is_digest(change.draw_commitment):
                raise InvalidInput("drawCommitment", "a draw needs the server's commitment")
            new["drawn_at"] = None
        else:  # only the server, beginning a draw, sets a commitment
            new["draw_commitment"] = self.draw_commitment
        if new["opening"] is Opening.DRAW and new["drawn_at"] is None:
            prequeue, opens = new["prequeue_opens_at"], new["registration_opens_at"]
            if prequeue is None or opens is None:
                raise InvalidInput(
                    "prequeueOpensAt",
                    "a draw needs both prequeueOpensAt and registrationOpensAt",
                )
            if prequeue >= opens:  # type: ignore[operator]
                raise InvalidInput("prequeueOpensAt", "must be before registrationOpensAt")

    def _check_capacity_for(self, capacity: int, max_party: int, *, capacity_changed: bool) -> None:
        taken = self.registered_seats + self.offered_seats
        if capacity < taken:
            raise CapacityBelowRegistered(capacity, taken)
        if max_party > capacity:
            if capacity_changed:
                raise CapacityBelowPartySize(capacity, max_party)
            raise InvalidInput("maxPartySize", f"must not exceed the capacity ({capacity})")

    def _take_order(self) -> int:
        order = self.next_order
        self.next_order += 1
        return order

    def _set(self, user_id: str, membership: Membership | None) -> None:
        self.members[user_id] = membership
        self.changed.add(user_id)

    def _seat(self, user_id: str, seats: int) -> None:
        self._set(user_id, Membership(Standing.REGISTERED, self._take_order(), seats))
        self.registered_count += 1
        self.registered_seats += seats

    def _offer(self, user_id: str, seats: int) -> Offer:
        if self.now is None:
            raise StateNotLoaded("the clock offers are made by was not given")
        expires_at = self.now + dt.timedelta(seconds=self.offer_ttl_seconds)
        self._set(
            user_id,
            Membership(Standing.OFFERED, self._take_order(), seats, expires_at=expires_at),
        )
        self.offered_count += 1
        self.offered_seats += seats
        return Offer(user_id, seats, expires_at)

    def _join_line(self, user_id: str, seats: int) -> int:
        """Put the party at the back of the line; returns its position."""
        self._set(user_id, Membership(Standing.WAITLISTED, self._take_order(), seats))
        if self.line_loaded:  # the known head is the whole line
            self.waitlist.append(user_id)
        self.waitlisted_count += 1
        self.waitlist_seats += seats
        return self.waitlisted_count

    def _waiting(self, user_id: str) -> Membership:
        membership = self.members.get(user_id)
        if membership is None:
            raise StateNotLoaded(f"the line entry of {user_id!r} was not loaded")
        return membership

    def _line_bars_newcomers(self) -> bool:
        """Whether some waiting party was passed over as often as the policy allows (under
        `strict`, whether anybody waits at all)."""
        if self.waitlisted_count == 0:
            return False
        bound = self._bypass_bound
        if bound == 0:
            return True
        if not self.line_loaded:
            raise StateNotLoaded("the line was not loaded")
        return any(self._waiting(u).passovers >= bound for u in self.waitlist)

    def _pass_over_everyone_waiting(self) -> None:
        """A newcomer is about to be seated ahead of every waiting party."""
        if self.waitlisted_count == 0:
            return
        if not self.line_loaded:
            raise StateNotLoaded("the line was not loaded")
        for user_id in self.waitlist:
            self._waiting(user_id).passovers += 1
            self.changed.add(user_id)

    def _leave(self, user_id: str) -> Standing | None:
        """Take the user's party out of the event (settling is the caller's next step)."""
        membership = self.membership(user_id)
        if membership is None:
            return None
        self._set(user_id, None)
        if membership.standing is Standing.WAITLISTED:
            self.waitlisted_count -= 1
            self.waitlist_seats -= membership.seats
            if user_id in self.waitlist:
                self.waitlist.remove(user_id)
        elif membership.standing is Standing.OFFERED:
            self.offered_count -= 1
            self.offered_seats -= membership.seats
        elif membership.standing is Standing.APPLIED:
            self.applied_count -= 1
        elif membership.standing is Standing.PREQUEUED:
            self.prequeued_count -= 1
            self.prequeued_seats -= membership.seats
        else:
            self.registered_count -= 1
            self.registered_seats -= membership.seats
        return membership.standing

    def _settle(self) -> tuple[tuple[str, ...], tuple[Offer, ...]]:
        """Let in the waiting parties the policy allows, in line order: seat them, or (under
        `promotion: offer`) offer them the seats. A party that fits is let in unless an earlier
        one still waiting has been passed over the bound's number of times (so under `strict`,
        unless any earlier one waits); each one let in counts one pass-over for every earlier
        party that keeps waiting. Returns who was seated and the offers made, in order."""
        seated: list[str] = []
        offers: list[Offer] = []
        passed: list[str] = []  # earlier parties that keep waiting, in line order
        bound = self._bypass_bound
        index = 0
        while self.available > 0 and index < self.waitlisted_count:
            if index >= len(self.waitlist):
                raise StateNotLoaded("more of the line was needed than was loaded")
            user_id = self.waitlist[index]
            membership = self._waiting(user_id)
            if membership.seats > self.available:
                passed.append(user_id)
                if membership.passovers >= bound:
                    break  # nobody behind it may be let in
                index += 1
                continue
            self._leave(user_id)
            if self.promotion is Promotion.OFFER:
                offers.append(self._offer(user_id, membership.seats))
            else:
                self._seat(user_id, membership.seats)
                seated.append(user_id)
            for earlier in passed:
                self._waiting(earlier).passovers += 1
                self.changed.add(earlier)
            if any(self._waiting(u).passovers >= bound for u in passed):
                break
        return tuple(seated), tuple(offers)

    # --- the contract's guarantee 3 -----------------------------------------------------

    def settled_by_now(self) -> tuple[str, ...]:
        """Whom settling would let in now, on a copy (nobody, when the line is settled)."""
        trial = copy.deepcopy(self)
        if trial.now is None:
            trial.now = dt.datetime.now(dt.UTC)  # an offer's end does not matter to the check
        promoted, offers = trial._settle()
        return promoted + tuple(offer.user_id for offer in offers)

    def invariant_violations(self) -> list[str]:
        """Guarantee 3 of the contract (v2: in seats, offers held, the line settled), checked
        over a complete `EventSeats`."""
        problems: list[str] = []
        parties = [(u, m) for u, m in self.members.items() if m is not None]
        by_standing = {
            standing: [(u, m) for u, m in parties if m.standing is standing]
            for standing in Standing
        }
        taken = self.registered_seats + self.offered_seats
        if taken > self.capacity:
            problems.append(f"{taken} seats taken or offered exceed capacity {self.capacity}")
        if self.complete:
            counters = {
                Standing.REGISTERED: (self.registered_count, self.registered_seats),
                Standing.WAITLISTED: (self.waitlisted_count, self.waitlist_seats),
                Standing.OFFERED: (self.offered_count, self.offered_seats),
                Standing.PREQUEUED: (self.prequeued_count, self.prequeued_seats),
            }
            for standing, (count, seats) in counters.items():
                found = by_standing[standing]
                if (len(found), sum(m.seats for _, m in found)) != (count, seats):
                    problems.append(
                        f"{standing.value}: counters say {count} parties / {seats} seats,"
                        f" members say {len(found)} / {sum(m.seats for _, m in found)}"
                    )
            if len(by_standing[Standing.APPLIED]) != self.applied_count:
                problems.append(
                    f"applied: counter says {self.applied_count} applications,"
                    f" members say {len(by_standing[Standing.APPLIED])}"
                )
            waiting = by_standing[Standing.WAITLISTED]
            in_order = [u for u, m in sorted(waiting, key=lambda pair: pair[1].order)]
            if list(self.waitlist) != in_order:
                problems.append("waitlist is not in the order it was joined")
            elif waiting and self.settled_by_now():
                problems.append("the line is not settled: a waiting party could be let in")
        if self.waitlisted_count > 0 and self.available > 0 and self.policy is Policy.STRICT:
            head = self.members.get(self.waitlist[0]) if self.waitlist else None
            if (head.seats if head is not None else 1) <= self.available:
                problems.append("people wait while seats are free")
        return problems


# What a second register of a user who already holds a standing is told.
_ALREADY = {
    Standing.REGISTERED: DenialCode.ALREADY_REGISTERED,
    Standing.WAITLISTED: DenialCode.ALREADY_WAITLISTED,
    Standing.OFFERED: DenialCode.ALREADY_WAITLISTED,  # an offer is a place from the line
    Standing.APPLIED: DenialCode.ALREADY_APPLIED,
    Standing.PREQUEUED: DenialCode.ALREADY_PREQUEUED,
}


def _is_due(membership: Membership, until: dt.datetime) -> bool:
    return membership.expires_at is not None and membership.expires_at <= until


def _is_before_end(moment: dt.datetime, membership: Membership) -> bool:
    return membership.expires_at is None or moment < membership.expires_at
