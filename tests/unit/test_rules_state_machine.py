"""Random command sequences against `models.domain.rules.handle` and the naive reference model,
step by step: the outcomes must agree and the contract's invariants must hold throughout.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from models.domain.rules import (
    ChangeCapacity,
    EventSeats,
    Register,
    RemoveUser,
    Unregister,
)

from .reference_model import ReferenceEvent, RefOutcome
from .strategies import (
    Step,
    ToggleWaitlist,
    blank_strings,
    capacities,
    invalid_capacities,
    run_reference,
    run_rules,
    seated_users,
    user_ids,
)

pytestmark = pytest.mark.unit


class RegistrationMachine(RuleBasedStateMachine):
    seats: EventSeats
    reference: ReferenceEvent

    @initialize(capacity=capacities, waitlist_enabled=st.booleans())
    def open_event(self, capacity: int, waitlist_enabled: bool) -> None:
        self.seats = EventSeats.empty(capacity, waitlist_enabled=waitlist_enabled)
        self.reference = ReferenceEvent.new(capacity, waitlist_enabled=waitlist_enabled)

    def _both(self, step: Step) -> RefOutcome:
        before = copy.deepcopy(self.seats)
        outcome = run_rules(self.seats, step)
        expected = run_reference(self.reference, step)
        assert outcome == expected, f"{step!r}: rules gave {outcome!r}, reference {expected!r}"
        if outcome[0] == "rejected":
            # A refused command must leave no trace at all, counters and journal included.
            assert self.seats == before
        return outcome

    # Registers get two rules so that events fill up and queues form.
    @rule(user_id=user_ids)
    def register(self, user_id: str) -> None:
        self._both(Register(user_id))

    @rule(user_id=user_ids)
    def register_again(self, user_id: str) -> None:
        self._both(Register(user_id))

    @rule(user_id=user_ids)
    def unregister(self, user_id: str) -> None:
        self._both(Unregister(user_id))

    @rule(user_id=user_ids)
    def remove_user(self, user_id: str) -> None:
        self._both(RemoveUser(user_id))

    @rule(capacity=st.integers(min_value=1, max_value=8))
    def change_capacity(self, capacity: int) -> None:
        self._both(ChangeCapacity(capacity))

    @precondition(lambda self: self.reference.seated)
    @rule(shortfall=st.integers(min_value=1, max_value=3))
    def lower_capacity_below_registered(self, shortfall: int) -> None:
        outcome = self._both(ChangeCapacity(len(self.reference.seated) - shortfall))
        assert outcome[0] == "rejected"

    @rule(capacity=invalid_capacities)
    def change_capacity_to_nonsense(self, capacity: Any) -> None:
        outcome = self._both(ChangeCapacity(capacity))
        assert outcome[0] == "rejected"

    @rule(enabled=st.booleans())
    def toggle_waitlist(self, enabled: bool) -> None:
        self._both(ToggleWaitlist(enabled))

    @rule(
        user_id=blank_strings,
        make=st.sampled_from([Register, Unregister, RemoveUser]),
    )
    def command_with_blank_user(
        self, user_id: str, make: type[Register] | type[Unregister] | type[RemoveUser]
    ) -> None:
        outcome = self._both(make(user_id))
        assert outcome[0] == "rejected"

    @invariant()
    def no_invariant_is_violated(self) -> None:
        assert self.seats.invariant_violations() == []

    @invariant()
    def standings_match_the_reference(self) -> None:
        assert seated_users(self.seats) == self.reference.seated
        assert list(self.seats.waitlist) == self.reference.waiting
        assert self.seats.capacity == self.reference.capacity


RegistrationMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=50)
TestRegistrationMachine = RegistrationMachine.TestCase
