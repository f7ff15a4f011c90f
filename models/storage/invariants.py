"""Guarantee 3 of the contract, checked over the whole database: the one checker that
`tessera check`, the benchmarks and the fault runs use.

The definition is the pure one, `EventSeats.invariant_violations` (models/domain/rules.py): seats
taken
plus seats offered within capacity (a party occupies its `seats`, an offer holds its seats),
counters equal to the members of each standing, the line in joining order, and the line settled
(judged by the rules' own settling). Here the same clauses are read over every event at once
with SQL, plus what only the database can get wrong (order counters, dangling rows, late offers).

The schema already refuses most of these (CHECK constraints, the primary key, foreign keys);
checking them anyway catches what a constraint cannot see (counts against rows, order keys),
a constraint dropped by a careless migration, and data restored from elsewhere.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from models.domain.rules import Membership, Standing
from models.storage.seats import seats_of

# An oversold event, in seats (a party of 3 takes 3; an open offer holds its seats): the
# guarantee, and the figure the fault runs report per scenario.
OVERSOLD = "registered_seats + offered_seats > capacity"

DEFAULT_LIMIT = 1000  # violations listed per check; a broken database must not flood the report


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    sql: str
    message: Callable[[Sequence[Any]], str]  # a result row, as its violation


@dataclass
class CheckResult:
    name: str
    description: str
    violations: list[str] = field(default_factory=list)
    truncated: bool = False  # more violations than listed

    @property
    def ok(self) -> bool:
        return not self.violations


CHECKS: tuple[Check, ...] = (
    Check(
        "not_oversold",
        "seats taken plus seats offered within 0..capacity",
        f"""
        SELECT event_id, registered_seats, offered_seats, capacity FROM events
         WHERE {OVERSOLD} OR registered_seats < 0
            OR offered_seats < 0 OR waitlisted_count < 0
         ORDER BY event_id LIMIT :limit
        """,  # noqa: S608 - OVERSOLD is this module's constant, never input
        lambda r: f"event {r[0]}: {r[1]} seats taken + {r[2]} offered, capacity {r[3]}",
    ),
    Check(
        "counts_match_rows",
        "registered, waitlisted and offered counts, of parties and of seats, and the count of"
        " pending applications equal the rows",
        """
        SELECT e.event_id, e.registered_count, coalesce(r.seated, 0),
               e.waitlisted_count, coalesce(r.waiting, 0),
               e.registered_seats, coalesce(r.seated_seats, 0),
               e.waitlist_seats, coalesce(r.waiting_seats, 0),
               e.offered_count, coalesce(r.offered, 0),
               e.offered_seats, coalesce(r.offered_seats, 0),
               e.applied_count, coalesce(r.applied, 0)
          FROM events AS e
          LEFT JOIN (
                SELECT event_id,
                       count(*) FILTER (WHERE standing = 'registered') AS seated,
                       count(*) FILTER (WHERE standing = 'waitlisted') AS waiting,
                       count(*) FILTER (WHERE standing = 'offered') AS offered,
                       sum(seats) FILTER (WHERE standing = 'registered') AS seated_seats,
                       sum(seats) FILTER (WHERE standing = 'waitlisted') AS waiting_seats,
                       sum(seats) FILTER (WHERE standing = 'offered') AS offered_seats,
                       count(*) FILTER (WHERE standing = 'applied') AS applied
                  FROM registrations GROUP BY event_id
               ) AS r USING (event_id)
         WHERE e.registered_count <> coalesce(r.seated, 0)
            OR e.waitlisted_count <> coalesce(r.waiting, 0)
            OR e.registered_seats <> coalesce(r.seated_seats, 0)
            OR e.waitlist_seats <> coalesce(r.waiting_seats, 0)
            OR e.offered_count <> coalesce(r.offered, 0)
            OR e.offered_seats <> coalesce(r.offered_seats, 0)
            OR e.applied_count <> coalesce(r.applied, 0)
         ORDER BY e.event_id LIMIT :limit
        """,
        lambda r: (
            f"event {r[0]}: counts say {r[1]} registered / {r[3]} waitlisted / {r[9]} offered"
            f" ({r[5]} / {r[7]} / {r[11]} seats), rows say {r[2]} / {r[4]} / {r[10]}"
            f" ({r[6]} / {r[8]} / {r[12]} seats)"
            + (f"; {r[13]} applications, rows say {r[14]}" if r[13] != r[14] else "")
        ),
    ),
    # --- the on-sale draw (#24) ---
    Check(
        "prequeue_counts_match_rows",
        "pre-queued counts, of parties and of seats, equal the rows; none is left once drawn",
        """
        SELECT e.event_id, e.prequeued_count, coalesce(r.parties, 0),
               e.prequeued_seats, coalesce(r.seats, 0), e.drawn_at IS NOT NULL
          FROM events AS e
          LEFT JOIN (
                SELECT event_id, count(*) AS parties, sum(seats) AS seats
                  FROM registrations WHERE standing = 'prequeued' GROUP BY event_id
               ) AS r USING (event_id)
         WHERE e.prequeued_count <> coalesce(r.parties, 0)
            OR e.prequeued_seats <> coalesce(r.seats, 0)
            OR (e.drawn_at IS NOT NULL AND coalesce(r.parties, 0) > 0)
         ORDER BY e.event_id LIMIT :limit
        """,
        lambda r: (
            f"event {r[0]}: counts say {r[1]} pre-queued ({r[3]} seats), rows say {r[2]}"
            f" ({r[4]} seats){'; yet its draw is done' if r[5] else ''}"
        ),
    ),
    Check(
        "offers_end_on_time",
        "no open offer past its end by more than the expiry lag (2 s), and each event knows"
        " its earliest",
        """
        SELECT r.event_id, r.user_id, r.offer_expires_at, e.next_offer_expiry
          FROM registrations AS r JOIN events AS e USING (event_id)
         WHERE r.standing = 'offered'
           AND (r.offer_expires_at < now() - interval '2 seconds'
                OR e.next_offer_expiry IS NULL OR e.next_offer_expiry > r.offer_expires_at)
         ORDER BY r.event_id, r.user_id LIMIT :limit
        """,
        lambda r: (
            f"event {r[0]}: the offer to {r[1]} ended at {r[2].astimezone(dt.UTC):%H:%M:%S}Z"
            f" and is still open (the event's next expiry: {r[3]})"
        ),
    ),
    Check(
        "user_once_per_event",
        "a user is at most once in an event, seated or waiting",
        """
        SELECT event_id, user_id, count(*) FROM registrations
         GROUP BY event_id, user_id HAVING count(*) > 1
         ORDER BY event_id, user_id LIMIT :limit
        """,
        lambda r: f"event {r[0]}: user {r[1]} has {r[2]} registration rows",
    ),
    Check(
        "order_keys_distinct",
        "place order keys distinct per event (waitlist positions 1..n, contiguous)",
        """
        SELECT event_id, place_order, count(*), string_agg(user_id, ', ' ORDER BY user_id)
          FROM registrations
         GROUP BY event_id, place_order HAVING count(*) > 1
         ORDER BY event_id, place_order LIMIT :limit
        """,
        lambda r: f"event {r[0]}: order key {r[1]} shared by {r[2]} users ({r[3]})",
    ),
    Check(
        "order_counter_ahead",
        "every order key is below its event's next_order (new places sort last)",
        """
        SELECT r.event_id, max(r.place_order), e.next_order
          FROM registrations AS r JOIN events AS e USING (event_id)
         GROUP BY r.event_id, e.next_order HAVING max(r.place_order) >= e.next_order
         ORDER BY r.event_id LIMIT :limit
        """,
        lambda r: f"event {r[0]}: order key {r[1]} is not below next_order {r[2]}",
    ),
    Check(
        "registrations_reference_rows",
        "every registration names an existing user and event",
        """
        SELECT r.event_id, r.user_id, e.event_id IS NULL, u.user_id IS NULL
          FROM registrations AS r
          LEFT JOIN events AS e ON e.event_id = r.event_id
          LEFT JOIN users AS u ON u.user_id = r.user_id
         WHERE e.event_id IS NULL OR u.user_id IS NULL
         ORDER BY r.event_id, r.user_id LIMIT :limit
        """,
        lambda r: (
            f"registration ({r[0]}, {r[1]}): missing "
            + " and ".join(what for what, gone in (("event", r[2]), ("user", r[3])) if gone)
        ),
    ),
)

STALE_PENDING = Check(
    "no_stale_pending",
    "no ticket pending for longer than the allowed age",
    """
    SELECT ticket_id, event_id, created_at FROM tickets
     WHERE status = 'pending' AND created_at < :before
     ORDER BY seq LIMIT :limit
    """,
    lambda r: (
        f"ticket {r[0]} (event {r[1]}) pending since {r[2].astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}Z"
    ),
)


def run_checks(
    session: Session,
    *,
    max_pending_age: float | None = None,
    limit: int = DEFAULT_LIMIT,
    now: dt.datetime | None = None,
) -> list[CheckResult]:
    """Run every check in the session's transaction (use REPEATABLE READ to see one snapshot).
    `max_pending_age` (seconds) adds the stale-ticket check."""
    checks: Sequence[Check] = CHECKS
    params: dict[str, object] = {"limit": limit + 1}  # one more tells whether there are more
    if max_pending_age is not None:
        checks = (*CHECKS, STALE_PENDING)
        # the database's clock, like every time the system writes (not this host's)
        moment = now or session.execute(text("SELECT now()")).scalar_one()
        params["before"] = moment - dt.timedelta(seconds=max_pending_age)
    results: list[CheckResult] = []
    for check in checks:
        rows = session.execute(text(check.sql), params).all()
        results.append(
            CheckResult(
                check.name,
                check.description,
                [check.message(row) for row in rows[:limit]],
                truncated=len(rows) > limit,
            )
        )
    unsettled = _unsettled_lines(session, limit + 1)
    results.insert(
        len(CHECKS) - 1,
        CheckResult(
            "line_settled",
            "no waiting party could be seated under its event's policy (the rules decide)",
            unsettled[:limit],
            truncated=len(unsettled) > limit,
        ),
    )
    return results


_LINES = text(
    """
    SELECT e.*, r.user_id, r.place_order, r.seats, r.passovers
      FROM events AS e JOIN registrations AS r USING (event_id)
     WHERE r.standing = 'waitlisted'
       AND e.registered_seats + e.offered_seats < e.capacity
     ORDER BY e.event_id, r.place_order
    """
)


def _unsettled_lines(session: Session, limit: int) -> list[str]:
    """Events whose line the rules would still seat someone from: a line is only ever worth
    looking at beside a free seat, and then the rules' own settling says whether it is done."""
    found: list[str] = []
    for event_id, group in itertools.groupby(session.execute(_LINES), key=lambda r: r.event_id):
        entries = list(group)
        seats = seats_of(
            entries[0],
            # the line as it is, whatever the counters say (they have checks of their own)
            waitlisted_count=len(entries),
            waitlist_seats=sum(e.seats for e in entries),
            members={
                e.user_id: Membership(Standing.WAITLISTED, e.place_order, e.seats, e.passovers)
                for e in entries
            },
            waitlist=deque(e.user_id for e in entries),
        )
        if seated := seats.settled_by_now():
            found.append(
                f"event {event_id}: {', '.join(seated)} could be seated"
                f" ({seats.available} of {seats.capacity} seats free)"
            )
            if len(found) >= limit:
                break
    return found


def violations(session: Session, *, max_pending_age: float | None = None) -> list[str]:
    """Every violation found, as `check: detail` lines; empty when the database is sound."""
    return [
        f"{result.name}: {violation}"
        for result in run_checks(session, max_pending_age=max_pending_age)
        for violation in result.violations
    ]
