"""Appending to events' ledgers in the transaction of the change (the entries' shape and hash
are `models.domain.ledger`'s; this is where they are stored).

Each event row carries its ledger's length and head hash. Every writer of an event's seats holds
that row's lock, so appending needs no lock of its own: read the heads of the locked events,
seal the pass's entries in order, write them and the new heads with one statement each.
A ledger begins with its `event_created` entry: an event without one (created before ledgers
existed, length -1, or written straight into the table, length 0) gets no entries, since its
history was never recorded.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import text
from sqlalchemy.orm import Session

from models.domain import ledger

_HEADS = text(
    "SELECT event_id, ledger_length, ledger_head FROM events"
    " WHERE event_id = ANY(CAST(:event_ids AS text[]))"
)
_MOVE_HEADS = text(
    """
    UPDATE events AS e SET ledger_length = v.length, ledger_head = v.head
      FROM unnest(CAST(:event_ids AS text[]), CAST(:lengths AS int[]), CAST(:heads AS text[]))
           AS v(event_id, length, head)
     WHERE e.event_id = v.event_id
    """
)


def read_heads(session: Session, event_ids: Collection[str]) -> dict[str, ledger.Head]:
    """The heads of these events, whose rows this transaction has locked."""
    if not event_ids:
        return {}
    rows = session.execute(_HEADS, {"event_ids": sorted(event_ids)})
    return {event_id: ledger.Head(length, head) for event_id, length, head in rows}


def write(session: Session, chain: ledger.Chain, *, move_heads: bool = True) -> None:
    """Store the chain's sealed entries; and move the events' heads, unless the caller writes
    them with its own update of the event rows (`models.storage.seats.save_windows`)."""
    if not chain.rows:
        return
    # COPY, not an INSERT over arrays: entries are long JSON texts, and quoting them into
    # array literals cost more than the rest of the write.
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy("COPY ledger_entries (event_id, index, entry) FROM STDIN") as copy,
    ):
        for row in chain.rows:
            copy.write_row(row)
    moved = sorted({e for e, _, _ in chain.rows})
    chain.rows.clear()
    if not move_heads:
        return
    session.execute(
        _MOVE_HEADS,
        {
            "event_ids": moved,
            "lengths": [chain.heads[e].length for e in moved],
            "heads": [chain.heads[e].hash for e in moved],
        },
    )


def start(session: Session, event_id: str, entry: ledger.Entry) -> ledger.Placed:
    """A new event's ledger: its `event_created` entry, index 1."""
    sealed = ledger.seal(entry, ledger.GENESIS_HASH)
    chain = ledger.Chain({event_id: ledger.Head(1, sealed["hash"])})
    chain.rows.append((event_id, 1, ledger.canonical(sealed).decode()))
    write(session, chain)
    return ledger.Placed(1, sealed["hash"])


_PAGE = text(
    """
    SELECT index, entry FROM ledger_entries
     WHERE event_id = :event_id AND index > :after ORDER BY index LIMIT :limit
    """
)


def page(session: Session, event_id: str, after: int, limit: int) -> list[tuple[int, str]]:
    """Entries after `after`, as stored (the canonical JSON that was hashed)."""
    rows = session.execute(_PAGE, {"event_id": event_id, "after": after, "limit": limit})
    return [(index, entry) for index, entry in rows]
