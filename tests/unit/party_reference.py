"""A naive model of one event with parties and a fair line, written from the contract's v2
wording ("Who gets freed seats"), sharing no code with `models.domain.rules`.

Plain lists, no counters, no windows, no early exits: after every change it walks the whole line
(newcomer last) and, for each party, asks the contract's question literally: does it fit, and
has an earlier party that keeps waiting already been passed over `bypassLimit` times (under
`strict`: does any earlier party keep waiting)? When it and the rules disagree, the rules are
the suspect.

Outcomes are plain tuples:

    ("registered", user_id, seats)
    ("waitlisted", user_id, position, seats)
    ("denied", user_id, code)
    ("unregistered", user_id, left, (promoted, ...))
    ("removed", user_id, left | None, (promoted, ...))
    ("capacity_changed", capacity, (promoted, ...))
    ("reconfigured", (promoted, ...))
    ("rejected", reason)

With `promotion: offer` a party let in from the line gets an offer instead of a seat: its seats
are held until it accepts, declines or the offer expires; settling outcomes then also carry the
offers made, `(..., (promoted, ...), ((user, seats, expires_at), ...))`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

RefOutcome = tuple[object, ...]


@dataclass
class Party:
    user_id: str
    seats: int
    passovers: int = 0


@dataclass
class Held:
    party: Party
    expires_at: dt.datetime


@dataclass
class PartyEvent:
    capacity: int
    waitlist_enabled: bool
    max_party_size: int
    policy: str  # "strict" | "fill"
    bypass_limit: int
    seated: list[Party] = field(default_factory=list)
    line: list[Party] = field(default_factory=list)
    promotion: str = "automatic"  # "automatic" | "offer"
    offer_ttl: dt.timedelta = dt.timedelta(hours=1)
    now: dt.datetime = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    offered: list[Held] = field(default_factory=list)  # in the order made
    opens_at: dt.datetime | None = None
    closes_at: dt.datetime | None = None
    unregister_closes_at: dt.datetime | None = None
    made: list[tuple[str, int, dt.datetime]] = field(default_factory=list)

    def free(self) -> int:
        held = sum(h.party.seats for h in self.offered)
        return self.capacity - sum(p.seats for p in self.seated) - held

    def bound(self) -> int:
        return 0 if self.policy == "strict" else self.bypass_limit

    def find(self, user_id: str) -> tuple[str, Party] | None:
        for party in self.seated:
            if party.user_id == user_id:
                return "registered", party
        for party in self.line:
            if party.user_id == user_id:
                return "waitlisted", party
        for held in self.offered:
            if held.party.user_id == user_id:
                return "offered", held.party
        return None

    def settle(self, newcomer: Party | None = None) -> list[str]:
        """Everyone considered in line order, the newcomer last; returns who was seated."""
        candidates = [*self.line, *([newcomer] if newcomer else [])]
        waiting = list(candidates)
        seated: list[str] = []
        for index, party in enumerate(candidates):
            earlier_waiting = [p for p in candidates[:index] if p in waiting]
            blocked = any(p.passovers >= self.bound() for p in earlier_waiting)
            if party.seats <= self.free() and not blocked:
                waiting.remove(party)
                if self.promotion == "offer" and party is not newcomer:
                    expires = self.now + self.offer_ttl
                    self.offered.append(Held(party, expires))
                    self.made.append((party.user_id, party.seats, expires))
                else:
                    self.seated.append(party)
                    seated.append(party.user_id)
                for earlier in earlier_waiting:
                    earlier.passovers += 1
        self.line = [p for p in self.line if p in waiting]
        return seated

    # --- commands ---------------------------------------------------------------------

    def settling(self) -> tuple[tuple[str, ...], tuple[tuple[str, int, dt.datetime], ...]]:
        """Settle and say whom it seated and what it offered."""
        self.made = []
        promoted = tuple(self.settle())
        return promoted, tuple(self.made)

    def register(self, user_id: str, seats: int, at: dt.datetime | None = None) -> RefOutcome:  # noqa: PLR0911
        if at is not None and self.opens_at is not None and at < self.opens_at:
            return ("denied", user_id, "REGISTRATION_NOT_OPEN")
        if at is not None and self.closes_at is not None and at >= self.closes_at:
            return ("denied", user_id, "REGISTRATION_CLOSED")
        found = self.find(user_id)
        if found is not None:
            code = "ALREADY_REGISTERED" if found[0] == "registered" else "ALREADY_WAITLISTED"
            return ("denied", user_id, code)
        if seats > self.max_party_size:
            return ("denied", user_id, "PARTY_TOO_LARGE")
        newcomer = Party(user_id, seats)
        if user_id in self.settle(newcomer):
            return ("registered", user_id, seats)
        if not self.waitlist_enabled:
            return ("denied", user_id, "EVENT_FULL")
        self.line.append(newcomer)
        return ("waitlisted", user_id, len(self.line), seats)

    def _leave(self, user_id: str) -> str | None:
        found = self.find(user_id)
        if found is None:
            return None
        standing, party = found
        if standing == "offered":
            self.offered = [h for h in self.offered if h.party is not party]
        else:
            (self.seated if standing == "registered" else self.line).remove(party)
        return standing

    def unregister(self, user_id: str, at: dt.datetime | None = None) -> RefOutcome:
        found = self.find(user_id)
        if found is None:
            return ("denied", user_id, "NOT_REGISTERED")
        closes = self.unregister_closes_at
        if found[0] == "registered" and closes is not None and at is not None and at >= closes:
            return ("denied", user_id, "UNREGISTER_CLOSED")
        left = self._leave(user_id)
        return ("unregistered", user_id, left, *self.settling())

    def remove_user(self, user_id: str) -> RefOutcome:
        left = self._leave(user_id)
        settled = self.settling() if left else ((), ())
        return ("removed", user_id, left, *settled)

    def accept(self, user_id: str, at: dt.datetime | None = None) -> RefOutcome:
        for held in self.offered:
            if held.party.user_id == user_id and (at is None or at < held.expires_at):
                self.offered.remove(held)
                self.seated.append(held.party)
                return ("accepted", user_id, held.party.seats)
        return ("denied", user_id, "NO_OPEN_OFFER")

    def decline(self, user_id: str) -> RefOutcome:
        if self.find(user_id) is None or self.find(user_id)[0] != "offered":  # type: ignore[index]
            return ("denied", user_id, "NO_OPEN_OFFER")
        self._leave(user_id)
        return ("declined", user_id, *self.settling())

    def expire(self, until: dt.datetime) -> list[RefOutcome]:
        ended: list[RefOutcome] = []
        while due := [h for h in self.offered if h.expires_at <= until]:
            first = min(due, key=lambda h: h.expires_at)  # ties: the order made
            self.offered.remove(first)
            ended.append(("expired", first.party.user_id, *self.settling()))
        return ended

    def _refused(self, capacity: int, max_party: int, capacity_given: bool) -> RefOutcome | None:
        held = sum(h.party.seats for h in self.offered)
        if capacity < sum(p.seats for p in self.seated) + held:
            return ("rejected", "capacity_below_registered")
        if max_party > capacity:
            return ("rejected", "capacity_below_party_size" if capacity_given else "party_too_big")
        return None

    def change_capacity(self, capacity: int) -> RefOutcome:
        refused = self._refused(capacity, self.max_party_size, capacity_given=True)
        if refused:
            return refused
        self.capacity = capacity
        return ("capacity_changed", capacity, *self.settling())

    def reconfigure(
        self,
        capacity: int | None,
        max_party_size: int | None,
        policy: str | None,
        bypass_limit: int | None,
    ) -> RefOutcome:
        new_capacity = self.capacity if capacity is None else capacity
        new_max = self.max_party_size if max_party_size is None else max_party_size
        refused = self._refused(new_capacity, new_max, capacity_given=capacity is not None)
        if refused:
            return refused
        self.capacity, self.max_party_size = new_capacity, new_max
        self.policy = policy or self.policy
        self.bypass_limit = self.bypass_limit if bypass_limit is None else bypass_limit
        return ("reconfigured", *self.settling())
