"""Approval (contract v3, `admission: "approval"`): applications hold nothing, an approved party
takes the place its acceptance gave it, and nothing else changes; over random histories under
both policies, with parties and offers."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.domain.approval import Applied, Approve, Approved, Reject, Rejected
from models.domain.results import result_of
from models.domain.rules import (
    AcceptOffer,
    Admission,
    Command,
    DeclineOffer,
    DenialCode,
    Denied,
    EventSeats,
    OfferExpired,
    Outcome,
    Policy,
    Promotion,
    Reconfigure,
    Reconfigured,
    Register,
    Registered,
    Standing,
    Unregister,
    Unregistered,
    Waitlisted,
    offers_by,
    promoted_by,
)

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
USERS = tuple(f"a{i}" for i in range(7))
TTL = 30
HELD = (Standing.REGISTERED, Standing.OFFERED)


@dataclass(frozen=True)
class Setup:
    capacity: int
    max_party_size: int
    policy: Policy
    bypass_limit: int
    waitlist_enabled: bool
    promotion: Promotion

    def event(self, admission: Admission) -> EventSeats:
        seats = EventSeats.empty(
            self.capacity,
            waitlist_enabled=self.waitlist_enabled,
            max_party_size=self.max_party_size,
            policy=self.policy,
            bypass_limit=self.bypass_limit,
            promotion=self.promotion,
            offer_ttl_seconds=TTL,
            admission=admission,
        )
        seats.now = T0
        return seats


@st.composite
def setups(draw: st.DrawFn, policy: Policy | None = None) -> Setup:
    capacity = draw(st.integers(1, 5))
    return Setup(
        capacity=capacity,
        max_party_size=draw(st.integers(1, min(3, capacity))),
        policy=policy or draw(st.sampled_from([Policy.STRICT, Policy.FILL])),
        bypass_limit=draw(st.integers(0, 2)),
        waitlist_enabled=draw(st.booleans()),
        promotion=draw(st.sampled_from(Promotion)),
    )


users = st.sampled_from(USERS)
# Steps: ("register", user, seats), ("approve"|"reject"|"unregister"|"accept"|"decline", user),
# ("tick", seconds) lets offers run out, ("capacity", new) an event update.
steps = st.one_of(
    st.tuples(st.just("register"), users, st.integers(1, 3)),
    st.tuples(st.just("register"), users, st.integers(1, 3)),
    st.tuples(st.sampled_from(["approve", "approve", "reject", "unregister"]), users),
    st.tuples(st.sampled_from(["accept", "decline"]), users),
    st.tuples(st.just("tick"), st.integers(1, 2 * TTL)),
    st.tuples(st.just("capacity"), st.integers(1, 7)),
)
plans = st.lists(steps, max_size=40)


def command_for(step: tuple[object, ...], clock: dt.datetime) -> Command | None:  # noqa: PLR0911
    match step:
        case ("register", str(user), int(party)):
            return Register(user, party, clock)
        case ("approve", str(user)):
            return Approve(user)
        case ("reject", str(user)):
            return Reject(user)
        case ("unregister", str(user)):
            return Unregister(user, clock)
        case ("accept", str(user)):
            return AcceptOffer(user, clock)
        case ("decline", str(user)):
            return DeclineOffer(user)
        case ("capacity", int(capacity)):
            return Reconfigure(capacity=capacity)
    return None


def standings(seats: EventSeats) -> dict[str, tuple[Standing, int]]:
    return {u: (m.standing, m.seats) for u, m in seats.members.items() if m is not None}


def held(seats: EventSeats) -> set[str]:
    return {u for u, (standing, _) in standings(seats).items() if standing in HELD}


@dataclass
class Step:
    """One applied step: the command, its outcomes, the standings before and after, and
    each user's acceptance number (the step of the register that gave it its place)."""

    command: Command | None
    outcomes: list[Outcome]
    before: dict[str, tuple[Standing, int]]
    after: dict[str, tuple[Standing, int]]
    line_before: list[str]
    line_after: list[str]
    accepted: dict[str, int] = field(default_factory=dict)


