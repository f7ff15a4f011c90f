"""An event's ledger entries: their shape, their canonical bytes and their hash chain (pure).

The writer builds each entry's body with one of the `*_entry` builders and `seal`s it with the
previous entry's hash; the verifier (`models.domain.ledger_verify`) recomputes the same bytes. The
shape and the hash are fixed by the contract ("Ledger: each event's verifiable history").
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from models.domain.results import offers_json, rfc3339
from models.domain.rules import (
    Drawn,
    EventSeats,
    OfferExpired,
    Reconfigure,
    Reconfigured,
    UserRemoved,
)
from models.domain.settings import BY_JSON, LEDGER_SETTINGS, Kind

GENESIS_HASH: Final = "0" * 64

Entry = dict[str, Any]

EVENT_CREATED = "event_created"
EVENT_UPDATED = "event_updated"
TICKET = "ticket"
USER_REMOVED = "user_removed"
OFFER_EXPIRED = "offer_expired"
DRAW = "draw"  # the on-sale draw (#24)
TICKET_TYPES = (
    "register",
    "unregister",
    "accept_offer",
    "decline_offer",
    # --- approval (#23) ---
    "approve",
    "reject",
)

# The fields of a body (`seal` adds prevHash and hash), in the contract's order.
BODY_FIELDS = (
    "index",
    "eventId",
    "kind",
    "ticketId",
    "type",
    "userId",
    "seats",
    "acceptedAt",
    "outcome",
)
SETTING_FIELDS = tuple(setting.json for setting in LEDGER_SETTINGS)
# What a ticket's result carries that its ledger entry does not (it is the entry's own address).
RESULT_ONLY_FIELDS = ("ledgerIndex", "ledgerHash")


# --- the chain ----------------------------------------------------------------------------


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(entry: Entry) -> bytes:
    """The contract's canonical JSON: sorted keys, no spaces, UTF-8 as is."""
    return _CANONICAL.encode(entry).encode()


def entry_hash(entry: Entry) -> str:
    """Lowercase hex SHA-256 of the entry without its `hash`."""
    unsealed = {name: value for name, value in entry.items() if name != "hash"}
    return hashlib.sha256(canonical(unsealed)).hexdigest()


def seal(body: Entry, prev_hash: str) -> Entry:
    """The body chained to the previous entry (`GENESIS_HASH` for index 1) and hashed."""
    return sealed_with_text(body, prev_hash)[0]


def sealed_with_text(body: Entry, prev_hash: str) -> tuple[Entry, str]:
    """`seal`, and the sealed entry's canonical JSON, each value encoded once: the keys that
    sort before `hash` and those after are encoded apart, and the hashed text and the sealed
    one are joined from the two (a writer encoded every entry twice: a tenth of a backlog
    pass's Python)."""
    chained = {**body, "prevHash": prev_hash}
    before = _CANONICAL.encode({k: v for k, v in chained.items() if k < "hash"})[1:-1]
    after = _CANONICAL.encode({k: v for k, v in chained.items() if k > "hash"})[1:-1]
    unsealed = "{" + ",".join(part for part in (before, after) if part) + "}"
    digest = hashlib.sha256(unsealed.encode()).hexdigest()
    text = "{" + ",".join(part for part in (before, f'"hash":"{digest}"', after) if part) + "}"
    return {**chained, "hash": digest}, text


@dataclass(frozen=True)
class Placed:
    """Where an entry landed: what a ticket's result adds as `ledgerIndex`/`ledgerHash`."""

    index: int
    hash: str

    def stamp(self, result: dict[str, Any]) -> dict[str, Any]:
        return {**result, "ledgerIndex": self.index, "ledgerHash": self.hash}


@dataclass
class Head:
    """An event's ledger length and head hash (-1 or 0: the event keeps no ledger)."""

    length: int
    hash: str


@dataclass
class Chain:
    """The entries a change appends to events' ledgers, sealed as they come (the storage
    writes `rows`, canonical JSON by (event, index), and moves the heads)."""

    heads: dict[str, Head]
    rows: list[tuple[str, int, str]] = field(default_factory=list)

    def length(self, event_id: str) -> int:
        """The event's ledger length so far (0 when it keeps none)."""
        head = self.heads.get(event_id)
        return max(head.length, 0) if head is not None else 0

    def add(self, event_id: str, build: Callable[[int], Entry]) -> Placed | None:
        """Seal the entry `build(index)` as the event's next one; None if it keeps no ledger."""
        head = self.heads.get(event_id)
        if head is None or head.length <= 0:
            return None
        index = head.length + 1
        entry, text = sealed_with_text(build(index), head.hash)
        head.length, head.hash = index, entry["hash"]
        self.rows.append((event_id, index, text))
        return Placed(index, entry["hash"])


# --- settings -----------------------------------------------------------------------------


