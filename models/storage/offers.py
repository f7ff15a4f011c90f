"""Open offers past their end: the events an applier must visit (it ends them, in order)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_DUE = text(
    "SELECT event_id FROM events WHERE next_offer_expiry <= now()"
    " ORDER BY next_offer_expiry LIMIT :limit"
)


def events_with_due_offers(session: Session, limit: int = 1000) -> list[str]:
    """Events whose earliest open offer has run out (served by a partial index)."""
    return [event_id for (event_id,) in session.execute(_DUE, {"limit": limit})]