def run(seats: EventSeats, plan: list[tuple[object, ...]]) -> list[Step]:
    """Apply the plan, ending offers as time passes; the rules' refusals of an update (a
    capacity below what is held) change nothing and are skipped."""
    clock = T0
    accepted: dict[str, int] = {}
    history: list[Step] = []
    for number, raw in enumerate(plan):
        before, line_before = standings(seats), list(seats.waitlist)
        outcomes: list[Outcome] = []
        command = command_for(raw, clock)
        if raw[0] == "tick":
            clock += dt.timedelta(seconds=int(raw[1]))  # type: ignore[call-overload]
            seats.now = clock
            outcomes += seats.expire_offers(clock)
        elif command is not None:
            try:
                outcomes.append(seats.handle(command))
            except Exception:
                assert isinstance(command, Reconfigure)
                assert standings(seats) == before
        after = standings(seats)
        for user in list(accepted):
            if user not in after:
                del accepted[user]
        for outcome in outcomes:
            if isinstance(outcome, Registered | Waitlisted | Applied) and isinstance(
                command, Register
            ):
                accepted[outcome.user_id] = number
        history.append(
            Step(
                command, outcomes, before, after, line_before, list(seats.waitlist), dict(accepted)
            )
        )
        assert seats.invariant_violations() == [], (raw, seats.invariant_violations())
    return history


# Property 41: approval never takes a seat back: an approve leaves every party that held seats
# or an offer before it holding them, and changes no other application.
@settings(max_examples=200, deadline=None)
@given(setup=setups(), plan=plans)
def test_approval_never_takes_a_seat_back(setup: Setup, plan: list[tuple[object, ...]]) -> None:
    for step in run(setup.event(Admission.APPROVAL), plan):
        if isinstance(step.command, Approve):
            for user, (standing, party) in step.before.items():
                if standing in HELD:
                    assert step.after.get(user) == (standing, party)
                if standing is Standing.APPLIED and user != step.command.user_id:
                    assert step.after.get(user) == (standing, party)


# Property 42: an approved party is never behind a waiting party accepted after it, and the
# line is always in acceptance order, under either policy.
@settings(max_examples=200, deadline=None)
@given(setup=setups(), plan=plans)
def test_an_approved_party_is_never_behind_a_party_accepted_after_it(
    setup: Setup, plan: list[tuple[object, ...]]
) -> None:
    for step in run(setup.event(Admission.APPROVAL), plan):
        numbers = [step.accepted[u] for u in step.line_after]
        assert numbers == sorted(numbers)
        if isinstance(step.command, Approve) and step.outcomes:
            (outcome,) = step.outcomes
            if isinstance(outcome, Approved) and outcome.position is not None:
                approved = outcome.user_id
                assert step.line_after[outcome.position - 1] == approved
                mine = step.accepted[approved]
                behind = step.line_after[outcome.position :]
                assert all(step.accepted[u] > mine for u in behind)


# Property 43: with `strict`, the line stays exactly FIFO by acceptance among approved parties:
# whoever is seated or offered seats is accepted before every party that keeps waiting.
@settings(max_examples=200, deadline=None)
@given(setup=setups(Policy.STRICT), plan=plans)
def test_strict_stays_fifo_by_acceptance_among_approved_parties(
    setup: Setup, plan: list[tuple[object, ...]]
) -> None:
    for step in run(setup.event(Admission.APPROVAL), plan):
        newly = {
            u
            for u, (standing, _) in step.after.items()
            if standing in HELD and step.before.get(u, (None,))[0] not in HELD
        }
        for user in newly:
            assert all(step.accepted[user] < step.accepted[w] for w in step.line_after)


# Property 44: the `fill` bound still holds with approvals: no waiting party ever has more than
# `bypassLimit` parties accepted after it seated (or offered seats) while it waits.
@settings(max_examples=200, deadline=None)
@given(setup=setups(Policy.FILL), plan=plans)
def test_the_fill_bound_holds_with_approvals(setup: Setup, plan: list[tuple[object, ...]]) -> None:
    passed: dict[str, int] = {}
    for step in run(setup.event(Admission.APPROVAL), plan):
        passed = {u: n for u, n in passed.items() if u in step.line_after}
        newly = {
            u
            for u, (standing, _) in step.after.items()
            if standing in HELD and step.before.get(u, (None,))[0] not in HELD
        }
        for waiting in set(step.line_before) & set(step.line_after):
            later = [u for u in newly if step.accepted[u] > step.accepted[waiting]]
            passed[waiting] = passed.get(waiting, 0) + len(later)
            assert passed[waiting] <= setup.bypass_limit


