"""Status updates of an event's tickets and registrations, built from the rules' outcomes
(pure: `models.storage.event_log` stores and publishes them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from models.domain.results import rfc3339
from models.domain.rules import (
    Drawn,
    OfferAccepted,
    OfferDeclined,
    OfferExpired,
    Outcome,
    offers_by,
    promoted_by,
)


class TicketFacts(Protocol):
    """What a status update or a ledger entry needs of a ticket
    (`models.storage.tickets.TicketView`)."""

    @property
    def ticket_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def event_id(self) -> str: ...
    @property
    def seats(self) -> int: ...
    @property
    def created_at(self) -> dt.datetime: ...


TICKET_COMPLETED = "ticket.completed"
REGISTRATION_PROMOTED = "registration.promoted"
OFFER_MADE = "offer.made"
OFFER_ACCEPTED = "offer.accepted"
OFFER_DECLINED = "offer.declined"
OFFER_EXPIRED = "offer.expired"
REGISTRATION_DRAWN = "registration.drawn"  # the on-sale draw (#24)


@dataclass(frozen=True)
class Update:
    event_id: str
    kind: str
    payload: dict[str, Any]
    log_id: int | None = None


# Every message's `data` names the ledger entry its change was sealed in (`ledgerIndex`, at the
# top level whatever the type: the contract's v3 preamble), so a webhook receiver can order an
# event's messages, which arrive in no promised order. A message whose change wrote no entry (a
# ticket for an unknown event, a failed ticket) carries the event's ledger length at the time:
# it sorts after everything that came before it, and 0 when the event keeps no ledger.
def _update(event_id: str, kind: str, ledger_index: int, payload: dict[str, Any]) -> Update:
    return Update(event_id, kind, {**payload, "ledgerIndex": ledger_index})


def promoted(event_id: str, user_id: str, ledger_index: int) -> Update:
    return _update(
        event_id,
        REGISTRATION_PROMOTED,
        ledger_index,
        {"eventId": event_id, "userId": user_id, "status": "registered"},
    )


def ticket_completed(
    ticket: TicketFacts,
    status: str,
    result: dict[str, Any] | None,
    completed_at: dt.datetime,
    ledger_index: int,
) -> Update:
    """What a waiting client needs to answer without reading the ticket again: its outcome, and
    when it was accepted and completed (the 202-to-done time)."""
    return _update(
        ticket.event_id,
        TICKET_COMPLETED,
        ledger_index,
        {
            "eventId": ticket.event_id,
            "userId": ticket.user_id,
            "ticketId": ticket.ticket_id,
            "status": status,
            "result": result,
            "createdAt": rfc3339(ticket.created_at),
            "completedAt": rfc3339(completed_at),
        },
    )


def promotions(event_id: str, user_ids: Iterable[str], ledger_index: int) -> list[Update]:
    return [promoted(event_id, user_id, ledger_index) for user_id in user_ids]


def settled(event_id: str, outcome: Outcome, ledger_index: int) -> list[Update]:
    """What a command's outcome (sealed in ledger entry `ledger_index`) tells the event's
    watchers beyond its ticket: an offer accepted, declined or ended, then who its settling
    seated and the offers it made."""
    updates: list[Update] = []
    match outcome:
        case OfferAccepted(user_id, seats):
            updates.append(_offer_update(OFFER_ACCEPTED, event_id, ledger_index, user_id, seats))
        case OfferDeclined(user_id):
            updates.append(_offer_update(OFFER_DECLINED, event_id, ledger_index, user_id, None))
        case OfferExpired(user_id, seats, expired_at):
            updates.append(
                _offer_update(
                    OFFER_EXPIRED,
                    event_id,
                    ledger_index,
                    user_id,
                    seats,
                    expiredAt=rfc3339(expired_at),
                )
            )
    updates += promotions(event_id, promoted_by(outcome), ledger_index)
    updates += [
        _offer_update(
            OFFER_MADE,
            event_id,
            ledger_index,
            o.user_id,
            o.seats,
            expiresAt=rfc3339(o.expires_at),
        )
        for o in offers_by(outcome)
    ]
    return updates


def _offer_update(
    kind: str,
    event_id: str,
    ledger_index: int,
    user_id: str,
    seats: int | None,
    **more: str | None,
) -> Update:
    payload: dict[str, Any] = {"eventId": event_id, "userId": user_id}
    if seats is not None:
        payload["seats"] = seats
    return _update(event_id, kind, ledger_index, {**payload, **more})


# --- the on-sale draw (#24) -----------------------------------------------------------------


def drawn(event_id: str, outcome: Drawn, ledger_index: int) -> list[Update]:
    """One message per drawn party, in drawn order: how the draw placed it."""
    return [
        _update(
            event_id,
            REGISTRATION_DRAWN,
            ledger_index,
            {
                "eventId": event_id,
                "userId": party.user_id,
                "seats": party.seats,
                "key": party.key,
                "status": party.status,
                "position": party.position,
            },
        )
        for party in outcome.drawn
    ]
