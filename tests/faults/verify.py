"""What must hold after every fault scenario, read from PostgreSQL (the truth), and the figures
each scenario reports.

The invariants are checked by the project's one checker (`models.storage.invariants`) in this
process,
and by running `tessera check` itself, which must agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models.storage.invariants import OVERSOLD, violations
from tests.faults.lab import FaultLab
from tests.faults.load import Sent
from tests.unit.reference_model import ReferenceEvent

log = logging.getLogger("tessera.faults")

# --- the invariants of CONTRACT.md (guarantee 3) -------------------------------------------


def invariant_violations(engine: Engine) -> list[str]:
    """Guarantee 3 by the project's one checker (`models.storage.invariants`), in one snapshot."""
    snapshot = engine.execution_options(isolation_level="REPEATABLE READ")
    with Session(snapshot) as session:
        return violations(session)


def tessera_check(lab: FaultLab) -> tuple[bool, str]:
    """`tessera check` against the lab's servers, as an operator runs it: (passed, output)."""
    env = {
        **os.environ,
        "DATABASE_URL": lab.urls.database_url,
        "REDIS_URL": lab.urls.redis_url,
    }
    result = subprocess.run(
        [sys.executable, "-m", "tessera.tools.cli", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return result.returncode == 0, (result.stdout + result.stderr)[-3000:]


# --- settling -------------------------------------------------------------------------------


def wait_until_settled(lab: FaultLab, event_ids: Sequence[str], timeout: float = 150.0) -> bool:
    """Wait (bounded) until no ticket of these events is pending. True if that happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pending = lab.scalar(
                "SELECT count(*) FROM tickets WHERE event_id = ANY(:e) AND status = 'pending'",
                e=list(event_ids),
            )
        except Exception:  # PostgreSQL may still be coming back
            pending = None
        if pending == 0:
            return True
        time.sleep(0.1)
    return False


# --- the figures --------------------------------------------------------------------------


@dataclass
class Figures:
    scenario: str
    faults: list[str] = field(default_factory=list)
    faults_mid_batch: int = 0
    commands: int = 0
    accepted: int = 0
    completed: int = 0
    lost: int = 0
    applied_twice: int = 0
    failed: int = 0
    oversold: int = 0
    seq_inversions: int = 0
    replay_mismatches: int = 0
    realtime_order_violations: int = 0
    invariant_violations: int = 0
    unacknowledged: int = 0
    refused_4xx: int = 0
    gave_up: int = 0
    retried: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    http_500: int = 0
    max_in_flight_wait_s: float = 0.0
    max_attempt_s: float = 0.0
    recover_s: float | None = None
    recovery_s: float | None = None
    # drills of a fault that stops writes (a failover, a pooler restart): the longest stretch
    # without a 202 from the fault on, and how many attempts were refused 503 meanwhile
    write_gap_s: float | None = None
    refused_503: int | None = None
    max_ticket_wait_s: float = 0.0
    p99_ticket_wait_s: float = 0.0
    duration_s: float = 0.0
    tessera_check: str = "absent"
    crashes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """The guarantees broken in this scenario (empty when all held)."""
        checks = {
            "lost": self.lost,
            "applied twice": self.applied_twice,
            "failed": self.failed,
            "oversold": self.oversold,
            "results differing from a replay in apply order": self.replay_mismatches,
            "out of real-time order": self.realtime_order_violations,
            "invariant violations": self.invariant_violations,
            "committed but never acknowledged": self.unacknowledged,
            "clients gave up": self.gave_up,
        }
        found = [f"{name}: {count}" for name, count in checks.items() if count]
        if self.accepted != self.completed:
            found.append(f"accepted {self.accepted} but completed {self.completed}")
        if self.tessera_check == "violations":
            found.append("tessera check found violations")
        return found


def _result_of(outcome: tuple[object, ...]) -> dict[str, Any]:
    """A reference outcome in the shape of a ticket's result (status, code, position,
    promotedUserId)."""
    status = outcome[0]
    return {
        "status": status,
        "code": outcome[2] if status == "denied" else None,
        "position": outcome[2] if status == "waitlisted" else None,
        "promotedUserId": outcome[3] if status == "unregistered" else None,
    }


def _comparable(result: dict[str, Any] | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {k: result.get(k) for k in ("status", "code", "position", "promotedUserId")}


@dataclass
class OrderCheck:
    seq_inversions: list[str] = field(default_factory=list)
    replay_mismatches: list[str] = field(default_factory=list)


def check_order(lab: FaultLab, event_ids: Iterable[str], capacity: int) -> OrderCheck:
    """Per event, the order the worker applied tickets in (the order of their
    `ticket.completed` entries in the event log, which are appended under the event's lock):

    - seq inversions: a ticket applied after one with a larger `seq` (ARCHITECTURE.md says
      "acceptance order is apply order", acceptance order being `seq`);
    - replay mismatches: replaying the tickets in the order they were applied through the naive
      reference model must give every ticket's result and the final seats and waitlist."""
    found = OrderCheck()
    for event_id in event_ids:
        model = ReferenceEvent.new(capacity, waitlist_enabled=True)
        tickets = {
            ticket_id: (seq, kind, user_id, result)
            for ticket_id, seq, kind, user_id, result in lab.rows(
                "SELECT ticket_id, seq, type, user_id, result FROM tickets"
                " WHERE event_id = :e AND status = 'completed'",
                e=event_id,
            )
        }
        applied = [
            row[0]
            for row in lab.rows(
                "SELECT payload->>'ticketId' FROM event_log"
                " WHERE event_id = :e AND kind = 'ticket.completed' ORDER BY id",
                e=event_id,
            )
        ]
        highest = (0, "")
        for ticket_id in applied:
            seq, kind, user_id, result = tickets[ticket_id]
            if seq < highest[0]:
                found.seq_inversions.append(
                    f"{event_id}: seq {seq} ({ticket_id}) applied after seq {highest[0]}"
                    f" ({highest[1]})"
                )
            highest = max(highest, (seq, ticket_id))
            expected = model.register(user_id) if kind == "register" else model.unregister(user_id)
            if _comparable(result) != _result_of(expected):
                found.replay_mismatches.append(
                    f"{event_id}/{ticket_id}: got {result}, expected {expected}"
                )
        seated = {
            row[0]
            for row in lab.rows(
                "SELECT user_id FROM registrations WHERE event_id = :e AND standing = 'registered'",
                e=event_id,
            )
        }
        waiting = [
            row[0]
            for row in lab.rows(
                "SELECT user_id FROM registrations WHERE event_id = :e"
                " AND standing = 'waitlisted' ORDER BY place_order",
                e=event_id,
            )
        ]
        if seated != set(model.seated):
            found.replay_mismatches.append(
                f"{event_id}: seats {sorted(seated)} != model {sorted(model.seated)}"
            )
        if waiting != model.waiting:
            found.replay_mismatches.append(
                f"{event_id}: waitlist {waiting} != model {model.waiting}"
            )
    return found


def realtime_order_violations(sent: Sequence[Sent], seq_of: dict[str, int]) -> int:
    """Acceptance order respects real time: for one event, a ticket whose 202 came back
    before another command was first sent has the smaller sequence number."""
    violations = 0
    by_event: dict[str, list[Sent]] = {}
    for item in sent:
        if item.accepted and item.ticket_id in seq_of:
            by_event.setdefault(item.event_id, []).append(item)
    for items in by_event.values():
        answered = sorted(items, key=lambda s: s.answered_at or 0.0)
        highest = 0
        index = 0
        for later in sorted(items, key=lambda s: s.first_sent):
            while index < len(answered) and (answered[index].answered_at or 0.0) < later.first_sent:
                highest = max(highest, seq_of[answered[index].ticket_id or ""])
                index += 1
            if seq_of[later.ticket_id or ""] < highest:
                violations += 1
    return violations


def evaluate(
    lab: FaultLab,
    scenario: str,
    sent: Sequence[Sent],
    *,
    event_ids: Sequence[str],
    capacity: int,
    started: float,
    settle_timeout: float = 150.0,
) -> Figures:
    """Wait for the backlog to drain, then measure every guarantee."""
    settled = wait_until_settled(lab, event_ids, settle_timeout)
    figures = Figures(scenario)
    figures.faults = [f.kind for f in lab.faults]
    figures.crashes = list(lab.crashes)
    figures.faults_mid_batch = sum(1 for f in lab.faults if f.mid_batch)
    figures.commands = len(sent)
    accepted = {s.ticket_id for s in sent if s.accepted and s.ticket_id}
    figures.accepted = len(accepted)
    figures.refused_4xx = sum(1 for s in sent if s.final_status and s.final_status != 202)
    figures.gave_up = sum(1 for s in sent if s.gave_up)
    figures.retried = sum(1 for s in sent if len(s.attempts) > 1)
    answers: Counter[str] = Counter()
    for item in sent:
        answers.update(item.answers)
    figures.answers = dict(sorted(answers.items()))
    figures.http_500 = answers.get("500", 0)
    figures.max_in_flight_wait_s = round(max((s.in_flight_wait for s in sent), default=0.0), 2)
    figures.max_attempt_s = round(
        max((a.ended - a.started for s in sent for a in s.attempts), default=0.0), 2
    )

    rows = lab.rows(
        "SELECT ticket_id, seq, status, completed_at, created_at FROM tickets"
        " WHERE event_id = ANY(:e)",
        e=list(event_ids),
    )
    status_of = {row[0]: row[2] for row in rows}
    seq_of = {row[0]: row[1] for row in rows}
    completions = dict(
        lab.rows(
            "SELECT payload->>'ticketId', count(*) FROM event_log"
            " WHERE kind = 'ticket.completed' AND event_id = ANY(:e) GROUP BY 1",
            e=list(event_ids),
        )
    )
    figures.completed = sum(
        1 for t in accepted if status_of.get(t) == "completed" and completions.get(t) == 1
    )
    figures.lost = sum(
        1 for t in accepted if status_of.get(t) != "completed" or not completions.get(t)
    )
    figures.failed = sum(1 for status in status_of.values() if status == "failed")
    figures.applied_twice = sum(1 for count in completions.values() if count > 1)
    figures.unacknowledged = len(set(status_of) - accepted)
    figures.oversold = int(
        lab.scalar(
            f"SELECT count(*) FROM events WHERE event_id = ANY(:e) AND {OVERSOLD}",
            e=list(event_ids),
        )
    )
    order = check_order(lab, event_ids, capacity)
    figures.seq_inversions = len(order.seq_inversions)
    figures.replay_mismatches = len(order.replay_mismatches)
    figures.realtime_order_violations = realtime_order_violations(sent, seq_of)
    invariants = invariant_violations(lab.engine)
    figures.invariant_violations = len(invariants)
    lost = [
        f"lost {t}: row {status_of.get(t, 'missing')}, completions {completions.get(t, 0)}"
        for t in sorted(accepted)
        if status_of.get(t) != "completed" or completions.get(t) != 1
    ]
    figures.details = (lost + order.replay_mismatches + order.seq_inversions[:5] + invariants)[:20]
    if not settled:
        figures.details.append("the backlog did not drain within the settle timeout")

    waits = sorted(
        (c - created).total_seconds()
        for t, created, c in lab.rows(
            "SELECT ticket_id, created_at, completed_at FROM tickets"
            " WHERE event_id = ANY(:e) AND completed_at IS NOT NULL",
            e=list(event_ids),
        )
        if t in accepted
    )
    if waits:
        figures.max_ticket_wait_s = round(waits[-1], 2)
        figures.p99_ticket_wait_s = round(waits[int(0.99 * (len(waits) - 1))], 2)

    last_fault = max((f.at_wall for f in lab.faults), default=None)
    done_at = [row[3] for row in rows if row[2] != "pending" and row[3] is not None]
    if last_fault is not None and done_at and settled:
        figures.recover_s = round(
            max(0.0, max(done_at).timestamp() - last_fault),
            2,
        )
    figures.recovery_s = recovery_after_heal(lab, rows)
    figures.duration_s = round(time.monotonic() - started, 1)
    passed, output = tessera_check(lab)
    figures.tessera_check = "ok" if passed else "violations"
    if not passed:
        figures.details.append(output)
    return figures


def recovery_after_heal(lab: Any, rows: Sequence[tuple[Any, ...]]) -> float | None:
    """Seconds from the end of the last fault (when it was healed, or when it was injected if
    nothing heals it, e.g. a host that stays dead) until the last ticket accepted by then was
    completed: how long the system took to catch up once it could. Tickets accepted later
    wait no longer than usual (max wait shows it)."""
    if not lab.faults:
        return None
    ends = [f.at_wall + ((f.healed_at - f.at) if f.healed_at else 0.0) for f in lab.faults]
    healed = dt.datetime.fromtimestamp(max(ends), dt.UTC)
    # rows: ticket_id, seq, status, completed_at, created_at
    caught_up = [row[3] for row in rows if row[4] <= healed and row[3] is not None]
    if not caught_up:
        return 0.0
    return round(max(0.0, (max(caught_up) - healed).total_seconds()), 2)


# --- the report -----------------------------------------------------------------------------

COLUMNS = (
    ("scenario", "scenario"),
    ("faults", "faults"),
    ("mid-batch", "faults_mid_batch"),
    ("commands", "commands"),
    ("accepted", "accepted"),
    ("completed", "completed"),
    ("lost", "lost"),
    ("twice", "applied_twice"),
    ("failed", "failed"),
    ("oversold", "oversold"),
    ("replay", "replay_mismatches"),
    ("seq-inv", "seq_inversions"),
    ("rt-order", "realtime_order_violations"),
    ("500s", "http_500"),
    ("crashes", "crashes"),
    ("retried", "retried"),
    ("409 wait s", "max_in_flight_wait_s"),
    ("recover s", "recover_s"),
    ("recovery s", "recovery_s"),
    ("503s", "refused_503"),
    ("gap s", "write_gap_s"),
    ("max wait s", "max_ticket_wait_s"),
    ("run s", "duration_s"),
)


def table(rows: Sequence[Figures]) -> str:
    cells = [[name for name, _ in COLUMNS]]
    for figures in rows:
        line = []
        for _, attribute in COLUMNS:
            value = getattr(figures, attribute)
            if attribute in {"faults", "crashes"}:
                value = len(value)
            line.append("-" if value is None else str(value))
        cells.append(line)
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    rendered = [
        " | ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    ]
    rendered.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(rendered)


class Report:
    """Figures of every scenario run in this session, printed and written as JSON; the whole
    session's table is printed at its end (tests/faults/conftest.py)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[Figures] = []

    def add(self, figures: Figures) -> None:
        self.rows.append(figures)
        self.write()
        detail = (
            f"answers: {figures.answers}; max attempt {figures.max_attempt_s}s;"
            f" refused 4xx {figures.refused_4xx}; gave up {figures.gave_up};"
            f" unacknowledged {figures.unacknowledged};"
            f" invariants {figures.invariant_violations}; tessera check {figures.tessera_check}"
        )
        print(  # noqa: T201 - the scenario's figures are this suite's output (pytest -s)
            f"\n{table([figures])}\n  faults: {', '.join(figures.faults)}\n  {detail}\n"
            + "".join(f"  CRASH: {crash}\n" for crash in figures.crashes)
            + f"  figures written to {self.path}"
        )
        log.info("fault figures written to %s", self.path)

    def write(self) -> None:
        """The JSON file, again (a drill may add figures after `add`: its gap, its recovery)."""
        payload = {
            "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "scenarios": [dataclasses.asdict(row) for row in self.rows],
        }
        self.path.write_text(json.dumps(payload, indent=2))
