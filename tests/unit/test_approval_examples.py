"""Approval's rules by example (contract v3 "Approval"), one behaviour each."""

from __future__ import annotations

import datetime as dt

import pytest

from models.domain.approval import Applied, Approve, Approved, Reject, Rejected
from models.domain.results import result_of
from models.domain.rules import (
    Admission,
    DenialCode,
    Denied,
    EventSeats,
    Policy,
    Promotion,
    Reconfigure,
    Register,
    Registered,
    RemoveUser,
    Standing,
    Unregister,
    Unregistered,
    UserRemoved,
    Waitlisted,
)

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)


def approval_event(capacity: int = 2, **settings: object) -> EventSeats:
    seats = EventSeats.empty(
        capacity,
        waitlist_enabled=True,
        max_party_size=capacity,
        admission=Admission.APPROVAL,
        **settings,
    )
    seats.now = T0
    return seats


def test_a_register_under_approval_applies_and_holds_nothing() -> None:
    seats = approval_event()

    outcome = seats.handle(Register("ann", 2, T0))

    assert outcome == Applied("ann", 2)
    assert result_of(outcome)["status"] == "applied"
    assert seats.membership("ann").standing is Standing.APPLIED  # type: ignore[union-attr]
    assert (seats.available, seats.waitlisted_count, seats.applied_count) == (2, 0, 1)


def test_a_second_register_of_an_applicant_is_already_applied() -> None:
    seats = approval_event()
    seats.handle(Register("ann"))

    assert seats.handle(Register("ann")) == Denied("ann", DenialCode.ALREADY_APPLIED)


def test_windows_and_party_size_are_judged_before_applying() -> None:
    seats = approval_event(registration_opens_at=T0)

    early = seats.handle(Register("ann", 1, T0 - dt.timedelta(seconds=1)))
    big = seats.handle(Register("bob", 3, T0))

    assert early == Denied("ann", DenialCode.REGISTRATION_NOT_OPEN)
    assert big == Denied("bob", DenialCode.PARTY_TOO_LARGE)
    assert seats.applied_count == 0


def test_an_approved_party_takes_the_place_its_acceptance_gave_it() -> None:
    seats = approval_event(capacity=1)
    seats.handle(Register("ann"))  # applies first
    seats.admission = Admission.OPEN
    seats.handle(Register("bob"))  # seated
    seats.handle(Register("cat"))  # waits, accepted after ann

    outcome = seats.handle(Approve("ann"))

    assert outcome == Approved("ann", 1, position=1)
    assert list(seats.waitlist) == ["ann", "cat"]
    assert result_of(outcome)["status"] == "waitlisted"
    assert result_of(outcome)["position"] == 1
    seats.handle(Unregister("bob"))
    assert seats.membership("ann").standing is Standing.REGISTERED  # type: ignore[union-attr]


def test_an_approval_that_fits_is_seated_even_under_offers() -> None:
    seats = approval_event(promotion=Promotion.OFFER)
    seats.handle(Register("ann"))

    outcome = seats.handle(Approve("ann"))

    assert outcome == Approved("ann", 1, position=None)
    assert result_of(outcome)["status"] == "registered"
    assert seats.registered_seats == 1


def test_an_approval_behind_a_party_that_does_not_fit_waits_under_strict() -> None:
    seats = approval_event(capacity=3, policy=Policy.STRICT)
    seats.handle(Reconfigure(admission=Admission.OPEN))
    seats.handle(Register("big", 2))
    seats.handle(Register("huge", 3))  # waits: only one seat left
    seats.handle(Reconfigure(admission=Admission.APPROVAL))
    seats.handle(Register("ann", 1))

    assert seats.handle(Approve("ann")) == Approved("ann", 1, position=2)


def test_under_fill_an_approval_that_fits_passes_over_the_earlier_waiting() -> None:
    seats = approval_event(capacity=3, policy=Policy.FILL, bypass_limit=1)
    seats.handle(Reconfigure(admission=Admission.OPEN))
    seats.handle(Register("big", 2))
    seats.handle(Register("huge", 3))
    seats.handle(Reconfigure(admission=Admission.APPROVAL))
    seats.handle(Register("ann", 1))
    seats.handle(Register("bea", 1))

    assert seats.handle(Approve("ann")) == Approved("ann", 1, position=None)
    assert seats.membership("huge").passovers == 1  # type: ignore[union-attr]
    seats.handle(Unregister("ann"))  # huge still cannot fit: 2 free seats
    assert seats.handle(Approve("bea")) == Approved("bea", 1, position=2)  # the bound bars it


def test_an_approval_that_would_wait_without_a_waitlist_is_denied_and_stays_pending() -> None:
    seats = approval_event(capacity=1)
    seats.waitlist_enabled = False
    seats.handle(Register("ann"))
    seats.handle(Register("bob"))
    seats.handle(Approve("ann"))

    assert seats.handle(Approve("bob")) == Denied("bob", DenialCode.EVENT_FULL)
    assert seats.membership("bob").standing is Standing.APPLIED  # type: ignore[union-attr]


def test_approve_and_reject_without_an_application_are_denied() -> None:
    seats = approval_event()
    seats.handle(Register("ann"))
    seats.handle(Approve("ann"))

    assert seats.handle(Approve("ann")) == Denied("ann", DenialCode.NO_APPLICATION)
    assert seats.handle(Reject("zed")) == Denied("zed", DenialCode.NO_APPLICATION)


def test_a_rejected_applicant_leaves() -> None:
    seats = approval_event()
    seats.handle(Register("ann", 2))

    outcome = seats.handle(Reject("ann"))

    assert outcome == Rejected("ann", 2)
    assert result_of(outcome)["status"] == "rejected"
    assert seats.membership("ann") is None
    assert seats.applied_count == 0


def test_an_applicant_withdraws_even_after_unregistering_closed() -> None:
    seats = approval_event(unregister_closes_at=T0)
    seats.handle(Register("ann", 1, T0 - dt.timedelta(seconds=5)))

    outcome = seats.handle(Unregister("ann", T0 + dt.timedelta(seconds=5)))

    assert outcome == Unregistered("ann", Standing.APPLIED)
    assert seats.applied_count == 0


def test_a_deleted_applicant_leaves_as_applied() -> None:
    seats = approval_event()
    seats.handle(Register("ann"))

    assert seats.handle(RemoveUser("ann")) == UserRemoved("ann", Standing.APPLIED)


def test_turning_admission_back_to_open_leaves_applications_pending() -> None:
    seats = approval_event()
    seats.handle(Register("ann"))

    changed = seats.reconfigure(Reconfigure(admission=Admission.OPEN))

    assert changed.changes == (("admission", "approval", "open"),)
    assert seats.handle(Register("bob")) == Registered("bob")
    assert seats.handle(Approve("ann")) == Approved("ann", 1, position=None)


def test_an_open_event_never_sees_applications() -> None:
    seats = EventSeats.empty(1, waitlist_enabled=True)

    assert seats.handle(Register("ann")) == Registered("ann")
    assert seats.handle(Register("bob")) == Waitlisted("bob", 1)
