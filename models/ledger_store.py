"""Appending to events' ledgers in the transaction of the change (the entries' shape and hash
are `models.ledger`'s; this is where they are stored).

Each event row carries its ledger's length and head hash. Every writer of an event's seats holds
that row's lock, so appending needs no lock of its own: read the heads of the locked events,
seal the pass's entries in order, write them and the new heads with one statement each.
A ledger begins with its `event_created` entry: an event without one (created before ledgers
existed, length -1, or written straight into the table, length 0) gets no entries, since its
history was never recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from models import ledger

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


@dataclass(frozen=True)
class Placed:
    """Where an entry landed: what a ticket's result adds as `ledgerIndex`/`ledgerHash`."""

    index: int
    hash: str

    def stamp(self, result: dict[str, Any]) -> dict[str, Any]:
        return {**result, "ledgerIndex": self.index, "ledgerHash": self.hash}


@dataclass
class Head:
    length: int
    hash: str


@dataclass
class Appender:
    """The entries one transaction appends, sealed as they come; `write` stores them."""

    heads: dict[str, Head]
    rows: list[tuple[str, int, str]] = field(default_factory=list)

    @classmethod
    def read(cls, session: Session, event_ids: Collection[str]) -> Appender:
        """The heads of these events, whose rows this transaction has locked."""
        if not event_ids:
            return cls({})
        rows = session.execute(_HEADS, {"event_ids": sorted(event_ids)})
        return cls({event_id: Head(length, head) for event_id, length, head in rows})

    def add(self, event_id: str, build: Callable[[int], ledger.Entry]) -> Placed | None:
        """Seal the entry `build(index)` as the event's next one; None if it keeps no ledger."""
        head = self.heads.get(event_id)
        if head is None or head.length <= 0:
            return None
        index = head.length + 1
        entry = ledger.seal(build(index), head.hash)
        head.length, head.hash = index, entry["hash"]
        self.rows.append((event_id, index, ledger.canonical(entry).decode()))
        return Placed(index, entry["hash"])

    def write(self, session: Session, *, move_heads: bool = True) -> None:
        """Store the sealed entries; and move the events' heads, unless the caller writes them
        with its own update of the event rows (`models.seats.save_windows`)."""
        if not self.rows:
            return
        # COPY, not an INSERT over arrays: entries are long JSON texts, and quoting them into
        # array literals cost more than the rest of the write.
        raw = session.connection().connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy("COPY ledger_entries (event_id, index, entry) FROM STDIN") as copy,
        ):
            for row in self.rows:
                copy.write_row(row)
        moved = sorted({e for e, _, _ in self.rows})
        self.rows.clear()
        if not move_heads:
            return
        session.execute(
            _MOVE_HEADS,
            {
                "event_ids": moved,
                "lengths": [self.heads[e].length for e in moved],
                "heads": [self.heads[e].hash for e in moved],
            },
        )


def start(session: Session, event_id: str, entry: ledger.Entry) -> Placed:
    """A new event's ledger: its `event_created` entry, index 1."""
    sealed = ledger.seal(entry, ledger.GENESIS_HASH)
    appender = Appender({event_id: Head(1, sealed["hash"])})
    appender.rows.append((event_id, 1, ledger.canonical(sealed).decode()))
    appender.write(session)
    return Placed(1, sealed["hash"])


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
