"""Persistence of the rules: load windows of events' seats under their row locks, write the
changes back.

This is the applier's hot path, for one event or for hundreds in one pass, so it speaks SQL over
arrays: a fixed handful of statements per pass whatever the number of events or users, never
one per row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import column, text
from sqlalchemy.orm import Session

from models.domain import ledger
from models.domain.rules import Command, EventSeats, Membership, Standing
from models.domain.settings import SETTINGS, Kind
from models.storage import draws, locks
from models.storage.tables import Event


@dataclass(frozen=True)
class Wanted:
    """What a pass needs of one event: the standing of these users, and as much of the line as
    these commands can need."""

    user_ids: Collection[str]
    commands: Iterable[Command]
    # Load every open offer that runs out by then: the pass will end them (`expire_offers`).
    offers_due_by: dt.datetime | None = None
    # Load the whole pre-queue and the seed if the event's draw is due by then (#24).
    draw_due_by: dt.datetime | None = None


# The counters the rules keep beside the settings (`models.domain.settings`), by column name.
_COUNTERS = (
    "offered_count",
    "offered_seats",
    "registered_count",
    "registered_seats",
    "waitlisted_count",
    "waitlist_seats",
    "next_order",
    "applied_count",  # approval (#23)
    "prequeued_count",  # the on-sale draw (#24)
    "prequeued_seats",
)
_SEAT_COLUMNS = tuple(
    Event.__table__.c[name]
    for name in (*(s.column for s in SETTINGS), *_COUNTERS, "ledger_length", "ledger_head")
)


def seats_of(row: Any, **known: Any) -> EventSeats:
    """An event's seats (without its members) from a row carrying the events table's seat
    columns by name; `known` overrides what the caller has counted itself."""
    fields: dict[str, Any] = {s.attr: s.parse(getattr(row, s.column)) for s in SETTINGS}
    fields.update((name, getattr(row, name)) for name in _COUNTERS)
    return EventSeats(**(fields | known))


# Lookups by (event, user) pairs are written as `= ANY` on both key columns, which is an index
# scan of the primary key whatever the statistics say. A join with `unnest` is not: a plan cached
# while the table was small (a fresh event, a truncated table) seq-scans it on every pass as it
# grows, which made a 20,000-ticket hot event quadratic in the database (measured with
# pg_stat_statements: ~9,600 rows read per pass). The statements declare their result columns
# (`.columns`), so SQLAlchemy describes each result once, not on every call (~150 Python calls
# a statement; benchmarks.applier --calls).
_MEMBERSHIPS = text(
    """
    SELECT r.event_id, r.user_id, r.standing, r.place_order, r.seats, r.passovers,
           r.offer_expires_at
      FROM registrations AS r
     WHERE r.event_id = ANY(CAST(:event_ids AS text[]))
       AND r.user_id = ANY(CAST(:user_ids AS text[]))
    """
).columns(
    column("event_id"),
    column("user_id"),
    column("standing"),
    column("place_order"),
    column("seats"),
    column("passovers"),
    column("offer_expires_at"),
)
_DUE_OFFERS = text(
    """
    SELECT r.event_id, r.user_id, r.place_order, r.seats, r.offer_expires_at
      FROM registrations AS r
     WHERE r.event_id = ANY(CAST(:event_ids AS text[])) AND r.standing = 'offered'
       AND r.offer_expires_at <= :until
    """
).columns(
    column("event_id"),
    column("user_id"),
    column("place_order"),
    column("seats"),
    column("offer_expires_at"),
)
_LINE_HEADS = text(
    """
    SELECT w.event_id, h.user_id, h.place_order, h.seats, h.passovers
      FROM unnest(CAST(:event_ids AS text[]), CAST(:heads AS int[])) AS w(event_id, heads)
     CROSS JOIN LATERAL (
            SELECT user_id, place_order, seats, passovers FROM registrations
             WHERE event_id = w.event_id AND standing = 'waitlisted'
             ORDER BY place_order LIMIT w.heads) AS h
     ORDER BY w.event_id, h.place_order
    """
).columns(
    column("event_id"),
    column("user_id"),
    column("place_order"),
    column("seats"),
    column("passovers"),
)


def lock_windows(
    session: Session,
    wanted: Mapping[str, Wanted],
    ledger_heads: dict[str, ledger.Head] | None = None,
) -> dict[str, EventSeats]:
    """Lock the events' rows (in event-id order: this serialises everything that changes their
    seats) and load the window of each that exists; events that do not are left out. The named
    users' memberships come first, since how much of the line a command can need depends on
    them (`EventSeats.line_needed`)."""
    if not wanted:
        return {}
    locked = locks.lock_event_rows(session, wanted, *_SEAT_COLUMNS)
    if ledger_heads is not None:  # read with the lock, for a writer that appends to ledgers
        ledger_heads.update(
            (row.event_id, ledger.Head(row.ledger_length, row.ledger_head)) for row in locked
        )
    found = {row.event_id: seats_of(row) for row in locked}
    users = sorted({u for e in found for u in wanted[e].user_ids})
    for event_id, seats in found.items():
        seats.members = dict.fromkeys(wanted[event_id].user_ids)
    if users:
        rows = session.execute(_MEMBERSHIPS, {"event_ids": sorted(found), "user_ids": users})
        for event_id, user_id, standing, order, party, passovers, expires_at in rows:
            if user_id not in found[event_id].members:
                continue  # another event's user: the query asks for every pairing
            found[event_id].members[user_id] = Membership(
                Standing(standing), order, party, passovers, expires_at
            )
    _load_due_offers(session, found, wanted)
    draws.load_due(session, found, {e: wanted[e].draw_due_by for e in found})
    heads = {
        event_id: needed
        for event_id, seats in found.items()
        if (needed := seats.line_needed(wanted[event_id].commands)) > 0
    }
    if heads:
        rows = session.execute(
            _LINE_HEADS, {"event_ids": list(heads), "heads": list(heads.values())}
        )
        for event_id, user_id, order, party, passovers in rows:
            found[event_id].waitlist.append(user_id)
            found[event_id].members[user_id] = Membership(
                Standing.WAITLISTED, order, party, passovers
            )
    return found


def _load_due_offers(
    session: Session, found: dict[str, EventSeats], wanted: Mapping[str, Wanted]
) -> None:
    due_by: dict[dt.datetime, list[str]] = {}
    for event_id, seats in found.items():
        until = wanted[event_id].offers_due_by
        if until is not None and seats.offered_count > 0:
            due_by.setdefault(until, []).append(event_id)
    for until, event_ids in due_by.items():
        rows = session.execute(_DUE_OFFERS, {"event_ids": event_ids, "until": until})
        for event_id, user_id, order, party, expires_at in rows:
            found[event_id].members[user_id] = Membership(
                Standing.OFFERED, order, party, expires_at=expires_at
            )


_DELETE = text(
    """
    DELETE FROM registrations AS r
     USING unnest(CAST(:event_ids AS text[]), CAST(:user_ids AS text[])) AS g(event_id, user_id)
     WHERE r.event_id = ANY(CAST(:event_ids AS text[]))  -- the index (see _MEMBERSHIPS)
       AND r.user_id = ANY(CAST(:user_ids AS text[]))
       AND r.event_id = g.event_id AND r.user_id = g.user_id
    """
)
_UPSERT = text(
    """
    INSERT INTO registrations (event_id, user_id, standing, place_order, seats, passovers, since,
                               offer_expires_at)
    SELECT v.event_id, v.user_id, v.standing, v.place_order, v.seats, v.passovers, :now,
           v.offer_expires_at
      FROM unnest(CAST(:event_ids AS text[]), CAST(:user_ids AS text[]),
                  CAST(:standings AS text[]), CAST(:orders AS bigint[]),
                  CAST(:seats AS int[]), CAST(:passovers AS int[]),
                  CAST(:expires AS timestamptz[]))
           AS v(event_id, user_id, standing, place_order, seats, passovers, offer_expires_at)
    ON CONFLICT (event_id, user_id) DO UPDATE
       SET standing = excluded.standing, place_order = excluded.place_order,
           seats = excluded.seats, passovers = excluded.passovers,
           offer_expires_at = excluded.offer_expires_at,
           since = CASE WHEN registrations.standing = excluded.standing
                        THEN registrations.since ELSE excluded.since END
    """
)
_SQL_TYPES = {
    Kind.INTEGER: "int",
    Kind.BOOLEAN: "boolean",
    Kind.CHOICE: "text",
    Kind.MOMENT: "timestamptz",
    Kind.DIGEST: "text",
}
_UPDATE_EVENTS = text(
    f"""
    UPDATE events AS e
       SET {", ".join(f"{s.column} = v.{s.column}" for s in SETTINGS)},
           registered_count = v.registered_count, registered_seats = v.registered_seats,
           waitlisted_count = v.waitlisted_count, waitlist_seats = v.waitlist_seats,
           offered_count = v.offered_count, offered_seats = v.offered_seats,
           applied_count = v.applied_count,
           -- the sweeper's index of work: when the earliest open offer runs out
           next_offer_expiry = CASE WHEN v.offered_count = 0 THEN NULL ELSE (
               SELECT min(r.offer_expires_at) FROM registrations AS r
                WHERE r.event_id = e.event_id AND r.standing = 'offered') END,
           next_order = v.next_order,
           prequeued_count = v.prequeued_count, prequeued_seats = v.prequeued_seats,
           ledger_length = coalesce(v.ledger_length, e.ledger_length),
           ledger_head = coalesce(v.ledger_head, e.ledger_head),
           updated_at = CASE WHEN v.touch THEN :now ELSE e.updated_at END
      FROM jsonb_to_recordset(CAST(:rows AS jsonb))
           AS v(event_id text, {", ".join(f"{s.column} {_SQL_TYPES[s.kind]}" for s in SETTINGS)},
                registered_count int, registered_seats int, waitlisted_count int,
                waitlist_seats int, offered_count int, offered_seats int, next_order bigint,
                touch boolean, ledger_length int, ledger_head text, applied_count int,
                prequeued_count int, prequeued_seats int)
     WHERE e.event_id = ANY(CAST(:event_ids AS text[]))  -- the index: v's size is unknown
       AND e.event_id = v.event_id
    """  # noqa: S608 - the names are the settings' declared columns, never input
)


def _json_value(value: object) -> object:
    """A column's value as JSON carries it to `jsonb_to_recordset` (moments as ISO 8601)."""
    return value.isoformat() if isinstance(value, dt.datetime) else value


