"""Property tests for the pure registration rules (`models.domain.rules`, `models.domain.identity`)
and the
standings oracle (`tests/unit/standings.py`), checked against the contract and a naive reference.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from models.domain.errors import CapacityBelowRegistered, InvalidCapacity, InvalidInput
from models.domain.identity import check_id, check_name
from models.domain.rules import (
    CapacityChanged,
    ChangeCapacity,
    Command,
    DenialCode,
    Denied,
    EventSeats,
    Registered,
    RemoveUser,
    Standing,
    Unregister,
    Unregistered,
    UserRemoved,
    Waitlisted,
)

from .reference_model import reference_registrations, reference_waitlists
from .standings import registrations_of, waitlists_of
from .strategies import (
    USER_IDS,
    Scenario,
    Step,
    blank_strings,
    capacities,
    commands,
    invalid_capacities,
    malformed_ids,
    padded_names,
    run_rules,
    scenarios,
    seated_users,
    standing_of,
    step_user_ids,
    steps,
    valid_ids,
    waiting_users,
    walk,
)

pytestmark = pytest.mark.unit

# Histories that leave some events empty, some full, some with a queue.
busy_scenarios = st.one_of(
    scenarios(),
    scenarios(full=True),
    scenarios(waitlist_enabled=True, min_waiting=1),
)

long_step_lists = st.lists(steps, max_size=40)


def members_of(seats: EventSeats) -> list[str]:
    return [user_id for user_id, membership in seats.members.items() if membership is not None]


def some_user(data: st.DataObject, scenario: Scenario) -> str:
    """A pool user, a member (possibly a fresh one from the setup), or a stranger."""
    candidates = sorted({*USER_IDS, *members_of(scenario.seats), scenario.outsider("x")})
    return data.draw(st.sampled_from(candidates))


def newcomer(data: st.DataObject, scenario: Scenario) -> str:
    """A user with no standing at the event: an unused pool id or a fresh one."""
    unused = [user_id for user_id in USER_IDS if standing_of(scenario.seats, user_id) is None]
    return data.draw(st.sampled_from([*unused, scenario.outsider("n")]))


# Property 1: a valid id comes back unchanged, a valid name comes back trimmed, and checking
# either result again returns it unchanged.
@settings(max_examples=200)
@given(user_id=valid_ids, name=padded_names())
def test_valid_ids_and_names_round_trip(user_id: str, name: tuple[str, str]) -> None:
    checked_id = check_id("userId", user_id)
    assert checked_id == user_id
    assert check_id("userId", checked_id) == checked_id

    raw, trimmed = name
    checked_name = check_name(raw)
    assert checked_name == trimmed
    assert check_name(checked_name) == checked_name


# Property 2: blank names, empty or malformed ids and blank user ids in commands raise
# InvalidInput, and a refused command changes nothing.
@settings(max_examples=200)
@given(
    blank_name=blank_strings,
    bad_id=malformed_ids,
    blank_user_id=blank_strings,
    scenario=busy_scenarios,
    rule=st.sampled_from([EventSeats.register, EventSeats.unregister, EventSeats.remove_user]),
)
def test_blank_or_malformed_input_is_rejected_and_changes_nothing(
    blank_name: str,
    bad_id: object,
    blank_user_id: str,
    scenario: Scenario,
    rule: Callable[[EventSeats, str], object],
) -> None:
    with pytest.raises(InvalidInput):
        check_name(blank_name)
    with pytest.raises(InvalidInput):
        check_id("userId", bad_id)

    before = copy.deepcopy(scenario.seats)
    with pytest.raises(InvalidInput):
        rule(scenario.seats, blank_user_id)
    assert scenario.seats == before


# Property 3: over any command sequence the registered count never exceeds the capacity.
@settings(max_examples=200)
@given(capacity=capacities, enabled=st.booleans(), history=long_step_lists)
def test_registered_count_never_exceeds_capacity(
    capacity: int, enabled: bool, history: list[Step]
) -> None:
    for seats in walk(capacity, enabled, history):
        assert seats.registered_count <= seats.capacity
        assert len(seated_users(seats)) <= seats.capacity


# Property 4: a capacity below 1, a bool or a non-int is refused by EventSeats.empty and by
# change_capacity, and a capacity below the registered count is refused; neither changes
# anything.
@settings(max_examples=200)
@given(
    bad_capacity=invalid_capacities,
    enabled=st.booleans(),
    scenario=busy_scenarios,
    shortfall=st.integers(min_value=1, max_value=5),
)
def test_invalid_capacities_are_refused_and_change_nothing(
    bad_capacity: Any, enabled: bool, scenario: Scenario, shortfall: int
) -> None:
    with pytest.raises(InvalidCapacity):
        EventSeats.empty(bad_capacity, waitlist_enabled=enabled)

    before = copy.deepcopy(scenario.seats)
    with pytest.raises(InvalidCapacity):
        scenario.seats.change_capacity(bad_capacity)
    assert scenario.seats == before

    too_small = scenario.seats.registered_count - shortfall
    if too_small >= 1:
        with pytest.raises(CapacityBelowRegistered):
            scenario.seats.change_capacity(too_small)
        assert scenario.seats == before


# Property 5: registering on a full event whose waitlist is enabled waitlists the user at
# the end, with position equal to the new waitlist length.
@settings(max_examples=200)
@given(scenario=scenarios(waitlist_enabled=True, full=True), data=st.data())
def test_registering_on_a_full_event_with_a_waitlist_queues_at_the_end(
    scenario: Scenario, data: st.DataObject
) -> None:
    seats = scenario.seats
    user_id = newcomer(data, scenario)
    queue_before = list(seats.waitlist)
    seated_before = seated_users(seats)

    outcome = seats.register(user_id)

    assert outcome == Waitlisted(user_id, position=len(queue_before) + 1)
    assert outcome.position == len(seats.waitlist) == seats.waitlisted_count
    assert list(seats.waitlist) == [*queue_before, user_id]
    assert seats.position(user_id) == outcome.position
    assert seated_users(seats) == seated_before


# Property 6: registering on a full event without a waitlist is denied EVENT_FULL and
# changes nothing.
@settings(max_examples=200)
@given(scenario=scenarios(waitlist_enabled=False, full=True), data=st.data())
def test_registering_on_a_full_event_without_a_waitlist_is_denied(
    scenario: Scenario, data: st.DataObject
) -> None:
    user_id = newcomer(data, scenario)
    before = copy.deepcopy(scenario.seats)

    assert scenario.seats.register(user_id) == Denied(user_id, DenialCode.EVENT_FULL)
    assert scenario.seats == before


# Property 7: registering with a free seat gives the user that seat.
@settings(max_examples=200)
@given(scenario=scenarios(free_seats=1), data=st.data())
def test_registering_with_a_free_seat_seats_the_user(
    scenario: Scenario, data: st.DataObject
) -> None:
    seats = scenario.seats
    user_id = newcomer(data, scenario)
    registered_before = seats.registered_count
    seated_before = seated_users(seats)

    assert seats.register(user_id) == Registered(user_id)
    assert standing_of(seats, user_id) == Standing.REGISTERED
    assert seats.registered_count == registered_before + 1
    assert seated_users(seats) == [*seated_before, user_id]
    assert not seats.waitlist


# Property 8: registering again is denied ALREADY_REGISTERED or ALREADY_WAITLISTED, by the
# user's standing, and changes nothing.
@settings(max_examples=200)
@given(scenario=busy_scenarios, data=st.data())
def test_registering_twice_is_denied_and_changes_nothing(
    scenario: Scenario, data: st.DataObject
) -> None:
    members = members_of(scenario.seats)
    assume(members)
    user_id = data.draw(st.sampled_from(sorted(members)))
    membership = scenario.seats.members[user_id]
    assert membership is not None
    expected_code = {
        Standing.REGISTERED: DenialCode.ALREADY_REGISTERED,
        Standing.WAITLISTED: DenialCode.ALREADY_WAITLISTED,
    }[membership.standing]
    before = copy.deepcopy(scenario.seats)

    assert scenario.seats.register(user_id) == Denied(user_id, expected_code)
    assert scenario.seats == before


# Property 9: a seated or waiting user who unregisters leaves; anyone else is denied
# NOT_REGISTERED and nothing changes.
@settings(max_examples=200)
@given(scenario=busy_scenarios, data=st.data())
def test_unregistering_removes_a_member_and_denies_anyone_else(
    scenario: Scenario, data: st.DataObject
) -> None:
    seats = scenario.seats
    user_id = some_user(data, scenario)
    standing = standing_of(seats, user_id)
    before = copy.deepcopy(seats)

    outcome = seats.unregister(user_id)

    if standing is None:
        assert outcome == Denied(user_id, DenialCode.NOT_REGISTERED)
        assert seats == before
    else:
        assert isinstance(outcome, Unregistered)
        assert (outcome.user_id, outcome.left) == (user_id, standing)
        assert standing_of(seats, user_id) is None
        assert user_id not in seats.waitlist
    assert run_rules(before, Unregister(user_id)) == scenario.reference.unregister(user_id)


# Property 10: when a seated user unregisters while others wait, the head of the waitlist
# takes the seat in the same step, even if the waitlist has since been turned off.
@settings(max_examples=200)
@given(
    scenario=scenarios(waitlist_enabled=True, min_waiting=1),
    turn_waitlist_off=st.booleans(),
    data=st.data(),
)
def test_a_freed_seat_goes_to_the_head_of_the_waitlist(
    scenario: Scenario, turn_waitlist_off: bool, data: st.DataObject
) -> None:
    seats = scenario.seats
    if turn_waitlist_off:
        seats.waitlist_enabled = False
    leaver = data.draw(st.sampled_from(seated_users(seats)))
    queue_before = list(seats.waitlist)
    registered_before = seats.registered_count

    outcome = seats.unregister(leaver)

    assert outcome == Unregistered(
        leaver, Standing.REGISTERED, promoted_user_ids=(queue_before[0],)
    )
    assert standing_of(seats, queue_before[0]) == Standing.REGISTERED
    assert list(seats.waitlist) == queue_before[1:]
    assert seats.registered_count == registered_before


# Property 11: a user leaving the waitlist frees no seat and the others keep their order.
@settings(max_examples=200)
@given(scenario=scenarios(waitlist_enabled=True, min_waiting=1), data=st.data())
def test_leaving_the_waitlist_keeps_the_others_in_order(
    scenario: Scenario, data: st.DataObject
) -> None:
    seats = scenario.seats
    queue_before = list(seats.waitlist)
    leaver = data.draw(st.sampled_from(queue_before))
    seated_before = seated_users(seats)

    outcome = seats.unregister(leaver)

    assert outcome == Unregistered(leaver, Standing.WAITLISTED, promoted_user_ids=())
    remaining = [user_id for user_id in queue_before if user_id != leaver]
    assert list(seats.waitlist) == remaining
    assert [seats.position(user_id) for user_id in remaining] == list(range(1, len(remaining) + 1))
    assert seated_users(seats) == seated_before


events_of_scenarios = st.lists(busy_scenarios, min_size=1, max_size=4)


# Property 12: registrations_of lists exactly the events where the user holds a seat.
@settings(max_examples=150)
@given(events=events_of_scenarios)
def test_registrations_query_matches_the_reference(events: list[Scenario]) -> None:
    seats = {f"e{index}": scenario.seats for index, scenario in enumerate(events)}
    reference = {f"e{index}": scenario.reference for index, scenario in enumerate(events)}
    everyone = {*USER_IDS, *(u for event in seats.values() for u in members_of(event))}
    for user_id in sorted(everyone | {"stranger"}):
        assert registrations_of(user_id, seats) == reference_registrations(user_id, reference)


# Property 13: waitlists_of lists exactly the events whose waitlist holds the user, with the
# user's 1-based position.
@settings(max_examples=150)
@given(events=events_of_scenarios)
def test_waitlists_query_matches_the_reference(events: list[Scenario]) -> None:
    seats = {f"e{index}": scenario.seats for index, scenario in enumerate(events)}
    reference = {f"e{index}": scenario.reference for index, scenario in enumerate(events)}
    everyone = {*USER_IDS, *(u for event in seats.values() for u in members_of(event))}
    for user_id in sorted(everyone | {"stranger"}):
        assert waitlists_of(user_id, seats) == reference_waitlists(user_id, reference)


freeing_actions = st.one_of(
    st.tuples(st.just("unregister"), st.integers(min_value=0, max_value=9)),
    st.tuples(st.just("remove"), st.integers(min_value=0, max_value=9)),
    st.tuples(st.just("leave_waitlist"), st.integers(min_value=0, max_value=9)),
    st.tuples(st.just("raise"), st.integers(min_value=1, max_value=3)),
)


# Property 14: whatever frees the seats (unregistering, user removal, a capacity raise),
# waiters are promoted in the order they joined.
@settings(max_examples=200)
@given(
    capacity=capacities,
    join_order=st.permutations([f"w{i}" for i in range(6)]).flatmap(
        lambda order: st.integers(min_value=1, max_value=6).map(lambda n: order[:n])
    ),
    actions=st.lists(freeing_actions, max_size=12),
)
def test_promotion_follows_the_order_of_joining(
    capacity: int, join_order: list[str], actions: list[tuple[str, int]]
) -> None:
    seats = EventSeats.empty(capacity, waitlist_enabled=True)
    for index in range(capacity):
        seats.register(f"s{index}")
    for user_id in join_order:
        assert isinstance(seats.register(user_id), Waitlisted)

    # Join order is a random permutation, so sorting by id would not pass by luck.
    still_waiting = list(join_order)
    for action, number in actions:
        promoted: tuple[str, ...] = ()
        if action == "raise":
            raised = seats.change_capacity(seats.capacity + number)
            promoted = raised.promoted_user_ids
        elif action == "leave_waitlist":
            if not still_waiting:
                continue
            leaver = still_waiting.pop(number % len(still_waiting))
            assert seats.unregister(leaver) == Unregistered(leaver, Standing.WAITLISTED)
        else:
            seated = seated_users(seats)
            if not seated:
                continue
            leaver = seated[number % len(seated)]
            rule = EventSeats.unregister if action == "unregister" else EventSeats.remove_user
            left = rule(seats, leaver)
            assert isinstance(left, Unregistered | UserRemoved)
            promoted = left.promoted_user_ids
        for user_id in promoted:
            assert user_id == still_waiting.pop(0)
    assert list(seats.waitlist) == still_waiting


# Property 15: capacity is conserved: the seats taken plus the seats available always make
# the capacity, and available is never negative.
@settings(max_examples=200)
@given(capacity=capacities, enabled=st.booleans(), history=long_step_lists)
def test_seats_taken_plus_seats_available_make_the_capacity(
    capacity: int, enabled: bool, history: list[Step]
) -> None:
    for seats in walk(capacity, enabled, history):
        assert len(seated_users(seats)) + seats.available == seats.capacity
        assert seats.available >= 0


# Property 16: the counters always equal the member rows.
@settings(max_examples=200)
@given(capacity=capacities, enabled=st.booleans(), history=long_step_lists)
def test_counts_equal_the_member_rows(capacity: int, enabled: bool, history: list[Step]) -> None:
    for seats in walk(capacity, enabled, history):
        assert seats.registered_count == len(seated_users(seats))
        assert seats.waitlisted_count == len(waiting_users(seats)) == len(seats.waitlist)


# Property 17: no user is both seated and waiting, nor waits twice, and the waitlist holds
# positions 1..n in the order of joining.
@settings(max_examples=200)
@given(capacity=capacities, enabled=st.booleans(), history=long_step_lists)
def test_no_user_is_both_seated_and_waiting(
    capacity: int, enabled: bool, history: list[Step]
) -> None:
    for seats in walk(capacity, enabled, history):
        queue = list(seats.waitlist)
        assert not set(seated_users(seats)) & set(queue)
        assert len(set(queue)) == len(queue)
        assert queue == waiting_users(seats)
        assert [seats.position(user_id) for user_id in queue] == list(range(1, len(queue) + 1))


# Property 18: people only wait when the event is full.
@settings(max_examples=200)
@given(capacity=capacities, enabled=st.booleans(), history=long_step_lists)
def test_a_non_empty_waitlist_means_a_full_event(
    capacity: int, enabled: bool, history: list[Step]
) -> None:
    for seats in walk(capacity, enabled, history):
        if seats.waitlist:
            assert seats.available == 0


# Property 19: raising the capacity by r promotes exactly min(r, waiting) heads, in order.
@settings(max_examples=200)
@given(
    scenario=scenarios(waitlist_enabled=True, min_waiting=1),
    raise_by=st.integers(min_value=1, max_value=6),
    turn_waitlist_off=st.booleans(),
)
def test_raising_the_capacity_promotes_the_heads_in_order(
    scenario: Scenario, raise_by: int, turn_waitlist_off: bool
) -> None:
    seats = scenario.seats
    if turn_waitlist_off:
        seats.waitlist_enabled = False
    queue_before = list(seats.waitlist)
    registered_before = seats.registered_count
    new_capacity = seats.capacity + raise_by
    promoted_count = min(raise_by, len(queue_before))

    outcome = seats.change_capacity(new_capacity)

    assert outcome == CapacityChanged(new_capacity, tuple(queue_before[:promoted_count]))
    assert list(seats.waitlist) == queue_before[promoted_count:]
    assert seats.registered_count == registered_before + promoted_count
    assert seats.available == raise_by - promoted_count
    for user_id in queue_before[:promoted_count]:
        assert standing_of(seats, user_id) == Standing.REGISTERED


# Property 20: a removed user is nowhere in the event afterwards, and a seat they freed went
# to the head of the waitlist.
@settings(max_examples=200)
@given(scenario=busy_scenarios, data=st.data())
def test_removing_a_user_cascades_out_of_the_event(scenario: Scenario, data: st.DataObject) -> None:
    seats = scenario.seats
    user_id = some_user(data, scenario)
    standing = standing_of(seats, user_id)
    queue_before = list(seats.waitlist)
    before = copy.deepcopy(seats)

    outcome = seats.remove_user(user_id)

    assert isinstance(outcome, UserRemoved)
    assert outcome.left == standing
    assert standing_of(seats, user_id) is None
    assert user_id not in seats.waitlist
    if standing == Standing.REGISTERED and queue_before:
        assert outcome.promoted_user_ids == (queue_before[0],)
        assert standing_of(seats, queue_before[0]) == Standing.REGISTERED
        assert list(seats.waitlist) == queue_before[1:]
    else:
        assert outcome.promoted_user_ids == ()
        assert list(seats.waitlist) == [u for u in queue_before if u != user_id]
    if standing is None:
        assert seats == before
    assert run_rules(before, RemoveUser(user_id)) == scenario.reference.remove_user(user_id)


def window_of(seats: EventSeats, batch: list[Command]) -> EventSeats:
    """What a loader would fetch for `batch`: the counters and the named users first, then
    the first line_needed(batch) heads of the line."""
    named = {command.user_id for command in batch if not isinstance(command, ChangeCapacity)}
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
        members={user_id: copy.deepcopy(seats.members.get(user_id)) for user_id in named},
        complete=False,
    )
    heads = list(seats.waitlist)[: window.line_needed(batch)]
    window.members.update({u: copy.deepcopy(seats.members.get(u)) for u in heads})
    window.waitlist = deque(heads)
    return window


# Property 21: a window onto the event (the named users plus line_needed heads) gives
# the same outcomes, and leaves the same standings for the users it holds, as the complete
# EventSeats.
@settings(max_examples=300)
@given(
    scenario=st.one_of(busy_scenarios, scenarios(waitlist_enabled=True, min_waiting=3)),
    data=st.data(),
)
def test_a_window_decides_like_the_complete_event(scenario: Scenario, data: st.DataObject) -> None:
    complete = scenario.seats
    named_users = st.one_of(
        step_user_ids, st.sampled_from(sorted({*members_of(complete), *USER_IDS}))
    )
    batch = data.draw(st.lists(commands(users=named_users), min_size=1, max_size=8))
    complete.changed.clear()
    window = window_of(complete, batch)

    for command in batch:
        assert run_rules(window, command) == run_rules(complete, command)

    for user_id, membership in window.members.items():
        assert membership == complete.members.get(user_id)
    assert window.changed == complete.changed
    assert (window.capacity, window.registered_count, window.waitlisted_count) == (
        complete.capacity,
        complete.registered_count,
        complete.waitlisted_count,
    )
    assert window.next_order == complete.next_order
    assert list(window.waitlist) == list(complete.waitlist)[: len(window.waitlist)]


# The generators build the rules' state and the reference's from the same history; if they
# drifted apart, the properties that compare against the reference would mislead.
@settings(max_examples=100)
@given(scenario=busy_scenarios)
def test_generated_scenarios_match_the_reference(scenario: Scenario) -> None:
    assert seated_users(scenario.seats) == scenario.reference.seated
    assert list(scenario.seats.waitlist) == scenario.reference.waiting
    assert scenario.seats.capacity == scenario.reference.capacity


corruptions = st.sampled_from(
    [
        "registered_count_off_by_one",
        "waitlisted_count_off_by_one",
        "capacity_below_seats",
        "seat_freed_without_promotion",
        "waitlist_swapped",
        "seated_user_also_waiting",
        "waiting_twice",
    ]
)


# invariant_violations is the state machine's oracle; it must notice each way a state can
# break the contract, or the machine's @invariant would pass vacuously.
@settings(max_examples=200)
@given(scenario=busy_scenarios, corruption=corruptions)
def test_invariant_violations_notices_a_corrupted_state(
    scenario: Scenario, corruption: str
) -> None:
    seats = scenario.seats
    assert seats.invariant_violations() == []
    queue = seats.waitlist
    seated = seated_users(seats)
    match corruption:
        case "registered_count_off_by_one":
            seats.registered_count += 1
        case "waitlisted_count_off_by_one":
            seats.waitlisted_count += 1
        case "capacity_below_seats":
            assume(seats.registered_count > 1)
            seats.capacity = seats.registered_count - 1
        case "seat_freed_without_promotion":
            assume(queue)
            seats.capacity += 1
        case "waitlist_swapped":
            assume(len(queue) >= 2)
            queue[0], queue[1] = queue[1], queue[0]
        case "seated_user_also_waiting":
            assume(seated)
            queue.append(seated[0])
        case "waiting_twice":
            assume(queue)
            queue.append(queue[0])
    assert seats.invariant_violations() != []


# The loader calls line_needed before handle() has had the chance to refuse the batch, so it
# must cope with every capacity that change_capacity refuses.
@settings(max_examples=100)
@given(bad_capacity=invalid_capacities)
def test_line_needed_copes_with_the_capacities_change_capacity_refuses(
    bad_capacity: Any,
) -> None:
    window = EventSeats(capacity=2, waitlist_enabled=True, registered_count=2, waitlisted_count=3)
    needed = window.line_needed([ChangeCapacity(bad_capacity)])
    assert type(needed) is int
    assert needed >= 0
