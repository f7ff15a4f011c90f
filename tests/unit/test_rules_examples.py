"""A few worked examples of the registration rules, one story each."""

from __future__ import annotations

from collections import deque

import pytest

from models.domain.errors import CapacityBelowRegistered, StateNotLoaded
from models.domain.rules import (
    CapacityChanged,
    ChangeCapacity,
    Command,
    DenialCode,
    Denied,
    EventSeats,
    Membership,
    Register,
    Registered,
    RemoveUser,
    Standing,
    Unregister,
    Unregistered,
    UserRemoved,
    Waitlisted,
)

from .standings import registrations_of, waitlists_of

pytestmark = pytest.mark.unit


def event_with(capacity: int, *user_ids: str, waitlist_enabled: bool = True) -> EventSeats:
    seats = EventSeats.empty(capacity, waitlist_enabled=waitlist_enabled)
    for user_id in user_ids:
        seats.register(user_id)
    return seats


def test_the_first_registrant_gets_a_seat() -> None:
    seats = event_with(2)
    assert seats.register("ada") == Registered("ada")
    assert seats.available == 1


def test_a_full_event_with_a_waitlist_queues_newcomers_in_arrival_order() -> None:
    seats = event_with(1, "ada")
    assert seats.register("bob") == Waitlisted("bob", position=1)
    assert seats.register("cy") == Waitlisted("cy", position=2)
    assert list(seats.waitlist) == ["bob", "cy"]


def test_a_full_event_without_a_waitlist_turns_newcomers_away() -> None:
    seats = event_with(1, "ada", waitlist_enabled=False)
    assert seats.register("bob") == Denied("bob", DenialCode.EVENT_FULL)


def test_registering_twice_is_denied_with_the_users_current_standing() -> None:
    seats = event_with(1, "ada", "bob")
    assert seats.register("ada") == Denied("ada", DenialCode.ALREADY_REGISTERED)
    assert seats.register("bob") == Denied("bob", DenialCode.ALREADY_WAITLISTED)


def test_unregistering_a_seated_user_promotes_the_head_of_the_waitlist() -> None:
    seats = event_with(1, "ada", "bob", "cy")
    assert seats.unregister("ada") == Unregistered("ada", Standing.REGISTERED, ("bob",))
    assert seats.members["bob"] == Membership(Standing.REGISTERED, order=4)
    assert list(seats.waitlist) == ["cy"]


def test_leaving_the_waitlist_moves_everyone_behind_up_one_place() -> None:
    seats = event_with(1, "ada", "bob", "cy", "dee")
    assert seats.unregister("cy") == Unregistered("cy", Standing.WAITLISTED)
    assert seats.position("dee") == 2
    assert seats.invariant_violations() == []


def test_unregistering_someone_who_never_registered_is_denied() -> None:
    seats = event_with(1, "ada")
    assert seats.unregister("bob") == Denied("bob", DenialCode.NOT_REGISTERED)


def test_raising_the_capacity_seats_waiters_first_come_first_served() -> None:
    seats = event_with(1, "ada", "bob", "cy", "dee")
    assert seats.change_capacity(3) == CapacityChanged(3, ("bob", "cy"))
    assert list(seats.waitlist) == ["dee"]


def test_lowering_the_capacity_below_the_seats_taken_is_refused() -> None:
    seats = event_with(3, "ada", "bob")
    with pytest.raises(CapacityBelowRegistered):
        seats.change_capacity(1)
    assert seats.capacity == 3


def test_turning_the_waitlist_off_keeps_those_already_waiting() -> None:
    seats = event_with(1, "ada", "bob")
    seats.waitlist_enabled = False
    assert seats.register("cy") == Denied("cy", DenialCode.EVENT_FULL)
    assert seats.unregister("ada") == Unregistered("ada", Standing.REGISTERED, ("bob",))


def test_deleting_a_seated_user_hands_their_seat_to_the_head_of_the_waitlist() -> None:
    seats = event_with(1, "ada", "bob")
    assert seats.remove_user("ada") == UserRemoved("ada", Standing.REGISTERED, ("bob",))
    assert seats.members["ada"] is None


def test_deleting_a_user_with_no_standing_changes_nothing() -> None:
    seats = event_with(1, "ada")
    assert seats.remove_user("bob") == UserRemoved("bob", left=None)
    assert seats.changed == {"ada"}


def test_a_loader_fetches_a_head_per_seat_that_may_free_one_more_and_one_per_leaving_waiter() -> (
    None
):
    window = EventSeats(
        capacity=3,
        waitlist_enabled=True,
        registered_count=3,
        waitlisted_count=10,
        members={
            "b": Membership(Standing.REGISTERED, 1),
            "c": Membership(Standing.REGISTERED, 2),
            "w": Membership(Standing.WAITLISTED, 9),
        },
    )
    batch: list[Command] = [
        Register("a"),
        Unregister("b"),
        RemoveUser("c"),
        Unregister("w"),
        ChangeCapacity(5),
    ]
    # at most 5 - 3 + 2 = 4 seats free: 4 parties, 1 more to see who blocks, 1 for w leaving
    assert window.line_needed(batch) == 6


def test_a_loader_needs_no_line_while_no_seat_can_free() -> None:
    window = EventSeats(capacity=3, waitlist_enabled=True, registered_count=3, waitlisted_count=10)
    assert window.line_needed([Register("a"), Unregister("stranger")]) == 0


def test_a_window_refuses_to_guess_about_a_user_it_did_not_load() -> None:
    window = EventSeats(capacity=1, waitlist_enabled=True, registered_count=1)
    with pytest.raises(StateNotLoaded):
        window.register("stranger")


def test_a_user_can_be_seated_at_one_event_and_waiting_at_another() -> None:
    events = {"gala": event_with(1, "ada"), "talk": event_with(1, "bob", "ada")}
    assert registrations_of("ada", events) == ["gala"]
    assert waitlists_of("ada", events) == [("talk", 1)]


def test_the_standings_queries_refuse_to_guess_beyond_a_windows_head() -> None:
    window = EventSeats(
        capacity=1,
        waitlist_enabled=True,
        registered_count=1,
        waitlisted_count=2,
        members={"ada": Membership(Standing.WAITLISTED, order=3)},
        waitlist=deque(),
    )
    with pytest.raises(StateNotLoaded):
        waitlists_of("ada", {"gala": window})
