"""Outcome → ticket result: what the rules decided, in the contract's shape (`Ticket.result`).

The one place that knows the result's fields, its statuses and its denial codes; the worker
writes what this returns and the API's schemas describe it from the same enums.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from models.rules import DenialCode, Denied, Outcome, Registered, Unregistered, Waitlisted


class ResultStatus(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    DENIED = "denied"
    UNREGISTERED = "unregistered"


def result_of(outcome: Outcome) -> dict[str, Any]:
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
        case Unregistered(promoted_user_ids=promoted):
            message = "unregistered" + (
                f"; {', '.join(promoted)} promoted from the waitlist" if promoted else ""
            )
            return _result(ResultStatus.UNREGISTERED, message, promoted=promoted)
    raise TypeError(f"no ticket result for {outcome!r}")


def denied(code: DenialCode, user_id: str) -> dict[str, Any]:
    return result_of(Denied(user_id, code))


def _result(
    status: ResultStatus,
    message: str,
    *,
    code: DenialCode | None = None,
    position: int | None = None,
    promoted: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The contract's shape: `promotedUserIds` and `offeredUserIds` are always present (empty
    when nobody), `promotedUserId` is the first promoted (v1 clients read that one)."""
    return {
        "status": status.value,
        "code": None if code is None else code.value,
        "message": message,
        "position": position,
        "promotedUserId": promoted[0] if promoted else None,
        "promotedUserIds": list(promoted),
        "offeredUserIds": [],
    }


def rfc3339(moment: dt.datetime | None) -> str | None:
    """The contract's timestamps: RFC 3339, UTC, milliseconds, `Z`."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