# Property 45: applications hold no seats: a register under approval, a rejection and a
# withdrawal change neither seats, offers nor the line; only the count of applications.
@settings(max_examples=200, deadline=None)
@given(setup=setups(), plan=plans)
def test_applications_hold_no_seats(setup: Setup, plan: list[tuple[object, ...]]) -> None:
    seats = setup.event(Admission.APPROVAL)
    applications: set[str] = set()
    for step in run(seats, plan):
        applications = {u for u, (s, _) in step.after.items() if s is Standing.APPLIED}
        for outcome in step.outcomes:
            withdrawn = isinstance(outcome, Unregistered) and outcome.left is Standing.APPLIED
            if isinstance(outcome, Applied | Rejected) or withdrawn:
                kept = {u: v for u, v in step.before.items() if v[0] is not Standing.APPLIED}
                now = {u: v for u, v in step.after.items() if v[0] is not Standing.APPLIED}
                assert now == kept
                assert step.line_after == step.line_before
    held_seats = sum(p for s, p in standings(seats).values() if s in HELD)
    assert held_seats == seats.registered_seats + seats.offered_seats
    assert seats.applied_count == len(applications)


def view(seats: EventSeats) -> tuple[object, ...]:
    """What the contract shows of an event: seats in seat order, the line, offers, counts."""
    members = [(u, m) for u, m in seats.members.items() if m is not None]
    seated = [
        (u, m.seats) for u, m in sorted(members, key=lambda p: p[1].order) if m.standing in HELD
    ]
    line = [(u, seats.members[u].seats, seats.members[u].passovers) for u in seats.waitlist]  # type: ignore[union-attr]
    return (
        seated,
        line,
        [u for u, _ in seats.open_offers()],
        seats.registered_seats,
        seats.offered_seats,
        seats.waitlist_seats,
        seats.applied_count,
    )


def shown(outcome: Outcome) -> tuple[object, ...]:
    if isinstance(outcome, Reconfigured | OfferExpired):  # not a ticket's: what it let in
        return (promoted_by(outcome), [o.user_id for o in offers_by(outcome)])
    result = result_of(outcome)
    return (
        result["status"],
        result["code"],
        result["position"],
        result["promotedUserIds"],
        result["offeredUserIds"],
    )


# Property 46 (differential): with `admission: open` the v2 rules are unchanged. Approve and
# reject find no application and change nothing; and approving every application at once is
# open admission: same outcomes, same seats and line, step by step.
@settings(max_examples=200, deadline=None)
@given(setup=setups(), plan=plans)
def test_open_admission_is_v2_and_approving_at_once_is_open(
    setup: Setup, plan: list[tuple[object, ...]]
) -> None:
    v2_plan = [step for step in plan if step[0] not in {"approve", "reject"}]
    plain = setup.event(Admission.OPEN)
    gated = setup.event(Admission.APPROVAL)
    clock = T0
    for raw in v2_plan:
        command = command_for(raw, clock)
        if raw[0] == "tick":
            clock += dt.timedelta(seconds=int(raw[1]))  # type: ignore[call-overload]
            for seats in (plain, gated):
                seats.now = clock
            assert [shown(o) for o in plain.expire_offers(clock)] == [
                shown(o) for o in gated.expire_offers(clock)
            ]
            continue
        assert command is not None
        try:
            outcome = plain.handle(command)
        except Exception:
            with pytest.raises(Exception):  # noqa: B017, PT011
                gated.handle(command)
            continue
        expected = shown(outcome)
        got = gated.handle(command)
        if isinstance(got, Applied):
            got = gated.handle(Approve(got.user_id))
            if isinstance(got, Denied):
                assert isinstance(gated.handle(Reject(got.user_id)), Rejected)
        assert shown(got) == expected, raw
        assert view(gated) == view(plain), raw

    mixed = setup.event(Admission.OPEN)
    clock = T0
    for raw in plan:
        command = command_for(raw, clock)
        if raw[0] == "tick":
            clock += dt.timedelta(seconds=int(raw[1]))  # type: ignore[call-overload]
            mixed.now = clock
            mixed.expire_offers(clock)
        elif isinstance(command, Approve | Reject):
            before = copy.deepcopy(mixed)
            assert mixed.handle(command) == Denied(command.user_id, DenialCode.NO_APPLICATION)
            assert mixed == before
        elif command is not None:
            try:
                mixed.handle(command)
            except Exception:  # noqa: S112 - a refused update, refused in `plain` too
                continue
    assert view(mixed) == view(plain)
