"""A naive model of one event with parties and a fair line, written from the contract's v2
wording ("Who gets freed seats"), sharing no code with `models.rules`.

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
"""

from __future__ import annotations

from dataclasses import dataclass, field

RefOutcome = tuple[object, ...]


@dataclass
class Party:
    user_id: str
    seats: int
    passovers: int = 0


@dataclass
class PartyEvent:
    capacity: int
    waitlist_enabled: bool
    max_party_size: int
    policy: str  # "strict" | "fill"
    bypass_limit: int
    seated: list[Party] = field(default_factory=list)
    line: list[Party] = field(default_factory=list)

    def free(self) -> int:
        return self.capacity - sum(p.seats for p in self.seated)

    def bound(self) -> int:
        return 0 if self.policy == "strict" else self.bypass_limit

    def find(self, user_id: str) -> tuple[str, Party] | None:
        for party in self.seated:
            if party.user_id == user_id:
                return "registered", party
        for party in self.line:
            if party.user_id == user_id:
                return "waitlisted", party
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
                self.seated.append(party)
                seated.append(party.user_id)
                for earlier in earlier_waiting:
                    earlier.passovers += 1
        self.line = [p for p in self.line if p in waiting]
        return seated

    # --- commands ---------------------------------------------------------------------

    def register(self, user_id: str, seats: int) -> RefOutcome:
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
        (self.seated if standing == "registered" else self.line).remove(party)
        return standing

    def unregister(self, user_id: str) -> RefOutcome:
        left = self._leave(user_id)
        if left is None:
            return ("denied", user_id, "NOT_REGISTERED")
        return ("unregistered", user_id, left, tuple(self.settle()))

    def remove_user(self, user_id: str) -> RefOutcome:
        left = self._leave(user_id)
        promoted = tuple(self.settle()) if left else ()
        return ("removed", user_id, left, promoted)

    def _refused(self, capacity: int, max_party: int, capacity_given: bool) -> RefOutcome | None:
        if capacity < sum(p.seats for p in self.seated):
            return ("rejected", "capacity_below_registered")
        if max_party > capacity:
            return ("rejected", "capacity_below_party_size" if capacity_given else "party_too_big")
        return None

    def change_capacity(self, capacity: int) -> RefOutcome:
        refused = self._refused(capacity, self.max_party_size, capacity_given=True)
        if refused:
            return refused
        self.capacity = capacity
        return ("capacity_changed", capacity, tuple(self.settle()))

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
        return ("reconfigured", tuple(self.settle()))
