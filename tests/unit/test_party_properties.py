"""Parties and fair lines (contract v2): the rules against the naive party model, and the
properties the contract promises, over random histories under both policies."""

from __future__ import annotations

import copy
import datetime as dt
from collections import deque
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from models.domain.errors import CapacityBelowPartySize, CapacityBelowRegistered, InvalidInput
from models.domain.rules import (
    CapacityChanged,
    ChangeCapacity,
    Command,
    DenialCode,
    Denied,
    EventSeats,
    Membership,
    Offer,
    OfferAccepted,
    OfferDeclined,
    Policy,
    Reconfigure,
    Reconfigured,
    Register,
    Registered,
    RemoveUser,
    Standing,
    Unregister,
    Unregistered,
    UserRemoved,
    Waitlisted,
)

from .party_reference import PartyEvent, RefOutcome
from .reference_model import ReferenceEvent
from .strategies import as_reference

pytestmark = pytest.mark.unit

USERS = tuple(f"p{i}" for i in range(8))
policies = st.sampled_from([Policy.STRICT, Policy.FILL])


@dataclass(frozen=True)
class Setup:
    capacity: int
    max_party_size: int
    policy: Policy
    bypass_limit: int
    waitlist_enabled: bool


@st.composite
def setups(draw: st.DrawFn, policy: Policy | None = None) -> Setup:
    capacity = draw(st.integers(1, 8))
    return Setup(
        capacity,
        draw(st.integers(1, min(4, capacity))),
        policy or draw(policies),
        draw(st.integers(0, 3)),
        draw(st.booleans()),
    )


party_commands: st.SearchStrategy[Command] = st.one_of(
    st.builds(Register, st.sampled_from(USERS), st.integers(1, 4)),
    st.builds(Register, st.sampled_from(USERS), st.integers(1, 4)),
    st.builds(Register, st.sampled_from(USERS), st.integers(1, 4)),
    st.builds(Unregister, st.sampled_from(USERS)),
    st.builds(RemoveUser, st.sampled_from(USERS)),
    st.builds(ChangeCapacity, st.integers(1, 10)),
    st.builds(
        Reconfigure,
        capacity=st.one_of(st.none(), st.integers(1, 10)),
        max_party_size=st.one_of(st.none(), st.integers(1, 4)),
        policy=st.one_of(st.none(), policies),
        bypass_limit=st.one_of(st.none(), st.integers(0, 3)),
    ),
)
histories = st.lists(party_commands, max_size=40)


def both(setup: Setup) -> tuple[EventSeats, PartyEvent]:
    seats = EventSeats.empty(
        setup.capacity,
        waitlist_enabled=setup.waitlist_enabled,
        max_party_size=setup.max_party_size,
        policy=setup.policy,
        bypass_limit=setup.bypass_limit,
    )
    reference = PartyEvent(
        setup.capacity,
        setup.waitlist_enabled,
        setup.max_party_size,
        setup.policy.value,
        setup.bypass_limit,
    )
    return seats, reference


def run_rules(seats: EventSeats, command: Command) -> RefOutcome:  # noqa: PLR0911, PLR0912
    try:
        outcome = seats.handle(command)
    except CapacityBelowRegistered:
        return ("rejected", "capacity_below_registered")
    except CapacityBelowPartySize:
        return ("rejected", "capacity_below_party_size")
    except InvalidInput as error:
        if error.field != "maxPartySize":
            raise
        return ("rejected", "party_too_big")
    match outcome:
        case Registered(user_id, party):
            return ("registered", user_id, party)
        case Waitlisted(user_id, position, party):
            return ("waitlisted", user_id, position, party)
        case Denied(user_id, code):
            return ("denied", user_id, code.value)
        case Unregistered(user_id, left, promoted, offers):
            return ("unregistered", user_id, left.value, promoted, plain(offers))
        case UserRemoved(user_id, left, promoted, offers):
            left_as = None if left is None else left.value
            return ("removed", user_id, left_as, promoted, plain(offers))
        case CapacityChanged(capacity, promoted, offers):
            return ("capacity_changed", capacity, promoted, plain(offers))
        case Reconfigured(_, promoted, offers):
            return ("reconfigured", promoted, plain(offers))
        case OfferAccepted(user_id, party):
            return ("accepted", user_id, party)
        case OfferDeclined(user_id, promoted, offers):
            return ("declined", user_id, promoted, plain(offers))
    raise AssertionError(outcome)


