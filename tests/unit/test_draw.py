"""The on-sale draw (#24), pure: the pre-queue, the commitment and its lock, the keys, the order
and the outcomes, the pass that draws before any command accepted at the opening, and the
verifier that checks it all from the ledger."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.domain import draw as drawing
from models.domain import ledger
from models.domain.errors import DrawLocked, InvalidInput
from models.domain.ledger_verify import verify
from models.domain.ledger_whatif import Scenario, compare
from models.domain.passes import decide, ticket_lines
from models.domain.rules import (
    DenialCode,
    Denied,
    EventSeats,
    Opening,
    Policy,
    Prequeued,
    Reconfigure,
    Registered,
    Standing,
    Waitlisted,
)

pytestmark = pytest.mark.unit

PREQUEUE = dt.datetime(2030, 1, 1, 8, 0, tzinfo=dt.UTC)
OPENS = dt.datetime(2030, 1, 1, 9, 0, tzinfo=dt.UTC)
SEED = bytes(range(32))
COMMITMENT = hashlib.sha256(SEED).hexdigest()
EVENT = "onsale"


@dataclass(frozen=True)
class FakeTicket:
    ticket_id: str
    type: str
    user_id: str
    event_id: str
    created_at: dt.datetime
    seats: int = 1


def a_draw(capacity: int = 2, seed: bytes = SEED, **more: object) -> EventSeats:
    seats = EventSeats.empty(
        capacity,
        opening=Opening.DRAW,
        prequeue_opens_at=PREQUEUE,
        registration_opens_at=OPENS,
        draw_commitment=drawing.commitment(seed),
        **more,
    )
    seats.draw_seed = seed
    return seats


def during_prequeue(minutes: int = 1) -> dt.datetime:
    return PREQUEUE + dt.timedelta(minutes=minutes)


# --- the arithmetic ---------------------------------------------------------------------------


def test_a_key_is_the_sha256_of_seed_closing_hash_bytes_and_the_utf8_user_id() -> None:
    closing = "ab" * 32
    by_hand = hashlib.sha256(SEED + bytes.fromhex(closing) + "zoë".encode()).hexdigest()
    assert drawing.key(SEED, closing, "zoë") == by_hand


def test_the_commitment_is_the_hex_sha256_of_the_32_seed_bytes() -> None:
    assert drawing.commitment(SEED) == COMMITMENT
    with pytest.raises(ValueError, match="32 bytes"):
        drawing.commitment(b"short")


def test_the_order_is_ascending_key() -> None:
    drawn = drawing.order(SEED, "0" * 64, ["ann", "bob", "cy", "dan"])
    assert [k for k, _ in drawn] == sorted(k for k, _ in drawn)


# --- the pre-queue ----------------------------------------------------------------------------


def test_a_register_accepted_in_the_prequeue_is_prequeued_without_a_seat_or_a_place() -> None:
    seats = a_draw(max_party_size=2)
    outcome = seats.register("ann", 2, during_prequeue())
    assert outcome == Prequeued("ann", 2)
    assert seats.membership("ann").standing is Standing.PREQUEUED  # type: ignore[union-attr]
    assert (seats.registered_seats, seats.waitlisted_count, seats.available) == (0, 0, 2)
    assert (seats.prequeued_count, seats.prequeued_seats) == (1, 2)


def test_before_the_prequeue_opens_a_register_is_not_open_yet() -> None:
    seats = a_draw()
    outcome = seats.register("ann", 1, PREQUEUE - dt.timedelta(seconds=1))
    assert outcome == Denied("ann", DenialCode.REGISTRATION_NOT_OPEN)


def test_a_second_register_in_the_prequeue_is_denied_already_prequeued() -> None:
    seats = a_draw()
    seats.register("ann", 1, during_prequeue())
    assert seats.register("ann", 1, during_prequeue(2)) == Denied(
        "ann", DenialCode.ALREADY_PREQUEUED
    )


def test_unregistering_leaves_the_prequeue() -> None:
    seats = a_draw()
    seats.register("ann", 1, during_prequeue())
    left = seats.unregister("ann", during_prequeue(2))
    assert left.left is Standing.PREQUEUED  # type: ignore[union-attr]
    assert seats.prequeued_count == 0
    assert seats.invariant_violations() == []


# --- settings: the commitment, its validation and its lock ------------------------------------


@pytest.mark.parametrize(
    ("prequeue", "opens"),
    [(None, OPENS), (PREQUEUE, None), (OPENS, OPENS), (OPENS, PREQUEUE)],
)
def test_a_draw_needs_a_prequeue_before_the_opening(
    prequeue: dt.datetime | None, opens: dt.datetime | None
) -> None:
    with pytest.raises(InvalidInput) as refused:
        EventSeats.empty(
            5,
            opening=Opening.DRAW,
            prequeue_opens_at=prequeue,
            registration_opens_at=opens,
            draw_commitment=COMMITMENT,
        )
    assert refused.value.field == "prequeueOpensAt"


def test_becoming_a_draw_takes_the_servers_commitment_and_only_then() -> None:
    seats = EventSeats.empty(5)
    with pytest.raises(InvalidInput):  # no commitment, no draw
        seats.reconfigure(
            Reconfigure(
                opening=Opening.DRAW, prequeue_opens_at=PREQUEUE, registration_opens_at=OPENS
            )
        )
    changed = seats.reconfigure(
        Reconfigure(
            opening=Opening.DRAW,
            prequeue_opens_at=PREQUEUE,
            registration_opens_at=OPENS,
            draw_commitment=COMMITMENT,
        )
    )
    assert ("drawCommitment", None, COMMITMENT) in changed.changes
    # A later update cannot swap the commitment for another.
    seats.reconfigure(Reconfigure(capacity=6, draw_commitment="f" * 64))
    assert seats.draw_commitment == COMMITMENT


@pytest.mark.parametrize(
    "change",
    [
        Reconfigure(opening=Opening.FIFO),
        Reconfigure(prequeue_opens_at=PREQUEUE + dt.timedelta(minutes=1)),
        Reconfigure(registration_opens_at=OPENS + dt.timedelta(minutes=1)),
    ],
)
def test_after_the_prequeue_opens_the_draws_times_are_locked(change: Reconfigure) -> None:
    seats = a_draw()
    seats.now = during_prequeue()
    before = copy.deepcopy(seats)
    with pytest.raises(DrawLocked):
        seats.reconfigure(change)
    assert seats == before
    seats.reconfigure(Reconfigure(capacity=9))  # the rest may change
    assert seats.capacity == 9


def test_before_the_prequeue_opens_the_times_may_move() -> None:
    seats = a_draw()
    seats.now = PREQUEUE - dt.timedelta(minutes=1)
    seats.reconfigure(Reconfigure(registration_opens_at=OPENS + dt.timedelta(hours=1)))
    assert seats.draw_due() == OPENS + dt.timedelta(hours=1)


# --- the draw ---------------------------------------------------------------------------------


def test_the_draw_registers_the_prequeue_in_key_order_as_registers_at_the_opening() -> None:
    seats = a_draw(capacity=2, waitlist_enabled=True)
    for minute, user in enumerate(["ann", "bob", "cy", "dan"], start=1):
        seats.register(user, 1, during_prequeue(minute))
    closing = "c" * 64

    outcome = seats.draw(closing)

    expected = [u for _, u in drawing.order(SEED, closing, ["ann", "bob", "cy", "dan"])]
    assert [p.user_id for p in outcome.drawn] == expected
    assert [(p.status, p.position) for p in outcome.drawn] == [
        ("registered", None),
        ("registered", None),
        ("waitlisted", 1),
        ("waitlisted", 2),
    ]
    assert outcome.seed == SEED.hex()
    assert seats.draw_due() is None
    assert seats.prequeued_count == 0
    assert seats.invariant_violations() == []


def test_a_seed_that_does_not_match_the_commitment_is_refused() -> None:
    seats = a_draw()
    seats.draw_seed = bytes(32)
    with pytest.raises(InvalidInput, match="commitment"):
        seats.draw("0" * 64)


user_ids = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12),
    min_size=0,
    max_size=25,
    unique=True,
)


def _prequeued(
    ids: list[str], capacity: int, waitlist: bool, policy: Policy, seed: bytes
) -> EventSeats:
    seats = a_draw(capacity=capacity, seed=seed, waitlist_enabled=waitlist, policy=policy)
    seats.max_party_size = min(3, capacity)
    for n, user in enumerate(ids):
        seats.register(user, 1 + n % seats.max_party_size, during_prequeue(1 + n % 50))
    return seats


@settings(max_examples=100, deadline=None)
@given(ids=user_ids, seed=st.binary(min_size=32, max_size=32), data=st.data())
def test_the_order_depends_on_seed_closing_hash_and_ids_alone(  # Property 47: ...
    ids: list[str], seed: bytes, data: st.DataObject
) -> None:
    """Property 47: the drawn order and keys are a function of (seed, closing hash, ids), not of
    the order the parties arrived in."""
    closing = data.draw(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
    shuffled = list(ids)
    random.Random(data.draw(st.integers())).shuffle(shuffled)
    first = _prequeued(ids, 5, True, Policy.STRICT, seed).draw(closing)
    second = _prequeued(shuffled, 5, True, Policy.STRICT, seed).draw(closing)
    assert [(p.user_id, p.key) for p in first.drawn] == [(p.user_id, p.key) for p in second.drawn]
    assert [(p.key, p.user_id) for p in first.drawn] == drawing.order(seed, closing, ids)


@settings(max_examples=100, deadline=None)
@given(
    ids=user_ids,
    seed=st.binary(min_size=32, max_size=32),
    capacity=st.integers(3, 12),
    waitlist=st.booleans(),
    policy=st.sampled_from(Policy),
)
def test_every_prequeued_party_is_drawn_exactly_once(  # Property 48: ...
    ids: list[str], seed: bytes, capacity: int, waitlist: bool, policy: Policy
) -> None:
    """Property 48: every pre-queued party is drawn exactly once, and none stays pre-queued."""
    seats = _prequeued(ids, capacity, waitlist, policy, seed)
    outcome = seats.draw("0" * 64)
    assert sorted(p.user_id for p in outcome.drawn) == sorted(ids)
    assert seats.prequeued_count == seats.prequeued_seats == 0
    assert not any(
        m is not None and m.standing is Standing.PREQUEUED for m in seats.members.values()
    )
    assert seats.invariant_violations() == []


@settings(max_examples=100, deadline=None)
@given(
    ids=user_ids,
    seed=st.binary(min_size=32, max_size=32),
    capacity=st.integers(3, 12),
    waitlist=st.booleans(),
    policy=st.sampled_from(Policy),
)
def test_the_draw_equals_registering_one_by_one_in_drawn_order(  # Property 49: ...
    ids: list[str], seed: bytes, capacity: int, waitlist: bool, policy: Policy
) -> None:
    """Property 49: the draw's outcome equals registering the parties one by one, in drawn
    order, at the opening, on the same event without its pre-queue."""
    seats = _prequeued(ids, capacity, waitlist, policy, seed)
    parties = {u: m.seats for u, m in seats.members.items() if m is not None}  # all pre-queued here
    by_hand = copy.deepcopy(seats)
    for user in parties:
        by_hand._leave(user)
    outcome = seats.draw("0" * 64)

    for party in outcome.drawn:
        got = by_hand.register(party.user_id, parties[party.user_id], OPENS)
        match got:
            case Registered():
                assert (party.status, party.position) == ("registered", None)
            case Waitlisted(position=position):
                assert (party.status, party.position) == ("waitlisted", position)
            case Denied():
                assert (party.status, party.position) == ("denied", None)
    assert seats.members == by_hand.members
    assert list(seats.waitlist) == list(by_hand.waitlist)
    assert (seats.registered_seats, seats.waitlist_seats) == (
        by_hand.registered_seats,
        by_hand.waitlist_seats,
    )


@settings(max_examples=100, deadline=None)
@given(
    early=user_ids,
    late=st.lists(st.sampled_from(["late1", "late2", "late3", "late4"]), unique=True),
    capacity=st.integers(3, 12),
    whole=st.booleans(),
)
def test_nobody_registered_after_the_opening_is_ahead_of_a_drawn_party(  # Property 50: ...
    early: list[str], late: list[str], capacity: int, whole: bool
) -> None:
    """Property 50: in a pass, the draw comes before every command accepted at or after the
    opening: no later register takes a seat or a place ahead of a drawn party."""
    prequeued = [u for u in early if not u.startswith("late")]
    seats = _prequeued(prequeued, capacity, True, Policy.FILL, SEED)
    tickets = [
        FakeTicket(f"t{n}", "register", user, EVENT, OPENS + dt.timedelta(milliseconds=n))
        for n, user in enumerate(late)
    ]
    now = OPENS + dt.timedelta(seconds=1)
    lines = ticket_lines([EVENT], tickets, set(late), now, whole=whole)
    chain = ledger.Chain({EVENT: ledger.Head(1, "d" * 64)})

    decided = decide({EVENT: seats}, lines, chain, now)

    if late or whole:
        assert seats.draw_due() is None
        kinds = [json.loads(row[2])["kind"] for row in chain.rows]
        assert kinds[0] == "draw"
        drawn = json.loads(chain.rows[0][2])["outcome"]["drawn"]
        drawn_orders = [seats.members[p["userId"]] for p in drawn]
        late_orders = [seats.members[u] for u in late]
        for d in drawn_orders:
            for later in late_orders:
                if d is not None and later is not None:
                    assert d.order < later.order
        assert decided.drawn == 1
    else:
        assert decided.drawn == 0


# --- verifying it from the ledger -------------------------------------------------------------


def _ledger_with_a_draw() -> list[ledger.Entry]:
    seats = a_draw(capacity=2, waitlist_enabled=True)
    created = ledger.seal(ledger.created_entry(EVENT, ledger.settings_json(seats)), "0" * 64)
    chain = ledger.Chain({EVENT: ledger.Head(1, created["hash"])})
    tickets = [
        FakeTicket(f"t{n}", "register", user, EVENT, during_prequeue(n + 1))
        for n, user in enumerate(["ann", "bob", "cy"])
    ]
    tickets.append(FakeTicket("t9", "register", "dan", EVENT, OPENS))
    users = {"ann", "bob", "cy", "dan"}
    now = OPENS + dt.timedelta(seconds=1)
    decide({EVENT: seats}, ticket_lines([EVENT], tickets, users, now), chain, now)
    return [created, *(json.loads(row[2]) for row in chain.rows)]


def test_a_ledger_with_a_draw_verifies() -> None:
    entries = _ledger_with_a_draw()
    assert [e["kind"] for e in entries] == [
        "event_created",
        "ticket",
        "ticket",
        "ticket",
        "draw",
        "ticket",
    ]
    assert entries[0]["outcome"]["drawCommitment"] == COMMITMENT
    draw = entries[4]
    assert set(draw["outcome"]) == {
        "seed",
        "closingHash",
        "drawn",
        "promotedUserIds",
        "offeredUserIds",
    }
    assert draw["outcome"]["closingHash"] == entries[3]["hash"]
    assert verify(entries).ok


def _reseal(entries: list[ledger.Entry], at: int) -> list[ledger.Entry]:
    """Rechain from `at` on, as a forger would (so only the draw's checks can catch it)."""
    resealed = entries[:at]
    for entry in entries[at:]:
        body = {k: v for k, v in entry.items() if k not in {"prevHash", "hash"}}
        resealed.append(ledger.seal(body, resealed[-1]["hash"]))
    return resealed


def test_a_draw_with_another_seed_fails_verification_at_the_commitment() -> None:
    entries = _ledger_with_a_draw()
    entries[4]["outcome"]["seed"] = "00" * 32
    verdict = verify(_reseal(entries, 4))
    assert verdict.divergence is not None
    assert verdict.divergence.index == 5
    assert "commitment" in verdict.divergence.what


def test_a_draw_in_another_order_fails_verification() -> None:
    entries = _ledger_with_a_draw()
    drawn = entries[4]["outcome"]["drawn"]
    drawn[0], drawn[1] = drawn[1], drawn[0]
    verdict = verify(_reseal(entries, 4))
    assert verdict.divergence is not None
    assert verdict.divergence.index == 5


def test_replay_shows_who_would_have_won_by_arriving_first() -> None:
    entries = _ledger_with_a_draw()
    drawn = entries[4]["outcome"]["drawn"]
    seated_by_draw = {p["userId"] for p in drawn if p["status"] == "registered"}

    comparison = compare(entries, Scenario(Policy.STRICT, opening=Opening.FIFO))

    assert set(comparison.actual.seated_end) == seated_by_draw
    assert set(comparison.what_if.seated_end) == {"ann", "bob"}  # the first two to arrive


def test_replaying_a_draw_as_recorded_draws_it_again() -> None:
    entries = _ledger_with_a_draw()
    comparison = compare(entries, Scenario(Policy.STRICT))
    assert comparison.what_if.seated_end == comparison.actual.seated_end
