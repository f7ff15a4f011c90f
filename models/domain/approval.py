"""Approval's commands and outcomes (`admission: "approval"`), pure data.

Under approval a register that would not be denied becomes an *application*: the party keeps
the place in the acceptance order its register was given (its membership's `order`) but holds
no seat and no place in the line until an admin approves it. The rules themselves live with
the others in `EventSeats` (`apply_for`, `approve`, `reject`), since approving is settling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.domain.rules import Offer


@dataclass(frozen=True)
class Approve:
    """An admin lets an applicant in: it joins the line where its acceptance put it."""

    user_id: str


@dataclass(frozen=True)
class Reject:
    """An admin turns an application down: the applicant leaves."""

    user_id: str


@dataclass(frozen=True)
class Applied:
    """A register under approval: the party waits for a decision, holding nothing."""

    user_id: str
    seats: int = 1


@dataclass(frozen=True)
class Approved:
    """An approval's place: seated (`position` None) or waiting at `position`, and what else
    settling the line did."""

    user_id: str
    seats: int
    position: int | None
    promoted_user_ids: tuple[str, ...] = ()
    offers: tuple[Offer, ...] = ()


@dataclass(frozen=True)
class Rejected:
    user_id: str
    seats: int
