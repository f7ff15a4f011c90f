"""The ledger (contract v2): every ledger a writer records through the rules verifies, and any
tampering with it (an altered, dropped or reordered entry, a forged outcome) is caught."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from models.domain import ledger
from models.domain.ledger_verify import Views, verify
from models.domain.rules import UNCHANGED, EventSeats, Policy, Promotion, Reconfigure

from .ledger_writer import T0, Writer

pytestmark = pytest.mark.unit

USERS = ["u0", "u1", "u2", "u3", "u4", "u5"]
# A user is named relative to the step's place in the plan (see `run`), so the simplest plans
# already name many users, not u0 over and over.
users = st.integers(0, 11)


@st.composite
def event_seats(draw: st.DrawFn, *, busy_line: bool = False) -> EventSeats:
    """An event; `busy_line`: one of capacity 1-2 with a waitlist, offers and a short TTL, so
    that most plans make, accept, decline and expire offers."""
    capacity = draw(st.integers(1, 2 if busy_line else 3))
    opens = closes = unregister_closes = None
    if draw(st.integers(0, 3)) == 0:  # windows now and then: most steps should register
        opens = T0 + dt.timedelta(milliseconds=draw(st.integers(-3000, 1000)))
        closes = opens + dt.timedelta(milliseconds=draw(st.integers(30_000, 120_000)))
        unregister_closes = T0 + dt.timedelta(milliseconds=draw(st.integers(0, 60_000)))
    seats = EventSeats.empty(
        capacity,
        waitlist_enabled=busy_line or draw(st.integers(0, 3)) > 0,
        max_party_size=draw(st.integers(1, min(3, capacity))),
        policy=draw(st.sampled_from(Policy)),
        bypass_limit=draw(st.integers(0, 2)),
        promotion=Promotion.OFFER if busy_line else draw(st.sampled_from(Promotion)),
        offer_ttl_seconds=5 if busy_line else draw(st.integers(5, 20)),
        registration_opens_at=opens,
        registration_closes_at=closes,
        unregister_closes_at=unregister_closes,
    )
    seats.now = T0
    return seats


updates = st.builds(
    Reconfigure,
    capacity=st.none() | st.integers(1, 6),
    waitlist_enabled=st.none() | st.booleans(),
    max_party_size=st.none() | st.integers(1, 3),
    policy=st.none() | st.sampled_from(Policy),
    bypass_limit=st.none() | st.integers(0, 2),
    promotion=st.none() | st.sampled_from(Promotion),
    offer_ttl_seconds=st.none() | st.integers(5, 20),
    registration_closes_at=st.sampled_from([UNCHANGED, None, T0 + dt.timedelta(seconds=30)]),
)

# (name, arguments): what happens to the event, one step at a time
STEPS: dict[str, st.SearchStrategy[tuple[Any, ...]]] = {
    "register": st.tuples(st.just("register"), users, st.sampled_from([1, 1, 2, 3])),
    "unregister": st.tuples(st.just("unregister"), users),
    "accept": st.tuples(st.just("accept"), users, st.integers(0, 3000)),
    "decline": st.tuples(st.just("decline"), users),
    "tick": st.tuples(st.just("tick"), st.integers(1, 12_000)),
    "expire": st.tuples(st.just("expire")),
    "update": st.tuples(st.just("update"), updates),
    "remove": st.tuples(st.just("remove"), users),
    "unknown": st.tuples(st.just("unknown"), users),
}
# How often each step comes up: mostly demand, now and then the rest.
WEIGHTS = {"register": 8, "unregister": 4, "accept": 2, "decline": 1, "tick": 3, "expire": 2}
steps = st.sampled_from([name for name in STEPS for _ in range(WEIGHTS.get(name, 1))]).flatmap(
    STEPS.__getitem__
)


def pick(writer: Writer, number: int, value: int, among: list[str]) -> str:
    """A user for a step: mostly one the step can act on (`among`), else any, named relative
    to the step's place in the plan so that simple plans still name many users."""
    if among and value % 4:
        return among[(value + number) % len(among)]
    return USERS[(value + number) % len(USERS)]