def plain(offers: tuple[Offer, ...]) -> tuple[tuple[str, int, dt.datetime], ...]:
    return tuple((o.user_id, o.seats, o.expires_at) for o in offers)


def run_reference(event: PartyEvent, command: Command) -> RefOutcome:
    match command:
        case Register(user_id, party):
            return event.register(user_id, party)
        case Unregister(user_id):
            return event.unregister(user_id)
        case RemoveUser(user_id):
            return event.remove_user(user_id)
        case ChangeCapacity(capacity):
            return event.change_capacity(capacity)
        case Reconfigure(capacity, _, max_party, policy, bypass):
            return event.reconfigure(
                capacity, max_party, None if policy is None else policy.value, bypass
            )
    raise AssertionError(command)


def snapshot(seats: EventSeats) -> tuple[list[tuple[str, int]], list[tuple[str, int, int]]]:
    """(seated parties in seat order, waiting parties in line order with pass-overs)."""
    parties = [(m.order, u, m) for u, m in seats.members.items() if m is not None]
    seated = [(u, m.seats) for _, u, m in sorted(parties) if m.standing is Standing.REGISTERED]
    waiting = [
        (u, m.seats, m.passovers)
        for _, u, m in sorted(parties)
        if m.standing is Standing.WAITLISTED
    ]
    return seated, waiting


def reference_snapshot(
    event: PartyEvent,
) -> tuple[list[tuple[str, int]], list[tuple[str, int, int]]]:
    return (
        [(p.user_id, p.seats) for p in event.seated],
        [(p.user_id, p.seats, p.passovers) for p in event.line],
    )


# Property 23: with parties and either policy, every command gives the outcome the naive party
# model gives, and both leave the same seats and the same line (with the same pass-overs).
@settings(max_examples=500)
@given(setup=setups(), history=histories)
def test_the_rules_decide_parties_as_the_naive_model_does(
    setup: Setup, history: list[Command]
) -> None:
    seats, reference = both(setup)
    for command in history:
        assert run_rules(seats, command) == run_reference(reference, command), command
        assert snapshot(seats) == reference_snapshot(reference)


# Property 24: no oversell, counted in seats, and a party is never split: it is seated or
# waits whole, with the seats it asked for; the counters equal the parties.
@settings(max_examples=200)
@given(setup=setups(), history=histories)
def test_no_oversell_in_seats_and_parties_are_never_split(
    setup: Setup, history: list[Command]
) -> None:
    seats, _ = both(setup)
    asked: dict[str, int] = {}
    for command in history:
        outcome = run_rules(seats, command)
        if isinstance(command, Register) and outcome[0] in {"registered", "waitlisted"}:
            asked[command.user_id] = command.seats
        assert seats.registered_seats <= seats.capacity
        for user_id, membership in seats.members.items():
            if membership is not None:
                assert membership.seats == asked[user_id]
        seated, waiting = snapshot(seats)
        assert sum(n for _, n in seated) == seats.registered_seats
        assert sum(n for _, n, _ in waiting) == seats.waitlist_seats
        assert (len(seated), len(waiting)) == (seats.registered_count, seats.waitlisted_count)


# Property 25: `strict` is exactly FIFO: nobody is seated from the line while an earlier party
# keeps waiting, and a newcomer is never seated while anybody waits.
@settings(max_examples=200)
@given(setup=setups(policy=Policy.STRICT), history=histories)
def test_strict_is_exactly_first_in_first_out(setup: Setup, history: list[Command]) -> None:
    seats, _ = both(setup)
    for step in history:
        # stay strict
        command = Reconfigure(capacity=step.capacity) if isinstance(step, Reconfigure) else step
        _, before = snapshot(seats)
        outcome = run_rules(seats, command)
        line_before = [u for u, _, _ in before]
        if outcome[0] == "registered":
            assert not line_before, "a newcomer overtook the line"
        settled_by = {"unregistered", "removed", "capacity_changed", "reconfigured"}
        promoted = outcome[-2] if outcome[0] in settled_by else ()
        still = [u for u in line_before if u != getattr(command, "user_id", None)]
        assert list(promoted) == still[: len(promoted)], "seated out of line order"
        assert all(p == 0 for _, _, p in snapshot(seats)[1]), "strict never passes anyone over"