def save_windows(
    session: Session,
    windows: Mapping[str, EventSeats],
    now: dt.datetime,
    *,
    touch: bool = False,
    ledger_heads: Mapping[str, ledger.Head] | None = None,
) -> None:
    """Write what the rules changed in each window: the memberships of `seats.changed`, the
    counts and the order counters. `touch` also moves `updated_at` (a change made by PUT);
    `ledger_heads` moves the ledgers' heads in the same row update (one new row version per
    event and pass, not two)."""
    heads = ledger_heads or {}
    if not windows:
        return
    gone: list[tuple[str, str]] = []
    kept: list[tuple[str, str, Membership]] = []
    for event_id, seats in windows.items():
        for user_id in seats.changed:
            membership = seats.members.get(user_id)
            if membership is None:
                gone.append((event_id, user_id))
            else:
                kept.append((event_id, user_id, membership))
    if gone:
        session.execute(
            _DELETE, {"event_ids": [e for e, _ in gone], "user_ids": [u for _, u in gone]}
        )
    if kept:
        session.execute(
            _UPSERT,
            {
                "now": now,
                "event_ids": [e for e, _, _ in kept],
                "user_ids": [u for _, u, _ in kept],
                "standings": [m.standing.value for _, _, m in kept],
                "orders": [m.order for _, _, m in kept],
                "seats": [m.seats for _, _, m in kept],
                "passovers": [m.passovers for _, _, m in kept],
                "expires": [m.expires_at for _, _, m in kept],
            },
        )
    # One JSON document, not an array per column: psycopg dumps every array element in Python,
    # and the ~25 arrays of even a one-event pass were a sixth of its Python calls.
    rows = [
        {
            "event_id": event_id,
            **{s.column: _json_value(s.plain(getattr(seats, s.attr))) for s in SETTINGS},
            "registered_count": seats.registered_count,
            "registered_seats": seats.registered_seats,
            "waitlisted_count": seats.waitlisted_count,
            "waitlist_seats": seats.waitlist_seats,
            "offered_count": seats.offered_count,
            "offered_seats": seats.offered_seats,
            "next_order": seats.next_order,
            "touch": touch,
            "ledger_length": heads[event_id].length if event_id in heads else None,
            "ledger_head": heads[event_id].hash if event_id in heads else None,
            "applied_count": seats.applied_count,
            "prequeued_count": seats.prequeued_count,
            "prequeued_seats": seats.prequeued_seats,
        }
        for event_id, seats in windows.items()
    ]
    session.execute(
        _UPDATE_EVENTS,
        {"now": now, "event_ids": list(windows), "rows": json.dumps(rows, separators=(",", ":"))},
    )
    for seats in windows.values():
        seats.changed.clear()


_EXISTING_USERS = text(
    "SELECT user_id FROM users WHERE user_id = ANY(CAST(:user_ids AS text[])) FOR KEY SHARE"
).columns(column("user_id"))


def existing_user_ids(session: Session, user_ids: Collection[str]) -> set[str]:
    """The users that exist, share-locked (`FOR KEY SHARE`) so that a concurrent deletion waits
    for us and we never seat a user whose row is being deleted."""
    if not user_ids:
        return set()
    rows = session.execute(_EXISTING_USERS, {"user_ids": sorted(user_ids)})
    return {user_id for (user_id,) in rows}


def user_event_ids(session: Session, user_id: str) -> list[str]:
    """The events where the user is seated or waiting, in event-id order."""
    rows = session.execute(
        text("SELECT event_id FROM registrations WHERE user_id = :user_id ORDER BY event_id"),
        {"user_id": user_id},
    )
    return [event_id for (event_id,) in rows]
