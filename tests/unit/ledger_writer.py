"""A ledger writer for tests: applies commands through the rules and records each change with
the ledger's builders and `seal`, exactly as the apply path and the synchronous changes do."""

from __future__ import annotations

import datetime as dt
from typing import Any

from models.domain import ledger
from models.domain.ledger_verify import Views
from models.domain.results import denied, result_of, rfc3339
from models.domain.rules import DenialCode, EventSeats, Outcome, Reconfigure, Standing, offers_by

T0 = dt.datetime(2030, 1, 1, 9, 0, tzinfo=dt.UTC)


class Writer:
    def __init__(
        self, seats: EventSeats, event_id: str = "evt_1", *, now: dt.datetime = T0
    ) -> None:
        self.seats = seats
        self.event_id = event_id
        self.now = now
        self.entries: list[ledger.Entry] = []
        self.tickets = 0
        self.offered_at: dict[str, dt.datetime] = {}
        self._append(ledger.created_entry(event_id, ledger.settings_json(seats)))

    @property
    def index(self) -> int:
        return len(self.entries) + 1

    def _append(self, body: ledger.Entry) -> ledger.Entry:
        prev = self.entries[-1]["hash"] if self.entries else ledger.GENESIS_HASH
        entry = ledger.seal(body, prev)
        self.entries.append(entry)
        return entry

    def tick(self, milliseconds: int) -> None:
        self.now += dt.timedelta(milliseconds=milliseconds)
        self.seats.now = self.now

    def _made(self, outcome: Outcome) -> Outcome:
        for offer in offers_by(outcome):
            self.offered_at[offer.user_id] = self.now
        return outcome

    def _ticket(
        self, type_: str, user_id: str, seats: int | None, result: dict[str, Any], at: dt.datetime
    ) -> dict[str, Any]:
        self.tickets += 1
        ticket_id = f"t{self.tickets:04d}"
        body = ledger.ticket_entry(
            self.event_id, self.index, ticket_id, type_, user_id, seats, at, result
        )
        entry = self._append(body)
        return {**result, "ledgerIndex": entry["index"], "ledgerHash": entry["hash"]}

    def register(self, user_id: str, seats: int = 1, at: dt.datetime | None = None) -> Any:
        at = at or self.now
        self.seats.now = self.now
        result = result_of(self._made(self.seats.register(user_id, seats, at)))
        return self._ticket("register", user_id, seats, result, at)

    def unregister(self, user_id: str, at: dt.datetime | None = None) -> Any:
        at = at or self.now
        self.seats.now = self.now
        result = result_of(self._made(self.seats.unregister(user_id, at)))
        return self._ticket("unregister", user_id, None, result, at)

    def accept(self, user_id: str, at: dt.datetime | None = None) -> Any:
        at = at or self.now
        self.seats.now = self.now
        result = result_of(self._made(self.seats.accept_offer(user_id, at)))
        return self._ticket("accept_offer", user_id, None, result, at)

    def decline(self, user_id: str, at: dt.datetime | None = None) -> Any:
        at = at or self.now
        self.seats.now = self.now
        result = result_of(self._made(self.seats.decline_offer(user_id)))
        return self._ticket("decline_offer", user_id, None, result, at)

    def unknown_user(self, user_id: str, type_: str = "register") -> Any:
        """A ticket of a user deleted before it was applied: denied before the rules run."""
        result = denied(DenialCode.USER_NOT_FOUND, user_id)
        return self._ticket(type_, user_id, 1 if type_ == "register" else None, result, self.now)

    def update(self, change: Reconfigure) -> bool:
        """An event update; False when refused or when it changed nothing (no entry)."""
        self.seats.now = self.now
        before = ledger.settings_json(self.seats)
        try:
            outcome = self.seats.reconfigure(change)
        except Exception:  # the rules' refusals: the PUT answers 409/422 and writes nothing
            assert ledger.settings_json(self.seats) == before
            return False
        self._made(outcome)
        if not outcome.changes:
            assert not outcome.promoted_user_ids
            assert not outcome.offers
            return False
        self._append(ledger.updated_entry(self.event_id, self.index, outcome))
        return True

    def remove(self, user_id: str) -> bool:
        self.seats.now = self.now
        outcome = self.seats.remove_user(user_id)
        if outcome.left is None:
            return False
        self._made(outcome)
        self._append(ledger.removed_entry(self.event_id, self.index, outcome))
        return True

    def expire_due(self) -> int:
        """Every offer that ran out by now, one entry each, earliest first."""
        self.seats.now = self.now
        ended = self.seats.expire_offers(self.now)
        for outcome in ended:
            self._made(outcome)
            self._append(ledger.expired_entry(self.event_id, self.index, outcome))
        return len(ended)

    def views(self) -> Views:
        """The event's views as the API would show them, read from the writer's own state."""
        seats = self.seats
        seated = sorted(
            (m.order, u, m.seats)
            for u, m in seats.members.items()
            if m is not None and m.standing is Standing.REGISTERED
        )
        return Views(
            event={
                "capacity": seats.capacity,
                "registeredCount": seats.registered_count,
                "registeredSeats": seats.registered_seats,
                "waitlistCount": seats.waitlisted_count,
                "waitlistSeats": seats.waitlist_seats,
                "offeredSeats": seats.offered_seats,
                "availableSpots": seats.capacity - seats.registered_seats - seats.offered_seats,
                "applicationCount": seats.applied_count,
                **ledger.settings_json(seats),
            },
            waitlist=[
                {"userId": u, "position": p, "seats": _party(seats, u)}
                for p, u in enumerate(seats.waitlist, 1)
            ],
            registrations=[{"userId": u, "seats": n} for _, u, n in seated],
            offers=[
                {
                    "userId": u,
                    "seats": m.seats,
                    "offeredAt": rfc3339(self.offered_at[u]),
                    "expiresAt": rfc3339(m.expires_at),
                }
                for u, m in seats.open_offers()
            ],
        )


def _party(seats: EventSeats, user_id: str) -> int:
    membership = seats.members[user_id]
    assert membership is not None
    return membership.seats