def run(seats: EventSeats, plan: list[tuple[Any, ...]]) -> Writer:
    """Apply the plan through the rules, recording as the writer does."""
    writer = Writer(seats)
    for number, step in enumerate(plan):
        members = [u for u, m in writer.seats.members.items() if m is not None]
        offered = [u for u, _ in writer.seats.open_offers()]
        match step:
            case ("register", value, party):
                writer.register(pick(writer, number, value, []), party)
            case ("unregister", value):
                writer.unregister(pick(writer, number, value, members))
            case ("accept", value, lag):  # accepted a little before it is applied
                at = writer.now - dt.timedelta(milliseconds=lag)
                writer.accept(pick(writer, number, value, offered), at)
            case ("decline", value):
                writer.decline(pick(writer, number, value, offered))
            case ("tick", milliseconds):
                writer.tick(milliseconds)
            case ("expire",):
                writer.expire_due()
            case ("update", change):
                writer.update(change)
            case ("remove", value):
                writer.remove(pick(writer, number, value, members))
            case ("unknown", value):
                user = pick(writer, number, value, [])
                if writer.seats.members.get(user) is None:
                    writer.unknown_user(user)
    return writer


plans = st.lists(steps, min_size=20, max_size=60)
ledgers = st.builds(run, event_seats(), plans) | st.builds(run, event_seats(busy_line=True), plans)
longer_ledgers = ledgers.filter(lambda w: len(w.entries) >= 3)


def reseal(entries: list[dict[str, Any]], start: int) -> list[dict[str, Any]]:
    """Recompute every hash from entry `start` (1-based) on, as a forger would."""
    sealed = entries[: start - 1]
    for entry in entries[start - 1 :]:
        body = {k: v for k, v in entry.items() if k not in ("prevHash", "hash")}
        sealed.append(ledger.seal(body, sealed[-1]["hash"] if sealed else ledger.GENESIS_HASH))
    return sealed


