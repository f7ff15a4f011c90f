"""Status updates of an event's tickets and registrations: built from outcomes, appended to
the event log in the same transaction as the change, published by the caller after commit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

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


_APPEND = text(
    """
    INSERT INTO event_log (event_id, kind, payload)
    SELECT v.event_id, v.kind, CAST(v.payload AS jsonb)
      FROM unnest(CAST(:event_ids AS text[]), CAST(:kinds AS text[]), CAST(:payloads AS text[]))
           WITH ORDINALITY AS v(event_id, kind, payload, n)
     ORDER BY v.n
    RETURNING id
    """
)


def append(session: Session, updates: list[Update]) -> list[Update]:
    """Write the updates to the event log; return them carrying their log ids (the SSE `id:`)."""
    if not updates:
        return []
    # One statement over arrays. Identity values are drawn in insertion order (ORDER BY n), so
    # our ids sorted ascending are in the order of `updates`.
    ids = sorted(
        session.scalars(
            _APPEND,
            {
                "event_ids": [u.event_id for u in updates],
                "kinds": [u.kind for u in updates],
                "payloads": [json.dumps(u.payload, separators=(",", ":")) for u in updates],
            },
        ).all()
    )
    return [
        Update(u.event_id, u.kind, u.payload, log_id)
        for u, log_id in zip(updates, ids, strict=True)
    ]