# Property 26: under `fill` no waiting party is ever passed over more than `bypassLimit` times:
# no party has more than that many later parties seated ahead of it.
@settings(max_examples=300)
@given(setup=setups(policy=Policy.FILL), history=histories)
def test_fill_never_passes_a_party_over_more_than_the_bypass_limit(
    setup: Setup, history: list[Command]
) -> None:
    seats, _ = both(setup)
    highest_limit = seats.bypass_limit  # a limit lowered later does not undo earlier counts
    for command in history:
        run_rules(seats, command)
        highest_limit = max(highest_limit, seats.bypass_limit)
        for _, _, passovers in snapshot(seats)[1]:
            assert passovers <= highest_limit


# Property 27: the line is settled after every command (no waiting party could be seated under
# the policy), and every invariant of guarantee 3 holds.
@settings(max_examples=300)
@given(setup=setups(), history=histories)
def test_the_line_is_settled_after_every_command(setup: Setup, history: list[Command]) -> None:
    seats, _ = both(setup)
    for command in history:
        run_rules(seats, command)
        assert seats.invariant_violations() == [], command


# Property 28: with one-seat parties and `strict`, the v2 rules decide exactly as the v1 naive
# model (the differential against today's behaviour).
@settings(max_examples=300)
@given(
    capacity=st.integers(1, 5),
    enabled=st.booleans(),
    history=st.lists(
        st.one_of(
            st.builds(Register, st.sampled_from(USERS)),
            st.builds(Register, st.sampled_from(USERS)),
            st.builds(Unregister, st.sampled_from(USERS)),
            st.builds(RemoveUser, st.sampled_from(USERS)),
            st.builds(ChangeCapacity, st.integers(1, 7)),
        ),
        max_size=40,
    ),
)
def test_one_seat_parties_under_strict_decide_as_v1(
    capacity: int, enabled: bool, history: list[Command]
) -> None:
    seats = EventSeats.empty(capacity, waitlist_enabled=enabled)
    v1 = ReferenceEvent.new(capacity, waitlist_enabled=enabled)
    for command in history:
        match command:
            case Register(user_id):
                expected = v1.register(user_id)
            case Unregister(user_id):
                expected = v1.unregister(user_id)
            case RemoveUser(user_id):
                expected = v1.remove_user(user_id)
            case ChangeCapacity(new):
                if new < len(v1.seated):
                    with pytest.raises(CapacityBelowRegistered):
                        seats.handle(command)
                    continue
                expected = v1.change_capacity(new)
        assert as_reference(seats.handle(command)) == expected


# Property 29: a capacity raise seats the line by the policy: exactly whom the naive model
# seats, in its order, and the line is settled after.
@settings(max_examples=200)
@given(setup=setups(), history=histories, raise_by=st.integers(1, 6))
def test_a_capacity_raise_seats_the_line_by_policy(
    setup: Setup, history: list[Command], raise_by: int
) -> None:
    seats, reference = both(setup)
    for command in history:
        run_rules(seats, command)
        run_reference(reference, command)
    command = ChangeCapacity(seats.capacity + raise_by)
    assert run_rules(seats, command) == run_reference(reference, command)
    assert seats.invariant_violations() == []


def window_of(seats: EventSeats, batch: list[Command]) -> EventSeats:
    """What the loader fetches: counters and named users, then line_needed heads."""
    named = {c.user_id for c in batch if isinstance(c, Register | Unregister | RemoveUser)}
    window = EventSeats(
        capacity=seats.capacity,
        waitlist_enabled=seats.waitlist_enabled,
        registered_count=seats.registered_count,
        registered_seats=seats.registered_seats,
        waitlisted_count=seats.waitlisted_count,
        waitlist_seats=seats.waitlist_seats,
        next_order=seats.next_order,
        max_party_size=seats.max_party_size,
        policy=seats.policy,
        bypass_limit=seats.bypass_limit,
        members={u: copy.deepcopy(seats.members.get(u)) for u in named},
    )
    heads = list(seats.waitlist)[: window.line_needed(batch)]
    window.members.update({u: copy.deepcopy(seats.members[u]) for u in heads})
    window.waitlist = deque(heads)
    return window


# Property 30: a window onto the event (the named users plus `line_needed` heads of the line)
# decides a batch of party commands exactly as the complete event does, under both policies.
@settings(max_examples=300)
@given(setup=setups(), history=histories, batch=st.lists(party_commands, min_size=1, max_size=8))
def test_a_window_decides_parties_like_the_complete_event(
    setup: Setup, history: list[Command], batch: list[Command]
) -> None:
    complete, _ = both(setup)
    for command in history:
        run_rules(complete, command)
    window = window_of(complete, batch)
    for command in batch:
        assert run_rules(window, command) == run_rules(complete, command), command
    for user_id, membership in window.members.items():
        assert membership == complete.members.get(user_id), user_id


