"""Verifying an event's ledger (pure): the chain, every hash, every recorded outcome replayed
through the real rules, and the final state against the event's current views.

`verify(entries, views)` returns a `Verdict`: ok, or the first divergence in plain words. It
reads the entries one at a time, so a caller may stream a long ledger page by page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from models.domain import ledger
from models.domain.ledger_replay import CannotReplay, Replay
from models.domain.results import rfc3339
from models.domain.rules import EventSeats, Standing

ENTRY_FIELDS = frozenset((*ledger.BODY_FIELDS, "prevHash", "hash"))


@dataclass(frozen=True)
class Divergence:
    """Where the ledger (or the views) stop agreeing with what the rules say."""

    index: int | None  # the entry, or None for the final state against the views
    what: str
    expected: object = None
    found: object = None

    def __str__(self) -> str:
        where = f"entry {self.index}" if self.index is not None else "current views"
        said = f"{where}: {self.what}"
        if self.expected is not None or self.found is not None:
            said += f"\n  expected: {_show(self.expected)}\n  found:    {_show(self.found)}"
        return said


@dataclass(frozen=True)
class Views:
    """An event's current views as the API shows them (each optional): `GET /events/{id}`,
    its `/waitlist`, `/offers` and `/registrations`."""

    event: dict[str, Any] | None = None
    waitlist: list[dict[str, Any]] | None = None
    offers: list[dict[str, Any]] | None = None
    registrations: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Verdict:
    entries: int
    divergence: Divergence | None
    last_hash: str | None = None
    unchecked: tuple[str, ...] = ()  # view fields the views did not show, so not compared
    final: EventSeats | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.divergence is None


class _Diverged(Exception):
    def __init__(self, divergence: Divergence) -> None:
        super().__init__(str(divergence))
        self.divergence = divergence


def verify(
    entries: Iterable[ledger.Entry],
    views: Views | None = None,
    *,
    event_id: str | None = None,
) -> Verdict:
    """Check the ledger entry by entry, then the final state against `views` if given."""
    checker = _Checker(event_id)
    try:
        for entry in entries:
            checker.check(entry)
        if checker.count == 0:
            raise _Diverged(Divergence(None, "the ledger is empty (no event_created entry)"))
        unchecked = compare_views(checker.state(), views) if views is not None else ()
    except _Diverged as diverged:
        return Verdict(checker.count, diverged.divergence, checker.prev_hash, final=checker.final)
    return Verdict(checker.count, None, checker.prev_hash, unchecked=unchecked, final=checker.final)


class _Checker:
    def __init__(self, event_id: str | None) -> None:
        self.event_id = event_id
        self.count = 0
        self.prev_hash = ledger.GENESIS_HASH
        self.replay: Replay | None = None

    @property
    def final(self) -> EventSeats | None:
        return self.replay.seats if self.replay is not None else None

    def state(self) -> Replay:
        assert self.replay is not None
        return self.replay

    def check(self, entry: ledger.Entry) -> None:
        expected_index = self.count + 1
        self._check_chain(entry, expected_index)
        self.count = expected_index
        self.prev_hash = entry["hash"]
        try:
            if self.replay is None:
                self.replay = Replay.start(entry)
                return
            _, outcome = self.replay.apply(entry)
        except CannotReplay as error:
            raise _Diverged(
                Divergence(expected_index, f"cannot be replayed through the rules: {error}")
            ) from error
        recorded = entry["outcome"]
        if recorded != outcome:
            raise _Diverged(
                Divergence(
                    expected_index,
                    f"the recorded outcome of this {_describe(entry)} is not what the rules"
                    f" give{_first_difference(outcome, recorded)}",
                    outcome,
                    recorded,
                )
            )

    def _check_chain(self, entry: ledger.Entry, index: int) -> None:
        if not isinstance(entry, dict):
            raise _Diverged(Divergence(index, "is not a JSON object", "an entry", entry))
        if set(entry) != ENTRY_FIELDS:
            missing, extra = sorted(ENTRY_FIELDS - set(entry)), sorted(set(entry) - ENTRY_FIELDS)
            raise _Diverged(
                Divergence(
                    index,
                    "does not have the entry's fields",
                    f"missing {missing}",
                    f"extra {extra}",
                )
            )
        if entry["index"] != index:
            raise _Diverged(
                Divergence(
                    index,
                    "has the wrong index: an entry is missing, repeated or out of order",
                    index,
                    entry["index"],
                )
            )
        if self.event_id is None:
            self.event_id = entry["eventId"]
        if entry["eventId"] != self.event_id:
            raise _Diverged(
                Divergence(index, "belongs to another event", self.event_id, entry["eventId"])
            )
        if entry["prevHash"] != self.prev_hash:
            raise _Diverged(
                Divergence(
                    index,
                    "does not chain to the entry before it (prevHash is not that entry's hash):"
                    " an entry was dropped, inserted, reordered or rewritten",
                    self.prev_hash,
                    entry["prevHash"],
                )
            )
        recomputed = ledger.entry_hash(entry)
        if entry["hash"] != recomputed:
            raise _Diverged(
                Divergence(
                    index,
                    "its hash is not the SHA-256 of its content: the entry was altered",
                    recomputed,
                    entry["hash"],
                )
            )
        if index == 1 and entry["kind"] != ledger.EVENT_CREATED:
            raise _Diverged(
                Divergence(
                    index, "the first entry must be event_created", "event_created", entry["kind"]
                )
            )
        if index > 1 and entry["kind"] == ledger.EVENT_CREATED:
            raise _Diverged(Divergence(index, "a second event_created entry"))


def _describe(entry: ledger.Entry) -> str:
    if entry.get("kind") == ledger.TICKET:
        return (
            f"{entry.get('type')} ticket {entry.get('ticketId')} of {entry.get('userId')!r}"
            f" accepted at {entry.get('acceptedAt')}"
        )
    if entry.get("userId") is not None:
        return f"{entry.get('kind')} of {entry.get('userId')!r}"
    return str(entry.get("kind"))


def _first_difference(expected: object, found: object, path: str = "") -> str:
    """'(at outcome.status)': where two outcomes first differ, for the plain-words report."""
    if isinstance(expected, dict) and isinstance(found, dict):
        for key in sorted(set(expected) | set(found)):
            if expected.get(key, _MISSING) != found.get(key, _MISSING):
                return _first_difference(expected.get(key), found.get(key), f"{path}.{key}")
    elif isinstance(expected, list) and isinstance(found, list) and len(expected) == len(found):
        for position, (left, right) in enumerate(zip(expected, found, strict=True)):
            if left != right:
                return _first_difference(left, right, f"{path}[{position}]")
    return f" (first at outcome{path}: expected {_show(expected)}, found {_show(found)})"


_MISSING = object()


def _show(value: object) -> str:
    if value is _MISSING:
        return "(absent)"
    text = repr(value)
    return text if len(text) <= 400 else text[:400] + "…"


# --- the final state against the views ----------------------------------------------------


def expected_event_view(seats: EventSeats) -> dict[str, Any]:
    """The fields of `GET /events/{id}` the ledger determines."""
    return {
        **ledger.settings_json(seats),
        "registeredCount": seats.registered_count,
        "registeredSeats": seats.registered_seats,
        "waitlistCount": seats.waitlisted_count,
        "waitlistSeats": seats.waitlist_seats,
        "offeredSeats": seats.offered_seats,
        "availableSpots": seats.available,
        "applicationCount": seats.applied_count,
    }


def compare_views(replay: Replay, views: Views) -> tuple[str, ...]:
    """Raise the first disagreement between the replayed state and the views; return the
    view fields that could not be compared because the views lack them."""
    seats = replay.seats
    unchecked: list[str] = []
    if views.event is not None:
        for name, expected in expected_event_view(seats).items():
            if name not in views.event:
                unchecked.append(f"event.{name}")
            elif not _same(expected, views.event[name]):
                raise _Diverged(
                    Divergence(
                        None,
                        f"GET /events/{{id}} shows {name} {views.event[name]!r}; replaying the"
                        f" ledger gives {expected!r}",
                        expected,
                        views.event[name],
                    )
                )
    if views.waitlist is not None:
        line = [(u, position, _seats(seats, u)) for position, u in enumerate(seats.waitlist, 1)]
        _compare_list("waitlist", line, views.waitlist, ("userId", "position", "seats"))
    if views.registrations is not None:
        seated = sorted(
            (m.order, u, m.seats)
            for u, m in seats.members.items()
            if m is not None and m.standing is Standing.REGISTERED
        )
        _compare_list(
            "registrations",
            [(u, s) for _, u, s in seated],
            views.registrations,
            ("userId", "seats"),
        )
    if views.offers is not None:
        offers = [
            (u, m.seats, rfc3339(replay.offered_at.get(u)), rfc3339(m.expires_at))
            for u, m in seats.open_offers()
        ]
        _compare_list("offers", offers, views.offers, ("userId", "seats", "offeredAt", "expiresAt"))
    return tuple(unchecked)


def _seats(seats: EventSeats, user_id: str) -> int:
    membership = seats.members.get(user_id)
    return membership.seats if membership is not None else 0


def _compare_list(
    name: str,
    expected: list[tuple[Any, ...]],
    found: list[dict[str, Any]],
    fields: tuple[str, ...],
) -> None:
    """In order, item by item, on the fields the view shows (a missing field is not compared)."""
    for position, (want, item) in enumerate(zip(expected, found, strict=False), start=1):
        shown = {f: item[f] for f in fields if isinstance(item, dict) and f in item}
        wanted = {f: v for f, v in zip(fields, want, strict=True) if f in shown}
        if not all(_same(wanted[f], shown[f]) for f in wanted) or "userId" not in shown:
            raise _Diverged(
                Divergence(
                    None,
                    f"GET /events/{{id}}/{name} item {position} is not what replaying the ledger"
                    " gives",
                    dict(zip(fields, want, strict=True)),
                    item,
                )
            )
    if len(expected) != len(found):
        raise _Diverged(
            Divergence(
                None,
                f"GET /events/{{id}}/{name} lists {len(found)} item(s); replaying the ledger"
                f" gives {len(expected)}",
                [dict(zip(fields, want, strict=True)) for want in expected],
                found,
            )
        )


def _same(expected: object, found: object) -> bool:
    """Equal, timestamps compared as instants (a view may write them another valid way)."""
    if isinstance(expected, str) and isinstance(found, str) and expected != found:
        try:
            left, right = ledger.parse_moment(expected), ledger.parse_moment(found)
        except ValueError:
            return False
        return isinstance(left, dt.datetime) and left == right
    return expected == found
