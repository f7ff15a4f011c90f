"""What-if replays (pure): an event's recorded demand under another policy, side by side with
what happened.

The demand is what the people did, in ledger order: register and unregister tickets (with
their acceptance times, so windows still decide), user deletions, and the event updates (every
changed setting except those the what-if fixes). What the rules decided is not demand: it is
what the what-if decides again.

Offers in a what-if are answered at once, in the step that makes them: a party accepts unless
the record shows it turning its (first) offer down (a decline, letting it expire, or leaving
while offered); a party never offered in reality accepts. So a what-if holds no seats on offer,
and the recorded accept/decline tickets and expiries are not replayed as demand (the answers
stand for them). Waits are counted in ledger entries, the one clock every entry has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from models.domain import ledger
from models.domain.errors import DomainError
from models.domain.ledger_replay import EPOCH, CannotReplay, Replay
from models.domain.rules import (
    DenialCode,
    Denied,
    EventSeats,
    OfferAccepted,
    Opening,
    Outcome,
    Policy,
    Promotion,
    Registered,
    Standing,
    Unregistered,
    UserRemoved,
    Waitlisted,
    offers_by,
    promoted_by,
)


@dataclass(frozen=True)
class Scenario:
    """The settings a what-if fixes: the policy, and optionally the bypass bound and promotion
    (None: as recorded, updates included)."""

    policy: Policy
    bypass_limit: int | None = None
    promotion: Promotion | None = None
    # `fifo` for a recorded draw: the pre-queue's registers arrive at the opening in their
    # acceptance order, first come first served (who would have won by arriving first; #24)
    opening: Opening | None = None


@dataclass
class RunStats:
    """One run of the demand: what it seated, how long parties waited, who was passed over."""

    policy: str
    bypass_limit: int
    promotion: str
    seated_series: list[int] = field(default_factory=list)  # seated seats after each entry
    seated_at: dict[str, int] = field(default_factory=dict)  # first entry a user held seats at
    seated_end: dict[str, int] = field(default_factory=dict)  # user → seats, at the end
    waits: list[int] = field(default_factory=list)  # entries from joining the line to let in
    joined: int = 0  # parties that joined the line
    left_waiting: int = 0  # parties that left the line before being let in
    still_waiting: int = 0
    max_passovers: int = 0
    passovers_by_user: dict[str, int] = field(default_factory=dict)
    denied_full: int = 0
    updates_refused: int = 0
    seats_on_offer_end: int = 0

    @property
    def parties_seated(self) -> int:
        return len(self.seated_end)

    @property
    def seats_seated(self) -> int:
        return sum(self.seated_end.values())

    @property
    def parties_ever_seated(self) -> int:
        return len(self.seated_at)

    @property
    def mean_wait(self) -> float | None:
        return sum(self.waits) / len(self.waits) if self.waits else None

    @property
    def max_wait(self) -> int | None:
        return max(self.waits) if self.waits else None

    def summary(self) -> dict[str, Any]:
        mean = self.mean_wait
        return {
            "policy": self.policy,
            "bypassLimit": self.bypass_limit,
            "promotion": self.promotion,
            "partiesSeated": self.parties_seated,
            "seatsSeated": self.seats_seated,
            "partiesEverSeated": self.parties_ever_seated,
            "partiesJoinedLine": self.joined,
            "partiesLetInFromLine": len(self.waits),
            "partiesLeftLineWaiting": self.left_waiting,
            "partiesStillWaiting": self.still_waiting,
            "meanWaitEntries": None if mean is None else round(mean, 2),
            "maxWaitEntries": self.max_wait,
            "maxPassovers": self.max_passovers,
            "deniedEventFull": self.denied_full,
            "updatesRefused": self.updates_refused,
            "seatsOnOfferAtEnd": self.seats_on_offer_end,
        }


class _Tracker:
    """Watches one run step by step (the rules' outcomes and the users they changed)."""

    def __init__(self, seats: EventSeats) -> None:
        self.stats = RunStats(seats.policy.value, seats.bypass_limit, seats.promotion.value)
        self.joined_at: dict[str, int] = {}

    def saw(
        self, index: int, seats: EventSeats, user_id: str | None, outcome: Outcome | None
    ) -> None:
        stats = self.stats
        match outcome:
            case Waitlisted(user_id=waiting):
                self.joined_at[waiting] = index
                stats.joined += 1
            case Registered(user_id=seated) | OfferAccepted(user_id=seated):
                stats.seated_at.setdefault(seated, index)
            case Denied(code=DenialCode.EVENT_FULL):
                stats.denied_full += 1
            case Unregistered(left=Standing.WAITLISTED) | UserRemoved(left=Standing.WAITLISTED):
                if user_id is not None and self.joined_at.pop(user_id, None) is not None:
                    stats.left_waiting += 1
        if outcome is not None:
            for promoted in promoted_by(outcome):
                self._let_in(index, promoted)
                stats.seated_at.setdefault(promoted, index)
            for offer in offers_by(outcome):
                self._let_in(index, offer.user_id)
        for changed in seats.changed:
            membership = seats.members.get(changed)
            if membership is not None and membership.standing is Standing.WAITLISTED:
                if membership.passovers > stats.passovers_by_user.get(changed, 0):
                    stats.passovers_by_user[changed] = membership.passovers
                stats.max_passovers = max(stats.max_passovers, membership.passovers)
        seats.changed.clear()
        stats.seated_series.append(seats.registered_seats)

    def _let_in(self, index: int, user_id: str) -> None:
        joined = self.joined_at.pop(user_id, None)
        if joined is not None:
            self.stats.waits.append(index - joined)

    def finish(self, seats: EventSeats) -> RunStats:
        stats = self.stats
        stats.seated_end = {
            u: m.seats
            for u, m in seats.members.items()
            if m is not None and m.standing is Standing.REGISTERED
        }
        stats.still_waiting = seats.waitlisted_count
        stats.seats_on_offer_end = seats.offered_seats
        return stats


# --- the two runs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """What happened: the run of the recorded entries, and how each offered user answered."""

    stats: RunStats
    accepts_offers: dict[str, bool]


def replay_recorded(entries: Sequence[ledger.Entry]) -> Recorded:
    """Replay the recorded entries as they were (the verifier's replay; no outcome checks)."""
    replay = Replay.start(entries[0])
    tracker = _Tracker(replay.seats)
    tracker.saw(1, replay.seats, None, None)
    answers: dict[str, bool] = {}
    for entry in entries[1:]:
        user_id = entry.get("userId")
        before = replay.seats.members.get(user_id) if isinstance(user_id, str) else None
        outcome, _ = replay.apply(entry)
        tracker.saw(entry["index"], replay.seats, user_id, outcome)
        if isinstance(user_id, str) and user_id not in answers:
            answer = _offer_answer(entry, before, outcome)
            if answer is not None:
                answers[user_id] = answer
    return Recorded(tracker.finish(replay.seats), answers)


def _offer_answer(entry: ledger.Entry, before: Any, outcome: Outcome | None) -> bool | None:
    """How an offered user answered, if this entry is their answer."""
    if isinstance(outcome, OfferAccepted):
        return True
    if entry.get("kind") == ledger.OFFER_EXPIRED or entry.get("type") == "decline_offer":
        return False if outcome is not None and not isinstance(outcome, Denied) else None
    left_offered = before is not None and before.standing is Standing.OFFERED
    if left_offered and isinstance(outcome, Unregistered | UserRemoved):
        return False
    return None


def replay_what_if(
    entries: Sequence[ledger.Entry], scenario: Scenario, accepts_offers: dict[str, bool]
) -> RunStats:
    """The recorded demand under the scenario's settings."""
    settings = dict(entries[0]["outcome"])
    settings["waitlistPolicy"] = scenario.policy.value
    if scenario.bypass_limit is not None:
        settings["bypassLimit"] = scenario.bypass_limit
    if scenario.promotion is not None:
        settings["promotion"] = scenario.promotion.value
    seats = ledger.seats_from_settings(settings)
    seats.now = EPOCH
    tracker = _Tracker(seats)
    tracker.saw(1, seats, None, None)
    fixed = {"waitlistPolicy"}
    if scenario.bypass_limit is not None:
        fixed.add("bypassLimit")
    if scenario.promotion is not None:
        fixed.add("promotion")
    arrival = _fifo_arrival(settings, scenario, seats, fixed)
    for entry in entries[1:]:
        index, user_id = entry["index"], entry.get("userId")
        moment = ledger.parse_moment(entry.get("acceptedAt"))
        if moment is not None and arrival is not None and entry.get("type") == "register":
            prequeue, opens = arrival
            moment = opens if prequeue <= moment < opens else moment
        if moment is not None:
            seats.now = moment
        outcome = _demand(seats, entry, moment, fixed, tracker.stats)
        tracker.saw(index, seats, user_id, outcome)
        _answer_offers(seats, index, accepts_offers, tracker)
    return tracker.finish(seats)


def _demand(
    seats: EventSeats,
    entry: ledger.Entry,
    moment: dt.datetime | None,
    fixed: set[str],
    stats: RunStats,
) -> Outcome | None:
    """Apply one recorded entry's demand; None when it is not demand (offer answers and
    expiries: the model answered every offer at once)."""
    kind, user_id = entry.get("kind"), entry.get("userId")
    if kind == ledger.TICKET and isinstance(user_id, str):
        return _ticket_demand(seats, entry, user_id, moment)
    if kind == ledger.USER_REMOVED and isinstance(user_id, str):
        return seats.remove_user(user_id)
    if kind == ledger.EVENT_UPDATED:
        return _update_demand(seats, entry, fixed, stats)
    if kind == ledger.DRAW and seats.draw_due() is not None:
        outcome = entry["outcome"]
        seats.draw_seed = bytes.fromhex(outcome["seed"])
        return seats.draw(outcome["closingHash"])
    return None


def _fifo_arrival(
    settings: dict[str, Any], scenario: Scenario, seats: EventSeats, fixed: set[str]
) -> tuple[dt.datetime, dt.datetime] | None:
    """For a FIFO what-if of a draw: the pre-queue window whose registers arrive at the
    opening instead (the what-if event opens first come, first served)."""
    if scenario.opening is not Opening.FIFO or settings.get("opening") != Opening.DRAW.value:
        return None
    prequeue = ledger.parse_moment(settings.get("prequeueOpensAt"))
    opens = ledger.parse_moment(settings.get("registrationOpensAt"))
    seats.opening, seats.draw_commitment = Opening.FIFO, None
    fixed.update({"opening", "drawCommitment"})
    if prequeue is None or opens is None:
        return None
    return prequeue, opens


def _ticket_demand(
    seats: EventSeats, entry: ledger.Entry, user_id: str, moment: dt.datetime | None
) -> Outcome | None:
    type_, recorded = entry.get("type"), entry.get("outcome") or {}
    if recorded.get("code") == DenialCode.USER_NOT_FOUND:
        return None  # the user was gone: no demand
    if type_ == "register":
        return seats.register(user_id, entry["seats"], moment)
    if type_ == "unregister":
        return seats.unregister(user_id, moment)
    # --- approval (#23): an organizer's decisions are demand too ---
    if type_ == "approve":
        return seats.approve(user_id)
    if type_ == "reject":
        return seats.reject(user_id)
    return None


def _update_demand(
    seats: EventSeats, entry: ledger.Entry, fixed: set[str], stats: RunStats
) -> Outcome | None:
    changes = {
        name: change for name, change in entry["outcome"]["changes"].items() if name not in fixed
    }
    if not changes:
        return None
    try:
        return seats.reconfigure(ledger.reconfigure_to(changes))
    except DomainError:
        # e.g. a capacity the recorded run could lower but this one has seated more than
        stats.updates_refused += 1
        return None


def _answer_offers(
    seats: EventSeats, index: int, accepts_offers: dict[str, bool], tracker: _Tracker
) -> None:
    """Answer every open offer at once, in the order made (a decline settles again)."""
    while offers := seats.open_offers():
        user_id = offers[0][0]
        answer: Outcome
        if accepts_offers.get(user_id, True):
            answer = seats.accept_offer(user_id)
        else:
            answer = seats.decline_offer(user_id)
        tracker.saw(index, seats, user_id, answer)
        tracker.stats.seated_series.pop()  # one figure per entry, set below
    tracker.stats.seated_series[-1] = seats.registered_seats


# --- side by side -------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    event_id: str
    entries: int
    actual: RunStats
    what_if: RunStats
    checkpoints: list[int]

    @property
    def seated_only_in_what_if(self) -> dict[str, int]:
        return {u: s for u, s in self.what_if.seated_end.items() if u not in self.actual.seated_end}

    @property
    def seated_only_actually(self) -> dict[str, int]:
        return {u: s for u, s in self.actual.seated_end.items() if u not in self.what_if.seated_end}

    def seated_sooner_later(self) -> tuple[int, int]:
        """Users seated in both runs at some point: how many got seats sooner / later."""
        sooner = later = 0
        for user_id, at in self.what_if.seated_at.items():
            actual = self.actual.seated_at.get(user_id)
            if actual is not None and at < actual:
                sooner += 1
            elif actual is not None and at > actual:
                later += 1
        return sooner, later

    def filled(self) -> list[dict[str, int]]:
        return [
            {
                "index": index,
                "actual": self.actual.seated_series[index - 1],
                "whatIf": self.what_if.seated_series[index - 1],
            }
            for index in self.checkpoints
        ]

    def as_json(self) -> dict[str, Any]:
        sooner, later = self.seated_sooner_later()
        return {
            "eventId": self.event_id,
            "entries": self.entries,
            "actual": self.actual.summary(),
            "whatIf": self.what_if.summary(),
            "seatsFilled": self.filled(),
            "seatedOnlyInWhatIf": _parties(self.seated_only_in_what_if),
            "seatedOnlyActually": _parties(self.seated_only_actually),
            "seatedSoonerInWhatIf": sooner,
            "seatedLaterInWhatIf": later,
        }


def _parties(seated: dict[str, int]) -> list[dict[str, Any]]:
    return [{"userId": u, "seats": s} for u, s in sorted(seated.items())]


def checkpoints(entries: int, points: int) -> list[int]:
    """Up to `points` entry indexes spread evenly over 1..entries, the last one included."""
    points = max(1, min(points, entries))
    return sorted({max(1, round(entries * k / points)) for k in range(1, points + 1)})


def compare(entries: Sequence[ledger.Entry], scenario: Scenario, *, points: int = 10) -> Comparison:
    """Replay what happened and the scenario over the same entries, side by side. Raises
    CannotReplay when the recorded entries do not replay (run the verifier for the details)."""
    if not entries:
        raise CannotReplay("the ledger is empty")
    recorded = replay_recorded(entries)
    try:
        what_if = replay_what_if(entries, scenario, recorded.accepts_offers)
    except (DomainError, ValueError, KeyError, TypeError) as error:
        raise CannotReplay(f"the what-if cannot replay the demand: {error}") from error
    return Comparison(
        str(entries[0].get("eventId")),
        len(entries),
        recorded.stats,
        what_if,
        checkpoints(len(entries), points),
    )