class PartyMachine(RuleBasedStateMachine):
    """Random commands against the rules and the naive party model, step by step."""

    seats: EventSeats
    reference: PartyEvent

    @initialize(setup=setups())
    def open_event(self, setup: Setup) -> None:
        self.seats, self.reference = both(setup)

    @rule(command=party_commands)
    def apply(self, command: Command) -> None:
        before = copy.deepcopy(self.seats)
        got, expected = run_rules(self.seats, command), run_reference(self.reference, command)
        assert got == expected, (command, got, expected)
        if got[0] == "rejected":
            assert self.seats == before  # a refusal leaves no trace

    @invariant()
    def same_seats_and_line(self) -> None:
        assert snapshot(self.seats) == reference_snapshot(self.reference)

    @invariant()
    def settled_and_sound(self) -> None:
        assert self.seats.invariant_violations() == []


PartyMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=30)
test_party_machine = PartyMachine.TestCase


def fill_event(capacity: int, bypass_limit: int) -> EventSeats:
    return EventSeats.empty(
        capacity,
        waitlist_enabled=True,
        max_party_size=capacity,
        policy=Policy.FILL,
        bypass_limit=bypass_limit,
    )


def test_under_fill_a_smaller_party_behind_takes_a_freed_seat_the_head_cannot_use() -> None:
    seats = fill_event(4, bypass_limit=1)
    for user_id in ("s1", "s2", "s3", "s4"):
        seats.register(user_id)
    assert seats.register("big", 3) == Waitlisted("big", 1, 3)
    assert seats.register("small", 1) == Waitlisted("small", 2, 1)

    assert seats.unregister("s1") == Unregistered("s1", Standing.REGISTERED, ("small",))
    assert seats.members["big"] == Membership(Standing.WAITLISTED, order=5, seats=3, passovers=1)


def test_a_party_passed_over_the_bypass_limit_holds_the_line_until_it_fits() -> None:
    seats = fill_event(4, bypass_limit=1)
    for user_id in ("s1", "s2", "s3", "s4"):
        seats.register(user_id)
    seats.register("big", 3)
    seats.register("a", 1)
    seats.register("b", 1)
    assert seats.unregister("s1") == Unregistered("s1", Standing.REGISTERED, ("a",))
    # big was passed over once: now nobody behind it is seated, newcomers included
    assert seats.unregister("s2") == Unregistered("s2", Standing.REGISTERED, ())
    assert seats.register("c", 1) == Waitlisted("c", 3, 1)
    assert seats.unregister("s3") == Unregistered("s3", Standing.REGISTERED, ())  # 2 free
    assert seats.unregister("s4") == Unregistered("s4", Standing.REGISTERED, ("big",))
    assert seats.invariant_violations() == []


def test_under_strict_a_newcomer_that_would_fit_joins_the_back_of_the_line() -> None:
    seats = EventSeats.empty(4, waitlist_enabled=True, max_party_size=4)
    seats.register("s1", 2)
    assert seats.register("big", 3) == Waitlisted("big", 1, 3)
    assert seats.register("small", 1) == Waitlisted("small", 2, 1)
    assert seats.available == 2


def test_a_party_larger_than_the_event_allows_is_denied_before_it_could_be_full() -> None:
    seats = EventSeats.empty(2, waitlist_enabled=False, max_party_size=2)
    seats.register("a", 2)
    assert seats.register("b", 3) == Denied("b", DenialCode.PARTY_TOO_LARGE)
    assert seats.register("b", 2) == Denied("b", DenialCode.EVENT_FULL)
    assert seats.register("a", 3) == Denied("a", DenialCode.ALREADY_REGISTERED)


def test_capacity_below_the_seats_taken_or_the_largest_party_is_refused_and_changes_nothing() -> (
    None
):
    seats = EventSeats.empty(6, waitlist_enabled=True, max_party_size=4)
    seats.register("a", 3)
    before = copy.deepcopy(seats)
    with pytest.raises(CapacityBelowRegistered):
        seats.handle(ChangeCapacity(2))
    with pytest.raises(CapacityBelowPartySize):
        seats.handle(ChangeCapacity(3))
    with pytest.raises(InvalidInput):
        seats.handle(Reconfigure(max_party_size=7))
    assert seats == before
    assert seats.handle(Reconfigure(capacity=4, max_party_size=2)) == Reconfigured(
        (("capacity", 6, 4), ("maxPartySize", 4, 2)), ()
    )