def altered(value: object) -> object:
    """A different value of a JSON leaf."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return "x"
    if isinstance(value, list):
        return [*value, "x"]
    assert isinstance(value, dict)
    return {**value, "forged": True}


def leaves(value: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every leaf (and every empty list) of a JSON value."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaves(v, (*path, k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in leaves(v, (*path, i))]
    return [path]


def set_at(value: Any, path: tuple[Any, ...], new: object) -> None:
    for key in path[:-1]:
        value = value[key]
    value[path[-1]] = new


def get_at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


# Property 34: every ledger the writer records through the rules (parties, both policies,
# offers with a clock, windows, updates, removals, expiries, deleted users) verifies, and its
# final state agrees with the event's views.
@settings(max_examples=500, deadline=None)
@given(writer=ledgers)
def test_every_written_ledger_verifies(writer: Writer) -> None:
    kinds = {e["kind"] for e in writer.entries}
    event(f"entries: {min(len(writer.entries) // 10 * 10, 40)}+")
    for kind in sorted(kinds - {"event_created", "ticket"}):
        event(f"has {kind}")
    if any(e["outcome"].get("offers") for e in writer.entries):
        event("has offers")
    if any(e["type"] == "accept_offer" and not e["outcome"]["code"] for e in writer.entries):
        event("has an accepted offer")
    if any(e["outcome"].get("promotedUserIds") for e in writer.entries):
        event("has promotions")
    verdict = verify(writer.entries, writer.views(), event_id="evt_1")
    assert verdict.divergence is None, str(verdict.divergence)
    assert verdict.entries == len(writer.entries)
    assert verdict.last_hash == writer.entries[-1]["hash"]
    assert verdict.unchecked == ()


# Property 35: an entry altered in any field, without resealing, is caught at that entry.
@settings(max_examples=200, deadline=None)
@given(writer=ledgers, data=st.data())
def test_a_tampered_entry_is_caught_where_it_is(writer: Writer, data: st.DataObject) -> None:
    entries = copy.deepcopy(writer.entries)
    index = data.draw(st.integers(1, len(entries)))
    path = data.draw(st.sampled_from(leaves(entries[index - 1])))
    set_at(entries[index - 1], path, altered(get_at(entries[index - 1], path)))
    verdict = verify(entries)
    assert verdict.divergence is not None
    assert verdict.divergence.index == index


# Property 36: a dropped entry (any but the last: see docs/LEDGER.md) is caught where the gap is.
@settings(max_examples=200, deadline=None)
@given(writer=longer_ledgers, data=st.data())
def test_a_dropped_entry_is_caught(writer: Writer, data: st.DataObject) -> None:
    index = data.draw(st.integers(1, len(writer.entries) - 1))
    entries = writer.entries[: index - 1] + writer.entries[index:]
    verdict = verify(entries, writer.views())
    assert verdict.divergence is not None
    assert verdict.divergence.index == index


# Property 37: two entries swapped are caught at the first of them.
@settings(max_examples=200, deadline=None)
@given(writer=longer_ledgers, data=st.data())
def test_a_reordered_pair_is_caught(writer: Writer, data: st.DataObject) -> None:
    first = data.draw(st.integers(1, len(writer.entries) - 1))
    second = data.draw(st.integers(first + 1, len(writer.entries)))
    entries = list(writer.entries)
    entries[first - 1], entries[second - 1] = entries[second - 1], entries[first - 1]
    verdict = verify(entries)
    assert verdict.divergence is not None
    assert verdict.divergence.index == first


# Property 38: a forged outcome, with the chain resealed from it on (so every hash checks
# out), is caught at that entry by the replay. (An update's `to` values are its command, not
# its outcome, and an offer's end is the clock the entry certifies itself: the views catch
# those, see test_forged_settings_are_caught and test_a_forged_offer_end_is_caught_by_the_views.)
@settings(max_examples=300, deadline=None)
@given(writer=longer_ledgers, data=st.data())
def test_a_forged_outcome_is_caught_by_the_replay(writer: Writer, data: st.DataObject) -> None:
    entries = copy.deepcopy(writer.entries)
    index = data.draw(st.integers(2, len(entries)))
    outcome = entries[index - 1]["outcome"]
    paths = [
        p
        for p in leaves(outcome)
        if not (p[:1] == ("offers",) and p[-1] == "expiresAt")  # the clock: see below
        and not (p[:1] == ("changes",) and p[-1] == "to")  # the update itself: the command
    ]
    path = data.draw(st.sampled_from(paths))
    if path:
        set_at(outcome, path, altered(get_at(outcome, path)))
    else:
        entries[index - 1]["outcome"] = altered(outcome)
    verdict = verify(reseal(entries, index))
    assert verdict.divergence is not None
    assert verdict.divergence.index == index
    assert "outcome" in verdict.divergence.what or "replayed" in verdict.divergence.what


# Property 39: forged settings at creation (resealed) never pass both the replay and the views.
@settings(max_examples=200, deadline=None)
@given(writer=ledgers, data=st.data())
def test_forged_settings_are_caught(writer: Writer, data: st.DataObject) -> None:
    entries = copy.deepcopy(writer.entries)
    name = data.draw(st.sampled_from(["capacity", "maxPartySize", "bypassLimit", "waitlistPolicy"]))
    settings_ = entries[0]["outcome"]
    settings_[name] = {
        "capacity": settings_["capacity"] + 1,
        "maxPartySize": max(1, settings_["maxPartySize"] - 1),
        "bypassLimit": settings_["bypassLimit"] + 1,
        "waitlistPolicy": "fill" if settings_["waitlistPolicy"] == "strict" else "strict",
    }[name]
    if settings_ == writer.entries[0]["outcome"]:
        return  # maxPartySize was 1 already: nothing forged
    assert not verify(reseal(entries, 1), writer.views()).ok


def test_a_forged_offer_end_is_caught_by_the_views() -> None:
    writer = Writer(
        EventSeats.empty(1, waitlist_enabled=True, promotion=Promotion.OFFER, offer_ttl_seconds=60)
    )
    writer.register("ann")
    writer.register("bob")
    writer.tick(1000)
    writer.unregister("ann")  # bob is offered the seat until T0 + 61 s
    entries = copy.deepcopy(writer.entries)
    entries[-1]["outcome"]["offers"][0]["expiresAt"] = "2030-01-01T09:05:00.000Z"
    forged = reseal(entries, len(entries))
    assert verify(forged).ok  # the entry alone cannot date its offers ...
    verdict = verify(forged, writer.views())  # ... the offers view can
    assert verdict.divergence is not None
    assert verdict.divergence.index is None
    assert "offers" in verdict.divergence.what


def test_offers_dated_before_their_ticket_was_accepted_are_caught() -> None:
    writer = Writer(
        EventSeats.empty(1, waitlist_enabled=True, promotion=Promotion.OFFER, offer_ttl_seconds=60)
    )
    writer.register("ann")
    writer.register("bob")
    writer.tick(1000)
    writer.unregister("ann")
    entries = copy.deepcopy(writer.entries)
    entries[-1]["outcome"]["offers"][0]["expiresAt"] = "2030-01-01T09:00:30.000Z"
    verdict = verify(reseal(entries, len(entries)))
    assert verdict.divergence is not None
    assert verdict.divergence.index == len(entries)
    assert "before the ticket was accepted" in verdict.divergence.what


def test_a_user_not_found_ticket_of_a_user_holding_a_place_is_caught() -> None:
    writer = Writer(EventSeats.empty(2))
    writer.register("ann")
    writer.unknown_user("ann", "unregister")  # a writer bug: ann still holds her seat
    verdict = verify(writer.entries)
    assert verdict.divergence is not None
    assert verdict.divergence.index == 3
    assert "USER_NOT_FOUND" in verdict.divergence.what


def test_views_that_disagree_are_caught() -> None:
    writer = Writer(EventSeats.empty(2, waitlist_enabled=True))
    writer.register("ann")
    views = writer.views()
    assert verify(writer.entries, views).ok
    assert views.event is not None
    wrong = Views({**views.event, "registeredCount": 2}, views.waitlist, [], [])
    verdict = verify(writer.entries, wrong)
    assert verdict.divergence is not None
    assert "registeredCount" in verdict.divergence.what
    assert not verify(writer.entries, Views(registrations=[])).ok


def test_the_entry_shape_by_example() -> None:
    writer = Writer(EventSeats.empty(1, waitlist_enabled=True))
    result = writer.register("ann", 1)
    entry = writer.entries[1]
    assert entry == {
        "index": 2,
        "eventId": "evt_1",
        "kind": "ticket",
        "ticketId": "t0001",
        "type": "register",
        "userId": "ann",
        "seats": 1,
        "acceptedAt": "2030-01-01T09:00:00.000Z",
        "outcome": {k: v for k, v in result.items() if k not in ("ledgerIndex", "ledgerHash")},
        "prevHash": writer.entries[0]["hash"],
        "hash": entry["hash"],
    }
    assert writer.entries[0]["prevHash"] == "0" * 64
    assert result["ledgerIndex"] == 2
    assert result["ledgerHash"] == ledger.entry_hash(entry)
    assert ledger.canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


# Property 51: the writer's sealed text (each value encoded once, joined around `hash`) is the
# canonical JSON of the sealed entry, and its hash is the hash of the entry without it, for any
# keys: those sorting just before or after "hash", unicode, nested values that hold "hash" too.
@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["index", "eventId", "acceptedAt", "hasg", "hash0", "h", "zz", "é"])
        | st.text(max_size=6).filter(lambda key: key not in {"hash", "prevHash"}),
        _JSON_VALUES,
        max_size=8,
    ),
    st.text(max_size=64),
)
def test_the_sealed_text_is_the_canonical_entry(body: dict[str, Any], prev_hash: str) -> None:
    entry, text = ledger.sealed_with_text(body, prev_hash)

    assert text == ledger.canonical(entry).decode()
    assert entry["hash"] == ledger.entry_hash(entry)
    assert entry["prevHash"] == prev_hash
