"""Replaying recorded ledger entries through the real rules, one at a time (pure).

`Replay` starts from the empty event an `event_created` entry describes and applies each later
entry as the writer did: tickets by type, `event_updated` as a `Reconfigure` to the `to`
values, `user_removed` as `remove_user`, `offer_expired` as `expire_offer`. It returns the
outcome the writer must then have recorded, built with the writer's own builders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from models.domain import draw as drawing
from models.domain import ledger, passes
from models.domain.errors import DomainError, StateNotLoaded
from models.domain.results import result_of, rfc3339
from models.domain.rules import (
    DenialCode,
    Denied,
    EventSeats,
    Outcome,
    offers_by,
)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class CannotReplay(Exception):
    """The entry cannot be applied to the state the earlier entries built."""


@dataclass
class Replay:
    """The state the entries so far built, and when each open offer was made."""

    seats: EventSeats
    offered_at: dict[str, dt.datetime] = field(default_factory=dict)

    @classmethod
    def start(cls, created: ledger.Entry) -> Replay:
        if created.get("kind") != ledger.EVENT_CREATED:
            raise CannotReplay(f"the first entry is {created.get('kind')!r}, not event_created")
        try:
            seats = ledger.seats_from_settings(created["outcome"])
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise CannotReplay(f"the event's settings are not valid: {error}") from error
        seats.now = EPOCH
        return cls(seats)

    def apply(self, entry: ledger.Entry) -> tuple[Outcome | None, dict[str, Any]]:
        """Apply one entry after index 1: (the rules' outcome, or None when the entry changed
        nothing the rules see; the outcome the entry must record)."""
        self.seats.changed.clear()
        self.seats.now = self._clock(entry)
        try:
            outcome, recorded = self._apply(entry)
        except (DomainError, StateNotLoaded) as error:  # the rules' refusals name the fault
            raise CannotReplay(f"the rules refused it: {error}") from error
        except (ValueError, TypeError, LookupError, AttributeError) as error:  # a malformed entry
            raise CannotReplay(f"{error.__class__.__name__}: {error}") from error
        if outcome is not None:
            for offer in offers_by(outcome):
                self.offered_at[offer.user_id] = self.seats.now
        return outcome, recorded

    def _apply(self, entry: ledger.Entry) -> tuple[Outcome | None, dict[str, Any]]:
        kind, user_id = entry.get("kind"), entry.get("userId")
        seats = self.seats
        if kind == ledger.TICKET:
            return self._ticket(entry)
        if kind == ledger.EVENT_UPDATED:
            changes = entry["outcome"]["changes"]
            if not isinstance(changes, dict) or not changes:
                raise CannotReplay("an event_updated entry must record some change")
            updated = seats.reconfigure(ledger.reconfigure_to(changes))
            return updated, ledger.updated_outcome(updated)
        if kind == ledger.USER_REMOVED:
            removed = seats.remove_user(_text(user_id))
            if removed.left is None:
                raise CannotReplay(f"user {user_id!r} held no place at the event to leave")
            return removed, ledger.left_outcome(removed)
        if kind == ledger.OFFER_EXPIRED:
            expired = seats.expire_offer(_text(user_id))
            if expired.offers and seats.now is not None and seats.now < expired.expired_at:
                raise CannotReplay(
                    f"the offer of {user_id!r} ended at {rfc3339(expired.expired_at)}, yet the"
                    f" offers this expiry made date it to {rfc3339(seats.now)}"
                )
            return expired, ledger.left_outcome(expired)
        if kind == ledger.DRAW:
            return self._draw(entry)
        if kind == ledger.EVENT_CREATED:
            raise CannotReplay("a second event_created entry")
        raise CannotReplay(f"unknown kind {kind!r}")

    def _ticket(self, entry: ledger.Entry) -> tuple[Outcome | None, dict[str, Any]]:
        seats, type_ = self.seats, entry.get("type")
        user_id = _text(entry.get("userId"))
        accepted_at = ledger.parse_moment(entry.get("acceptedAt"))
        if accepted_at is None:
            raise CannotReplay("a ticket entry without acceptedAt")
        recorded = entry.get("outcome")
        if isinstance(recorded, dict) and recorded.get("code") == DenialCode.USER_NOT_FOUND:
            # Decided before the rules run, and it changes nothing. The verifier can only check
            # that the user holds no place here (a deleted user left every event first).
            if seats.membership(user_id) is not None:
                raise CannotReplay(
                    f"denied USER_NOT_FOUND, yet {user_id!r} holds a place at the event"
                )
            return None, result_of(Denied(user_id, DenialCode.USER_NOT_FOUND))
        if entry.get("seats") is not None and type_ != "register":
            raise CannotReplay(f"a {type_} ticket records seats (only a register has any)")
        if self.seats.now is not None and self.seats.now < accepted_at:
            raise CannotReplay(
                f"its offers were made at {rfc3339(self.seats.now)} (their end less"
                f" offerTtlSeconds), before the ticket was accepted at {rfc3339(accepted_at)}"
            )
        try:
            # a register's seats as recorded: the rules judge them (None or 0 is refused)
            command = passes.command_for(type_, user_id, entry.get("seats"), accepted_at)
        except ValueError:
            raise CannotReplay(f"unknown ticket type {type_!r}") from None
        outcome = seats.handle(command)
        return outcome, result_of(outcome)

    def _draw(self, entry: ledger.Entry) -> tuple[Outcome | None, dict[str, Any]]:
        """The draw again from the seed it revealed: the seed must hash to the commitment the
        ledger published, the closing hash must be the entry before; then the keys, the order
        and every party's outcome are the rules' (compared with the recorded ones)."""
        outcome = entry.get("outcome")
        if not isinstance(outcome, dict):
            raise CannotReplay("a draw entry without an outcome")
        seed, closing = outcome.get("seed"), outcome.get("closingHash")
        if not drawing.is_digest(seed) or not drawing.is_digest(closing):
            raise CannotReplay("a draw's seed and closingHash are 64 lowercase hex digits")
        if closing != entry.get("prevHash"):
            raise CannotReplay(
                f"its closingHash {closing} is not the hash of the entry before it"
                f" ({entry.get('prevHash')})"
            )
        seed_bytes = bytes.fromhex(seed)  # type: ignore[arg-type]
        if drawing.commitment(seed_bytes) != self.seats.draw_commitment:
            raise CannotReplay(
                f"the seed's SHA-256 {drawing.commitment(seed_bytes)} is not the commitment"
                f" the ledger published ({self.seats.draw_commitment})"
            )
        self.seats.draw_seed = seed_bytes
        try:
            drawn = self.seats.draw(closing)  # type: ignore[arg-type]
        finally:
            self.seats.draw_seed = None
        return drawn, ledger.draw_outcome(drawn)

    def _clock(self, entry: ledger.Entry) -> dt.datetime:
        """The clock the entry's offers were made by: each recorded offer ends offerTtlSeconds
        (as in force when it was made) after it. Without offers the clock does not matter:
        an offer the replay makes that the entry does not record is a divergence anyway."""
        outcome = entry.get("outcome")
        offers = outcome.get("offers") if isinstance(outcome, dict) else None
        if isinstance(offers, list) and offers and isinstance(offers[0], dict):
            ttl = self.seats.offer_ttl_seconds
            if entry.get("kind") == ledger.EVENT_UPDATED:
                change = outcome.get("changes", {}).get("offerTtlSeconds")  # type: ignore[union-attr]
                if isinstance(change, dict) and isinstance(change.get("to"), int):
                    ttl = change["to"]
            end = ledger.parse_moment(offers[0].get("expiresAt"))
            if end is not None:
                return end - dt.timedelta(seconds=ttl)
        accepted_at = entry.get("acceptedAt")
        if isinstance(accepted_at, str):
            return ledger.parse_moment(accepted_at) or EPOCH
        return self.seats.now or EPOCH


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise CannotReplay(f"userId {value!r} is not a string")
    return value
