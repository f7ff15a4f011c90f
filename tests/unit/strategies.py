"""Hypothesis strategies shared by the rules' property tests, and the adapters that let the
rules and the naive reference model be driven by the same steps and compared.

User ids come from a pool of ten ('u0'..'u9') on purpose: with capacities of one to five,
collisions (duplicate registrations, leaving twice, full events) happen in most examples.
"""

from __future__ import annotations

import contextlib
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from hypothesis import strategies as st

from models.domain.errors import CapacityBelowRegistered, DomainError, InvalidCapacity, InvalidInput
from models.domain.rules import (
    CapacityChanged,
    ChangeCapacity,
    Command,
    Denied,
    EventSeats,
    Outcome,
    Register,
    Registered,
    RemoveUser,
    Standing,
    Unregister,
    Unregistered,
    UserRemoved,
    Waitlisted,
)

from .reference_model import (
    BLANK_USER_ID,
    CAPACITY_BELOW_REGISTERED,
    INVALID_CAPACITY,
    ReferenceEvent,
    RefOutcome,
    Rejected,
)

# --- users ------------------------------------------------------------------------------

USER_IDS: tuple[str, ...] = tuple(f"u{i}" for i in range(10))
user_ids = st.sampled_from(USER_IDS)

# Every character Python's str.strip() removes; computed rather than hand-listed so that the
# odd ones (U+001C..U+001F, U+0085, U+2028, U+3000) are covered too.
WHITESPACE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
blank_strings = st.text(alphabet=WHITESPACE, max_size=6)

# Mostly real users, sometimes a blank one, so that command sequences also exercise
# rejection in the middle of a run.
step_user_ids = st.one_of(user_ids, user_ids, user_ids, user_ids, blank_strings)

ID_ALPHABET = string.ascii_letters + string.digits + "_-"
valid_ids = st.text(alphabet=ID_ALPHABET, min_size=1, max_size=64)

_foreign_characters = st.characters().filter(lambda c: c not in ID_ALPHABET)
malformed_ids: st.SearchStrategy[object] = st.one_of(
    st.just(""),
    st.text(alphabet=ID_ALPHABET, min_size=65, max_size=90),
    st.tuples(
        st.text(alphabet=ID_ALPHABET, max_size=20),
        _foreign_characters,
        st.text(alphabet=ID_ALPHABET, max_size=20),
    ).map("".join),
    # An id that is fine apart from a trailing newline: `$` alone would accept it.
    valid_ids.map(lambda value: value + "\n"),
    st.none(),
    st.integers(),
    st.binary(min_size=1, max_size=8),
)

_trimmed_text = st.text(min_size=1, max_size=200).map(str.strip).filter(bool)


@st.composite
def padded_names(draw: st.DrawFn) -> tuple[str, str]:
    """(raw name as a client might send it, the trimmed name the rules must give back)."""
    core = draw(_trimmed_text)
    return draw(blank_strings) + core + draw(blank_strings), core


# --- capacities -------------------------------------------------------------------------

capacities = st.integers(min_value=1, max_value=5)

invalid_capacities: st.SearchStrategy[object] = st.one_of(
    st.integers(max_value=0),
    st.booleans(),
    st.floats(allow_nan=True),
    st.integers(min_value=1, max_value=9).map(float),
    st.integers(min_value=1, max_value=9).map(str),
    st.none(),
)

# --- steps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToggleWaitlist:
    """Not a rules command: an admin edit that only sets `seats.waitlist_enabled`."""

    enabled: bool


Step = Command | ToggleWaitlist


# Capacity changes include the invalid ones (-1, 0) and ones that often fall below the
# registered count, so that refusals are part of ordinary histories.
new_capacities = st.integers(min_value=-1, max_value=7)


def commands(
    users: st.SearchStrategy[str] = step_user_ids,
    capacities_to_set: st.SearchStrategy[int] = new_capacities,
) -> st.SearchStrategy[Command]:
    registers = st.builds(Register, users)
    # Registers are listed twice: without them the events would mostly stay empty.
    return st.one_of(
        registers,
        registers,
        st.builds(Unregister, users),
        st.builds(RemoveUser, users),
        st.builds(ChangeCapacity, capacities_to_set),
    )


steps: st.SearchStrategy[Step] = st.one_of(commands(), st.builds(ToggleWaitlist, st.booleans()))
step_lists = st.lists(steps, max_size=30)

# --- running the rules and the reference side by side -----------------------------------


def as_reference(outcome: Outcome) -> RefOutcome:
    """Translate a rules outcome into the reference model's plain tuple."""
    match outcome:
        case Registered(user_id):
            return ("registered", user_id)
        case Waitlisted(user_id, position):
            return ("waitlisted", user_id, position)
        case Denied(user_id, code):
            return ("denied", user_id, code.value)
        case Unregistered(user_id, left, promoted):
            return ("unregistered", user_id, left.value, _at_most_one(promoted))
        case UserRemoved(user_id, left, promoted):
            return (
                "removed",
                user_id,
                None if left is None else left.value,
                _at_most_one(promoted),
            )
        case CapacityChanged(capacity, promoted):
            return ("capacity_changed", capacity, promoted)
    raise AssertionError(f"unknown outcome {outcome!r}")


def _at_most_one(promoted: tuple[str, ...]) -> str | None:
    """One-seat parties under `strict` (v1): a seat that frees seats one party at most."""
    assert len(promoted) <= 1, promoted
    return promoted[0] if promoted else None


