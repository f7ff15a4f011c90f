"""The on-sale draw's storage (#24): its secret seeds, the pre-queue a due draw needs, and the
events whose draw is due (the expiry check's second query).

The seed is read here and nowhere else, by the applier about to draw; it is written once, by
the change that makes an event's `opening` a draw (`models.services`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.domain import draw as drawing
from models.domain.rules import EventSeats, Membership, Standing
from models.storage.tables import DrawSeed


def new_seed() -> bytes:
    """32 bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(drawing.SEED_BYTES)


def keep_seed(session: Session, event_id: str, seed: bytes) -> None:
    """Store the seed of the event's new draw (a new draw replaces an old one's)."""
    statement = insert(DrawSeed).values(event_id=event_id, seed=seed)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[DrawSeed.event_id], set_={"seed": statement.excluded.seed}
        )
    )


_SEEDS = text(
    "SELECT event_id, seed FROM draw_seeds WHERE event_id = ANY(CAST(:event_ids AS text[]))"
)
_PREQUEUES = text(
    """
    SELECT event_id, user_id, place_order, seats FROM registrations
     WHERE event_id = ANY(CAST(:event_ids AS text[])) AND standing = 'prequeued'
    """
)


def load_due(
    session: Session, found: Mapping[str, EventSeats], due_by: Mapping[str, dt.datetime | None]
) -> None:
    """For each event whose draw is due by its time: the seed and every pre-queued party."""
    due = sorted(
        event_id
        for event_id, seats in found.items()
        if (until := due_by.get(event_id)) is not None
        and (opens := seats.draw_due()) is not None
        and opens <= until
    )
    if not due:
        return
    for event_id, seed in session.execute(_SEEDS, {"event_ids": due}):
        found[event_id].draw_seed = bytes(seed)
    for event_id, user_id, order, party in session.execute(_PREQUEUES, {"event_ids": due}):
        found[event_id].members[user_id] = Membership(Standing.PREQUEUED, order, party)


_DUE = text(
    "SELECT event_id FROM events WHERE draw_due_at <= now() ORDER BY draw_due_at LIMIT :limit"
)


def events_with_due_draws(session: Session, limit: int = 1000) -> list[str]:
    """Events whose pre-queue must be drawn now (served by a partial index)."""
    return [event_id for (event_id,) in session.execute(_DUE, {"limit": limit})]
