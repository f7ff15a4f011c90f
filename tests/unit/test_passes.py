"""The apply pass (`models.domain.passes.decide`), pure: what the worker and the services run
between
loading the seats and saving them."""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.domain import ledger
from models.domain.passes import (
    TICKET_COMMANDS,
    TicketStep,
    command_of,
    commands_of,
    decide,
    ticket_lines,
)
from models.domain.results import denied, result_of
from models.domain.rules import (
    DenialCode,
    Draw,
    EventSeats,
    ExpireOffers,
    Policy,
    Promotion,
    Reconfigure,
    Register,
    RemoveUser,
)

pytestmark = pytest.mark.unit

T0 = dt.datetime(2030, 1, 1, 9, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(minutes=5)
EVENT = "e1"


@dataclass(frozen=True)
class FakeTicket:
    ticket_id: str
    type: str
    user_id: str
    event_id: str
    created_at: dt.datetime
    seats: int = 1


def a_chain(event_id: str = EVENT) -> ledger.Chain:
    return ledger.Chain({event_id: ledger.Head(1, "a" * 64)})


def test_a_ticket_for_an_event_that_was_not_loaded_is_denied_event_not_found() -> None:
    ticket = FakeTicket("t1", "register", "ann", "gone", T0)
    lines = ticket_lines(["gone"], [ticket], {"ann"}, NOW)

    decided = decide({}, lines, ledger.Chain({}), NOW)

    assert decided.results == {"t1": denied(DenialCode.EVENT_NOT_FOUND, "ann")}
    assert [u.kind for u in decided.updates] == ["ticket.completed"]
    assert decided.chain.rows == []


def test_a_ticket_of_an_unknown_user_is_denied_and_still_written_in_the_ledger() -> None:
    seats = EventSeats.empty(2)
    ticket = FakeTicket("t1", "register", "ghost", EVENT, T0)
    lines = ticket_lines([EVENT], [ticket], set(), NOW)

    decided = decide({EVENT: seats}, lines, a_chain(), NOW)

    result = decided.results["t1"]
    assert (result["status"], result["code"]) == ("denied", "USER_NOT_FOUND")
    assert result["ledgerIndex"] == 2
    assert seats.registered_count == 0


def test_an_offer_that_ended_before_a_ticket_was_accepted_ends_before_it_is_applied() -> None:
    seats = EventSeats.empty(
        1, waitlist_enabled=True, promotion=Promotion.OFFER, offer_ttl_seconds=5
    )
    seats.now = T0
    seats.register("ann")
    seats.register("bob")
    seats.unregister("ann")  # bob is offered the seat until T0 + 5 s
    late = FakeTicket("t1", "accept_offer", "bob", EVENT, T0 + dt.timedelta(seconds=6))
    lines = ticket_lines([EVENT], [late], {"bob"}, NOW)

    decided = decide({EVENT: seats}, lines, a_chain(), NOW)

    assert decided.expired == 1
    assert (decided.results["t1"]["status"], decided.results["t1"]["code"]) == (
        "denied",
        "NO_OPEN_OFFER",
    )
    assert [u.kind for u in decided.updates] == ["offer.expired", "ticket.completed"]
    kinds = [ledger_kind(row) for row in decided.chain.rows]
    assert kinds == ["offer_expired", "ticket"]


def test_a_removal_and_an_update_are_ledger_entries_only_when_they_change_something() -> None:
    seats = EventSeats.empty(1, waitlist_enabled=True)
    seats.register("ann")
    seats.register("bob")
    lines = {
        EVENT: [
            RemoveUser("cy"),  # held no place: no entry
            RemoveUser("ann"),  # bob is promoted
            Reconfigure(),  # changes nothing: no entry
            Reconfigure(capacity=3),
        ]
    }

    decided = decide({EVENT: seats}, lines, a_chain(), NOW)

    assert [ledger_kind(row) for row in decided.chain.rows] == ["user_removed", "event_updated"]
    assert [u.kind for u in decided.updates] == ["registration.promoted"]
    assert seats.capacity == 3


def test_a_loader_is_told_the_users_and_commands_of_a_line() -> None:
    tickets = [
        FakeTicket("t1", "register", "ann", EVENT, T0, seats=2),
        FakeTicket("t2", "unregister", "ghost", EVENT, T0),
    ]
    (line,) = ticket_lines([EVENT], tickets, {"ann"}, NOW).values()

    users, commands = commands_of([*line, RemoveUser("dan")])

    assert users == {"ann", "dan"}
    assert commands == [
        Register("ann", 2, T0),
        ExpireOffers(NOW),
        Draw(NOW),  # a draw due by then (#24)
        RemoveUser("dan"),
    ]
    assert line[1] == TicketStep(tickets[1], None)


def ledger_kind(row: tuple[str, int, str]) -> str:
    kind: str = json.loads(row[2])["kind"]
    return kind


# Property 40: a pass over an event's tickets equals applying them one by one through the
# rules, each result stamped with its entry in a ledger chained one ticket entry at a time.
@settings(max_examples=150, deadline=None)
@given(
    capacity=st.integers(1, 4),
    waitlist=st.booleans(),
    policy=st.sampled_from(Policy),
    plan=st.lists(
        st.tuples(
            st.sampled_from(["register", "unregister"]),
            st.sampled_from(["u0", "u1", "u2", "u3", "u4", "ghost"]),
            st.integers(1, 2),
        ),
        max_size=25,
    ),
)
def test_a_pass_equals_the_rules_one_ticket_at_a_time(
    capacity: int, waitlist: bool, policy: Policy, plan: list[tuple[str, str, int]]
) -> None:
    start = EventSeats.empty(
        max(capacity, 2), waitlist_enabled=waitlist, max_party_size=2, policy=policy
    )
    users = {"u0", "u1", "u2", "u3", "u4"}
    batch = [
        FakeTicket(f"t{i}", kind, user, EVENT, T0 + dt.timedelta(milliseconds=i), seats)
        for i, (kind, user, seats) in enumerate(plan)
    ]

    seats = copy.deepcopy(start)
    decided = decide({EVENT: seats}, ticket_lines([EVENT], batch, users, NOW), a_chain(), NOW)

    expected_seats = copy.deepcopy(start)
    expected_seats.now = NOW
    chain = a_chain()
    expected: dict[str, dict[str, object]] = {}
    for ticket in batch:
        if ticket.user_id in users:
            result = result_of(expected_seats.handle(command_of(ticket)))
        else:
            result = denied(DenialCode.USER_NOT_FOUND, ticket.user_id)
        placed = chain.add(
            EVENT,
            lambda index, t=ticket, r=result: ledger.ticket_entry(
                EVENT, index, t.ticket_id, t.type, t.user_id, t.seats, t.created_at, r
            ),
        )
        assert placed is not None
        expected[ticket.ticket_id] = placed.stamp(result)
    assert decided.results == expected
    assert decided.chain.rows == chain.rows
    assert decided.chain.heads == chain.heads
    assert seats == expected_seats
    assert [u.kind for u in decided.updates].count("ticket.completed") == len(batch)


def test_every_ticket_type_the_ledger_knows_carries_a_command() -> None:
    assert tuple(TICKET_COMMANDS) == ledger.TICKET_TYPES
