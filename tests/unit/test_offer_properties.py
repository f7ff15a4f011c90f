"""Offers and windows (contract v2): held seats, accept/decline/expiry, decided by acceptance
time; the rules against the naive party model with a clock, under both policies."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from models.domain.errors import CapacityBelowRegistered
from models.domain.rules import (
    AcceptOffer,
    Command,
    DeclineOffer,
    DenialCode,
    Denied,
    EventSeats,
    OfferAccepted,
    OfferExpired,
    Policy,
    Promotion,
    Register,
    Registered,
    RemoveUser,
    Standing,
    Unregister,
    Unregistered,
    Waitlisted,
)

from .party_reference import PartyEvent, RefOutcome
from .test_party_properties import USERS, plain, run_reference, run_rules

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
TTL = 60


def offer_event(
    capacity: int = 4, policy: Policy = Policy.STRICT, max_party: int = 4, bypass: int = 3
) -> EventSeats:
    seats = EventSeats.empty(
        capacity,
        waitlist_enabled=True,
        max_party_size=max_party,
        policy=policy,
        bypass_limit=bypass,
        promotion=Promotion.OFFER,
        offer_ttl_seconds=TTL,
    )
    seats.now = T0
    return seats


def rules_expire(seats: EventSeats, until: dt.datetime) -> list[RefOutcome]:
    return [
        ("expired", o.user_id, o.promoted_user_ids, plain(o.offers))
        for o in seats.expire_offers(until)
    ]


class OfferMachine(RuleBasedStateMachine):
    """Random commands with acceptance times, and a clock that moves; the rules and the naive
    model must agree on every outcome, every offer and every expiry."""

    seats: EventSeats
    reference: PartyEvent
    clock: dt.datetime

    @initialize(
        capacity=st.integers(1, 4),
        policy=st.sampled_from([Policy.STRICT, Policy.FILL]),
        bypass=st.integers(0, 2),
        window=st.booleans(),
    )
    def open_event(self, capacity: int, policy: Policy, bypass: int, window: bool) -> None:
        self.clock = T0
        # windows that rarely deny (Property 33 covers them): the machine is about offers
        opens, closes = (T0 - dt.timedelta(seconds=3), T0 + dt.timedelta(seconds=900))
        unregister_closes = T0 + dt.timedelta(seconds=700)
        self.seats = EventSeats.empty(
            capacity,
            waitlist_enabled=True,
            max_party_size=min(3, capacity),
            policy=policy,
            bypass_limit=bypass,
            promotion=Promotion.OFFER,
            offer_ttl_seconds=TTL,
            registration_opens_at=opens if window else None,
            registration_closes_at=closes if window else None,
            unregister_closes_at=unregister_closes if window else None,
        )
        self.reference = PartyEvent(
            capacity,
            True,
            min(3, capacity),
            policy.value,
            bypass,
            promotion="offer",
            offer_ttl=dt.timedelta(seconds=TTL),
            opens_at=opens if window else None,
            closes_at=closes if window else None,
            unregister_closes_at=unregister_closes if window else None,
        )
        self._tick(0)

    def _tick(self, seconds: int) -> None:
        """Time passes; first every offer that ran out ends, in both, in the same order."""
        self.clock += dt.timedelta(seconds=seconds)
        got = rules_expire(self.seats, self.clock)
        expected = self.reference.expire(self.clock)
        assert got == expected
        self.seats.now = self.reference.now = self.clock

    def _both(self, command: Command, reference: RefOutcome) -> RefOutcome:
        got = run_rules(self.seats, command)
        assert got == reference, (command, got, reference)
        return got

    @rule(seconds=st.integers(0, 90))
    def time_passes(self, seconds: int) -> None:
        self._tick(seconds)

    @rule(user=st.sampled_from(USERS), party=st.integers(1, 3), late=st.integers(0, 5))
    def register(self, user: str, party: int, late: int) -> None:
        at = self.clock - dt.timedelta(seconds=late)
        self._both(Register(user, party, at), self.reference.register(user, party, at))

    @rule(user=st.sampled_from(USERS), party=st.integers(1, 2))
    def register_now(self, user: str, party: int) -> None:
        command = Register(user, party, self.clock)
        self._both(command, self.reference.register(user, party, self.clock))

    @precondition(lambda self: self.seats.waitlisted_count > 0 and self.seats.registered_count > 0)
    @rule(data=st.data())
    def a_seated_party_leaves_while_others_wait(self, data: st.DataObject) -> None:
        seated = [
            u for u, m in self.seats.members.items() if m and m.standing is Standing.REGISTERED
        ]
        self.unregister(data.draw(st.sampled_from(sorted(seated))))

    @precondition(lambda self: self.seats.offered_count > 0)
    @rule(data=st.data(), late=st.integers(0, 70))
    def an_offered_user_accepts(self, data: st.DataObject, late: int) -> None:
        user = data.draw(st.sampled_from([u for u, _ in self.seats.open_offers()]))
        self.accept(user, late)

    @rule(user=st.sampled_from(USERS))
    def unregister(self, user: str) -> None:
        command = Unregister(user, self.clock)
        self._both(command, self.reference.unregister(user, self.clock))

    @rule(user=st.sampled_from(USERS), late=st.integers(0, 90))
    def accept(self, user: str, late: int) -> None:
        """An accept accepted `late` seconds ago, applied now (expiries not yet applied to it)."""
        at = self.clock - dt.timedelta(seconds=late)
        self._both(AcceptOffer(user, at), self.reference.accept(user, at))

    @rule(user=st.sampled_from(USERS))
    def decline(self, user: str) -> None:
        self._both(DeclineOffer(user), self.reference.decline(user))

    @precondition(lambda self: self.seats.offered_count > 0)
    @rule(user=st.sampled_from(USERS))
    def remove_user(self, user: str) -> None:
        self._both(RemoveUser(user), run_reference(self.reference, RemoveUser(user)))

    @invariant()
    def held_seats_count_against_capacity(self) -> None:
        taken = self.seats.registered_seats + self.seats.offered_seats
        assert taken <= self.seats.capacity

    @invariant()
    def no_open_offer_outlives_its_end(self) -> None:
        for _, membership in self.seats.open_offers():
            assert membership.expires_at is not None
            assert membership.expires_at > self.clock

    @invariant()
    def settled_and_sound(self) -> None:
        assert self.seats.invariant_violations() == []


OfferMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=50)
test_offer_machine = OfferMachine.TestCase


# Property 31: under `promotion: offer` a party let in from the line gets an offer, whose seats
# count against capacity; accepting before its end seats it (in seat order at the accept),
# accepting at or after its end finds NO_OPEN_OFFER.
@settings(max_examples=200)
@given(party=st.integers(1, 3), late=st.integers(0, 2 * TTL))
def test_an_offer_holds_seats_until_it_is_accepted_in_time(party: int, late: int) -> None:
    seats = offer_event(capacity=3, max_party=3)
    seats.register("s1", 3, T0)
    seats.register("w", party, T0)
    outcome = seats.unregister("s1", T0)

    assert isinstance(outcome, Unregistered)
    (offer,) = outcome.offers
    assert (offer.user_id, offer.seats, offer.expires_at) == (
        "w",
        party,
        T0 + dt.timedelta(seconds=TTL),
    )
    assert seats.offered_seats == party
    assert seats.available == 3 - party
    newcomer = seats.register("n", 3, T0)  # the held seats are nobody else's
    assert newcomer == Waitlisted("n", 1, 3)
    accepted_at = T0 + dt.timedelta(seconds=late)
    result = seats.accept_offer("w", accepted_at)
    if late < TTL:
        assert result == OfferAccepted("w", party)
        assert seats.members["w"] is not None
        assert seats.members["w"].standing is Standing.REGISTERED
    else:
        assert result == Denied("w", DenialCode.NO_OPEN_OFFER)


# Property 32: every expiry and every decline settles the line again: the seats go to whom the
# policy picks next (as another offer), and the line is settled after.
@settings(max_examples=200)
@given(
    policy=st.sampled_from([Policy.STRICT, Policy.FILL]),
    parties=st.lists(st.integers(1, 3), min_size=2, max_size=6),
    decline=st.booleans(),
)
def test_every_expiry_or_decline_settles_the_line_again(
    policy: Policy, parties: list[int], decline: bool
) -> None:
    seats = offer_event(capacity=3, policy=policy, max_party=3)
    seats.register("s", 3, T0)
    for index, party in enumerate(parties):
        seats.register(f"w{index}", party, T0)
    seats.unregister("s", T0)
    assert seats.invariant_violations() == []
    first, _ = seats.open_offers()[0]
    if decline:
        seats.decline_offer(first)
    else:
        ended = seats.expire_offers(T0 + dt.timedelta(seconds=TTL))
        assert [e.user_id for e in ended][:1] == [first]
        assert all(isinstance(e, OfferExpired) for e in ended)
    assert seats.membership(first) is None
    assert seats.invariant_violations() == []


# Property 33: windows decide by acceptance time, never by the time of applying: a register
# accepted before opensAt or at/after closesAt is denied, one in between is not; an unregister
# of a seated party accepted at/after unregisterClosesAt is denied, a waiting party may leave.
@settings(max_examples=300)
@given(offset=st.integers(-100, 500))
def test_windows_decide_by_acceptance_time(offset: int) -> None:
    opens, closes = T0, T0 + dt.timedelta(seconds=300)
    seats = EventSeats.empty(
        1,
        waitlist_enabled=True,
        registration_opens_at=opens,
        registration_closes_at=closes,
        unregister_closes_at=T0 + dt.timedelta(seconds=200),
    )
    at = T0 + dt.timedelta(seconds=offset)
    outcome = seats.register("ann", 1, at)
    if offset < 0:
        assert outcome == Denied("ann", DenialCode.REGISTRATION_NOT_OPEN)
    elif offset >= 300:
        assert outcome == Denied("ann", DenialCode.REGISTRATION_CLOSED)
    else:
        assert outcome == Registered("ann")
        seats.register("bob", 1, opens)
        left = seats.unregister("ann", at)
        if offset >= 200:
            assert left == Denied("ann", DenialCode.UNREGISTER_CLOSED)
            assert isinstance(seats.unregister("bob", at), Unregistered)  # waiting: may leave
        else:
            assert isinstance(left, Unregistered)


def test_a_newcomer_that_fits_is_seated_at_once_never_offered() -> None:
    seats = offer_event(capacity=4)
    assert seats.register("ann", 2, T0) == Registered("ann", 2)
    assert seats.open_offers() == []


def test_an_offer_counts_as_a_seating_for_pass_overs_and_the_offered_party_collects_none() -> None:
    seats = offer_event(capacity=4, policy=Policy.FILL, max_party=4, bypass=1)
    seats.register("s1", 2, T0)
    seats.register("s2", 2, T0)
    seats.register("big", 3, T0)
    seats.register("a", 2, T0)
    outcome = seats.unregister("s1", T0)
    assert isinstance(outcome, Unregistered)
    assert [o.user_id for o in outcome.offers] == ["a"]
    big = seats.members["big"]
    assert big is not None
    assert big.passovers == 1


def test_unregistering_an_offered_user_ends_the_offer_and_settles() -> None:
    seats = offer_event(capacity=2, max_party=2)
    seats.register("s", 2, T0)
    seats.register("w1", 2, T0)
    seats.register("w2", 2, T0)
    seats.unregister("s", T0)
    outcome = seats.unregister("w1", T0)
    assert isinstance(outcome, Unregistered)
    assert outcome.left is Standing.OFFERED
    assert [o.user_id for o in outcome.offers] == ["w2"]


def test_lowering_capacity_below_seats_held_by_offers_is_refused() -> None:
    seats = offer_event(capacity=4)
    seats.register("s", 4, T0)
    seats.register("w", 3, T0)
    seats.unregister("s", T0)
    before = copy.deepcopy(seats)
    with pytest.raises(CapacityBelowRegistered):
        seats.change_capacity(2)
    assert seats == before