def setting_json(value: object) -> object:
    """A setting as an entry holds it: enums by value, moments in the contract's format."""
    if isinstance(value, dt.datetime):
        return rfc3339(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def settings_json(seats: EventSeats) -> dict[str, Any]:
    """The `event_created` fields of an event, as its first entry's outcome holds them."""
    return {name: setting_json(value) for name, value in seats._settings().items()}


def parse_moment(value: object) -> dt.datetime | None:
    """An entry's RFC 3339 string back to an aware datetime (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return moment


def setting_arguments(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as an entry holds them → keyword arguments of `EventSeats.empty`/`Reconfigure`
    (unknown names raise ValueError: a ledger is read strictly)."""
    arguments: dict[str, Any] = {}
    for name, raw in settings.items():
        setting = BY_JSON.get(name)
        if setting is None or not setting.in_ledger:
            raise ValueError(f"unknown setting {name!r}")
        value = parse_moment(raw) if setting.kind is Kind.MOMENT else setting.parse(raw)
        arguments[setting.attr] = value
    return arguments


def seats_from_settings(settings: dict[str, Any]) -> EventSeats:
    """The empty event an `event_created` outcome describes (every field required)."""
    missing = [
        name
        for name in SETTING_FIELDS
        if name not in settings and not BY_JSON[name].ledger_optional
    ]
    if missing:
        raise ValueError(f"event_created lacks {', '.join(missing)}")
    arguments = setting_arguments(settings)
    capacity = arguments.pop("capacity")
    return EventSeats.empty(capacity, **arguments)


def reconfigure_to(changes: dict[str, Any]) -> Reconfigure:
    """The update an `event_updated` entry records: each changed setting set to its `to`."""
    return Reconfigure(
        **setting_arguments({name: change["to"] for name, change in changes.items()})
    )


# --- entry bodies -------------------------------------------------------------------------


def _body(
    event_id: str,
    index: int,
    kind: str,
    outcome: dict[str, Any],
    *,
    ticket_id: str | None = None,
    type_: str | None = None,
    user_id: str | None = None,
    seats: int | None = None,
    accepted_at: dt.datetime | None = None,
) -> Entry:
    return {
        "index": index,
        "eventId": event_id,
        "kind": kind,
        "ticketId": ticket_id,
        "type": type_,
        "userId": user_id,
        "seats": seats,
        "acceptedAt": rfc3339(accepted_at),
        "outcome": outcome,
    }


def created_entry(event_id: str, settings: dict[str, Any]) -> Entry:
    """Index 1: the event's settings (`settings_json`) as created."""
    return _body(event_id, 1, EVENT_CREATED, dict(settings))


def ticket_entry(  # noqa: PLR0917 - the writer's call, in the entry's field order
    event_id: str,
    index: int,
    ticket_id: str,
    type_: str,
    user_id: str,
    seats: int | None,
    accepted_at: dt.datetime,
    result: dict[str, Any],
) -> Entry:
    """An applied ticket: `seats` is the party size of a register (None for the other types),
    `result` the ticket's result (its ledgerIndex/ledgerHash, if already there, are left out)."""
    if type_ not in TICKET_TYPES:
        raise ValueError(f"unknown ticket type {type_!r}")
    outcome = {name: value for name, value in result.items() if name not in RESULT_ONLY_FIELDS}
    return _body(
        event_id,
        index,
        TICKET,
        outcome,
        ticket_id=ticket_id,
        type_=type_,
        user_id=user_id,
        seats=seats if type_ == "register" else None,
        accepted_at=accepted_at,
    )


def _let_in(promoted: tuple[str, ...], offers: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "promotedUserIds": list(promoted),
        "offeredUserIds": [offer.user_id for offer in offers],
        "offers": offers_json(offers),
    }


def updated_outcome(outcome: Reconfigured) -> dict[str, Any]:
    changes = {
        name: {"from": setting_json(before), "to": setting_json(after)}
        for name, before, after in outcome.changes
    }
    return {"changes": changes, **_let_in(outcome.promoted_user_ids, outcome.offers)}


def updated_entry(event_id: str, index: int, outcome: Reconfigured) -> Entry:
    """An event update that changed some `event_created` field (none changed: write none)."""
    if not outcome.changes:
        raise ValueError("an update that changes no setting writes no ledger entry")
    return _body(event_id, index, EVENT_UPDATED, updated_outcome(outcome))


def left_outcome(outcome: UserRemoved | OfferExpired) -> dict[str, Any]:
    left = "offered" if isinstance(outcome, OfferExpired) else outcome.left
    if left is None:
        raise ValueError(f"{outcome.user_id!r} held no place: no ledger entry")
    return {
        "userId": outcome.user_id,
        "left": str(left),
        **_let_in(outcome.promoted_user_ids, outcome.offers),
    }


def removed_entry(event_id: str, index: int, outcome: UserRemoved) -> Entry:
    """A deleted user left the event (a user who held no place there writes no entry)."""
    return _body(event_id, index, USER_REMOVED, left_outcome(outcome), user_id=outcome.user_id)


def expired_entry(event_id: str, index: int, outcome: OfferExpired) -> Entry:
    """One offer ran out; the seats were settled again."""
    return _body(event_id, index, OFFER_EXPIRED, left_outcome(outcome), user_id=outcome.user_id)


# --- the on-sale draw (#24) -----------------------------------------------------------------


def draw_outcome(outcome: Drawn) -> dict[str, Any]:
    """The contract's draw outcome: the seed revealed, the closing hash, every party in drawn
    order with its key and how it came out."""
    let_in = _let_in(outcome.promoted_user_ids, outcome.offers)
    return {
        "seed": outcome.seed,
        "closingHash": outcome.closing_hash,
        "drawn": [
            {
                "userId": party.user_id,
                "seats": party.seats,
                "key": party.key,
                "status": party.status,
                "position": party.position,
            }
            for party in outcome.drawn
        ],
        "promotedUserIds": let_in["promotedUserIds"],
        "offeredUserIds": let_in["offeredUserIds"],
    }


def draw_entry(event_id: str, index: int, outcome: Drawn) -> Entry:
    """The draw: one entry, sealed right after the entry whose hash closed the pre-queue."""
    return _body(event_id, index, DRAW, draw_outcome(outcome))
