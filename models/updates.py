"""Status updates of an event's tickets and registrations: built from outcomes, appended to
the event log in the same transaction as the change, published by the caller after commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from models.tables import EventLogEntry

TICKET_COMPLETED = "ticket.completed"
REGISTRATION_PROMOTED = "registration.promoted"


@dataclass(frozen=True)
class Update:
    event_id: str
    kind: str
    payload: dict[str, Any]
    log_id: int | None = None


def promoted(event_id: str, user_id: str) -> Update:
    return Update(
        event_id,
        REGISTRATION_PROMOTED,
        {"eventId": event_id, "userId": user_id, "status": "registered"},
    )


def ticket_completed(
    event_id: str, user_id: str, ticket_id: str, status: str, result: dict[str, Any] | None
) -> Update:
    return Update(
        event_id,
        TICKET_COMPLETED,
        {
            "eventId": event_id,
            "userId": user_id,
            "ticketId": ticket_id,
            "status": status,
            "result": result,
        },
    )


def append(session: Session, updates: list[Update]) -> list[Update]:
    """Write the updates to the event log; return them carrying their log ids (the SSE `id:`)."""
    if not updates:
        return []
    ids = session.scalars(
        insert(EventLogEntry).returning(EventLogEntry.id, sort_by_parameter_order=True),
        [{"event_id": u.event_id, "kind": u.kind, "payload": u.payload} for u in updates],
    ).all()
    return [
        Update(u.event_id, u.kind, u.payload, log_id)
        for u, log_id in zip(updates, ids, strict=True)
    ]
