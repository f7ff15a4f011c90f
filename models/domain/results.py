"""Outcome → ticket result: what the rules decided, in the contract's shape (`Ticket.result`).

The one place that knows the result's fields, its statuses and its denial codes; the worker
writes what this returns and the API's schemas describe it from the same enums.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from models.domain.approval import Applied, Approved, Rejected
from models.domain.rules import (
    DenialCode,
    Denied,
    Offer,
    OfferAccepted,
    OfferDeclined,
    Outcome,
    Prequeued,
    Registered,
    Unregistered,
    Waitlisted,
)


class ResultStatus(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    DENIED = "denied"
    UNREGISTERED = "unregistered"
    DECLINED = "declined"
    # --- approval (#23) ---
    APPLIED = "applied"
    REJECTED = "rejected"
    PREQUEUED = "prequeued"  # the on-sale draw (#24)


def result_of(outcome: Outcome) -> dict[str, Any]:  # noqa: PLR0911 - one per outcome
    """The ticket's `result` for the outcome of a command."""
    match outcome:
        case Registered():
            return _result(ResultStatus.REGISTERED, "registered")
        case Waitlisted(position=position):
            return _result(
                ResultStatus.WAITLISTED, f"waitlisted at position {position}", position=position
            )
        case Denied(code=code):
            return _result(ResultStatus.DENIED, outcome.message, code=code)
        case Unregistered(promoted_user_ids=promoted, offers=offers):
            return _result(
                ResultStatus.UNREGISTERED,
                "unregistered" + _let_in(promoted, offers),
                promoted=promoted,
                offers=offers,
            )
        case OfferAccepted():
            return _result(ResultStatus.REGISTERED, "offer accepted: registered")
        case OfferDeclined(promoted_user_ids=promoted, offers=offers):
            return _result(
                ResultStatus.DECLINED,
                "offer declined" + _let_in(promoted, offers),
                promoted=promoted,
                offers=offers,
            )
        case Prequeued():
            return _result(ResultStatus.PREQUEUED, "pre-queued: the draw at the opening decides")
        case Applied() | Approved() | Rejected():
            return _approval_result(outcome)
    raise TypeError(f"no ticket result for {outcome!r}")


def _approval_result(outcome: Applied | Approved | Rejected) -> dict[str, Any]:
    match outcome:
        case Applied():
            return _result(ResultStatus.APPLIED, "applied: waiting for an organizer's approval")
        case Approved(position=None, promoted_user_ids=promoted, offers=offers):
            return _result(
                ResultStatus.REGISTERED,
                "approved: registered" + _let_in(promoted, offers),
                promoted=promoted,
                offers=offers,
            )
        case Approved(position=position, promoted_user_ids=promoted, offers=offers):
            return _result(
                ResultStatus.WAITLISTED,
                f"approved: waitlisted at position {position}" + _let_in(promoted, offers),
                position=position,
                promoted=promoted,
                offers=offers,
            )
        case Rejected():
            return _result(ResultStatus.REJECTED, "application rejected")
    raise TypeError(f"no ticket result for {outcome!r}")


def _let_in(promoted: tuple[str, ...], offers: tuple[Offer, ...]) -> str:
    said = ""
    if promoted:
        said += f"; {', '.join(promoted)} promoted from the waitlist"
    if offers:
        said += f"; seats offered to {', '.join(o.user_id for o in offers)}"
    return said


def denied(code: DenialCode, user_id: str) -> dict[str, Any]:
    return result_of(Denied(user_id, code))


def _result(
    status: ResultStatus,
    message: str,
    *,
    code: DenialCode | None = None,
    position: int | None = None,
    promoted: tuple[str, ...] = (),
    offers: tuple[Offer, ...] = (),
) -> dict[str, Any]:
    """The contract's shape: `promotedUserIds`, `offeredUserIds` and `offers` are always
    present (empty when nobody), `promotedUserId` is the first promoted (v1 clients read that
    one). `offers` carries each offer's seats and end, so a ledger entry (which is the result)
    tells what was held and until when."""
    return {
        "status": status.value,
        "code": None if code is None else code.value,
        "message": message,
        "position": position,
        "promotedUserId": promoted[0] if promoted else None,
        "promotedUserIds": list(promoted),
        "offeredUserIds": [offer.user_id for offer in offers],
        "offers": offers_json(offers),
    }


def offers_json(offers: tuple[Offer, ...]) -> list[dict[str, Any]]:
    return [
        {"userId": o.user_id, "seats": o.seats, "expiresAt": rfc3339(o.expires_at)} for o in offers
    ]


def rfc3339(moment: dt.datetime | None) -> str | None:
    """The contract's timestamps: RFC 3339, UTC, milliseconds, `Z`."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