def run_rules(seats: EventSeats, step: Step) -> RefOutcome:
    """Apply a step to the rules; a refusal becomes a ("rejected", reason) value."""
    if isinstance(step, ToggleWaitlist):
        seats.waitlist_enabled = step.enabled
        return ("toggled", step.enabled)
    try:
        return as_reference(seats.handle(step))
    # The subclass must be matched before InvalidInput, which it extends.
    except InvalidCapacity:
        return ("rejected", INVALID_CAPACITY)
    except CapacityBelowRegistered:
        return ("rejected", CAPACITY_BELOW_REGISTERED)
    except InvalidInput:
        return ("rejected", BLANK_USER_ID)


def run_reference(event: ReferenceEvent, step: Step) -> RefOutcome:
    try:
        match step:
            case ToggleWaitlist(enabled):
                event.set_waitlist_enabled(enabled)
                return ("toggled", enabled)
            case Register(user_id):
                return event.register(user_id)
            case Unregister(user_id):
                return event.unregister(user_id)
            case RemoveUser(user_id):
                return event.remove_user(user_id)
            case ChangeCapacity(capacity):
                return event.change_capacity(capacity)
    except Rejected as rejected:
        return ("rejected", rejected.reason)
    raise AssertionError(f"unknown step {step!r}")


def apply_quietly(seats: EventSeats, step: Step) -> None:
    """Apply a step for setting up a state; refusals are part of a realistic history."""
    if isinstance(step, ToggleWaitlist):
        seats.waitlist_enabled = step.enabled
        return
    with contextlib.suppress(DomainError):
        seats.handle(step)


def walk(capacity: int, waitlist_enabled: bool, history: Iterable[Step]) -> Iterator[EventSeats]:
    """Yield the complete state before the first step and after every step."""
    seats = EventSeats.empty(capacity, waitlist_enabled=waitlist_enabled)
    yield seats
    for step in history:
        apply_quietly(seats, step)
        yield seats


# --- reading a complete EventSeats --------------------------------------------------------


def seated_users(seats: EventSeats) -> list[str]:
    """Seated users in the order they took their seats (the reference model's order)."""
    seated = [
        (membership.order, user_id)
        for user_id, membership in seats.members.items()
        if membership is not None and membership.standing is Standing.REGISTERED
    ]
    return [user_id for _, user_id in sorted(seated)]


def waiting_users(seats: EventSeats) -> list[str]:
    """Waiting users by membership order, independent of the `waitlist` deque."""
    waiting = [
        (membership.order, user_id)
        for user_id, membership in seats.members.items()
        if membership is not None and membership.standing is Standing.WAITLISTED
    ]
    return [user_id for _, user_id in sorted(waiting)]


def standing_of(seats: EventSeats, user_id: str) -> str | None:
    membership = seats.members.get(user_id)
    return None if membership is None else membership.standing.value


# --- whole scenarios --------------------------------------------------------------------


@dataclass
class Scenario:
    """The same history applied to the rules (complete state) and to the reference."""

    seats: EventSeats
    reference: ReferenceEvent

    def apply(self, step: Step) -> tuple[RefOutcome, RefOutcome]:
        return run_rules(self.seats, step), run_reference(self.reference, step)

    def outsider(self, prefix: str) -> str:
        """A user id the event has never seen, outside the shared pool."""
        index = 0
        while f"{prefix}{index}" in self.seats.members or self.reference.standing_of(
            f"{prefix}{index}"
        ):
            index += 1
        return f"{prefix}{index}"


@st.composite
def scenarios(
    draw: st.DrawFn,
    *,
    waitlist_enabled: bool | None = None,
    full: bool = False,
    min_waiting: int = 0,
    free_seats: int = 0,
) -> Scenario:
    """A reachable event state.

    waitlist_enabled fixes the flag at the end (None: whatever the history left).
    full fills the free seats with fresh users; min_waiting then queues fresh users until
    that many wait (needs the waitlist on); free_seats raises the capacity so that at least
    that many seats are free (which promotes every waiter first).
    """
    if min_waiting and not waitlist_enabled:
        raise ValueError("a waitlist can only be queued with waitlist_enabled=True")
    capacity = draw(capacities)
    enabled = draw(st.booleans())
    scenario = Scenario(
        EventSeats.empty(capacity, waitlist_enabled=enabled),
        ReferenceEvent.new(capacity, waitlist_enabled=enabled),
    )
    for step in draw(step_lists):
        scenario.apply(step)
    if waitlist_enabled is not None:
        scenario.apply(ToggleWaitlist(waitlist_enabled))
    # Setup decisions follow the reference: a broken rule must not make the setup loop.
    if full or min_waiting:
        while len(scenario.reference.seated) < scenario.reference.capacity:
            scenario.apply(Register(scenario.outsider("f")))
    extra_waiting = draw(st.integers(min_value=0, max_value=3)) if min_waiting else 0
    while len(scenario.reference.waiting) < min_waiting + extra_waiting:
        scenario.apply(Register(scenario.outsider("w")))
    if free_seats:
        occupied = len(scenario.reference.seated) + len(scenario.reference.waiting)
        spare = free_seats + draw(st.integers(min_value=0, max_value=2))
        scenario.apply(ChangeCapacity(occupied + spare))
    return scenario
