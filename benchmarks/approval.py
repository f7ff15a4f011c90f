"""The approval storm (issue #23): applications to one approval event, then every one approved
in random order by 8 concurrent admin clients. Approvals applied/s is reported beside the hot
event's applied/s of the same run: an approval places its party in the line by acceptance time
and settles the line, where a plain register only appends, and this row says what that costs.

Correct means, besides the common checks: every application `applied`, every approval
`registered` or `waitlisted`, each ticket's result and the final seats and line equal to a
replay of the pure rules in apply order, the line in acceptance order, and the ledger verifies.
"""

from __future__ import annotations

import random

import requests

from benchmarks import verify
from benchmarks.harness import (
    Bench,
    Figures,
    QueueDepth,
    ScenarioResult,
    accepted_figures,
    applied_figures,
    common_checks,
    settle,
    worker_batches,
    worker_log_offset,
)
from benchmarks.load import json_call
from benchmarks.stack import BenchStack, CpuMeter

EVENT = "gate"
REFERENCE_EVENT = "gate-open"
DECIDERS = 8  # the storm: 8 concurrent admin clients


def approval_storm(bench: Bench) -> ScenarioResult:
    stack = bench.stack
    scale = bench.scale
    count, capacity = scale.approval_applicants, scale.approval_capacity
    stack.wipe()
    users = [f"a{i:06d}" for i in range(count)]
    stack.seed_users(users)
    # Over HTTP, not COPY: the event's first ledger entry must carry `admission` as the API
    # writes it, or the ledger would not verify.
    _create_event(stack, EVENT, capacity, admission="approval")

    applications = bench.closed(
        [json_call("POST", f"/events/{EVENT}/registrations", {"userId": u}) for u in users]
    )
    problems = settle(bench)
    applied = applied_figures(bench, f"event_id = '{EVENT}' AND type = 'register'")

    order = random.Random(23).sample(users, len(users))  # noqa: S311 - a load, not a secret
    approve = [json_call("POST", f"/events/{EVENT}/applications/{u}/approve", {}) for u in order]
    offset = worker_log_offset(stack)
    result = ScenarioResult("approval-storm", "", "ok")
    with QueueDepth(stack) as queue, CpuMeter(stack) as cpu:
        approvals = bench.closed(approve, clients=DECIDERS)
        problems += settle(bench)
    result.figures = {
        "commands": count,
        "applications": count,
        "capacity": capacity,
        "deciders": DECIDERS,
        "applicationsAppliedPerS": applied["appliedPerS"],
        **accepted_figures(approvals),
        **applied_figures(bench, f"event_id = '{EVENT}' AND type = 'approve'"),
        **worker_batches(stack, offset),
        "maxQueue": queue.deepest,
        "cpuMsPerCommand": cpu.per_command_ms(count),
    }
    problems += common_checks(bench, applications, [EVENT] * count, None)
    problems += common_checks(bench, approvals, [EVENT] * count, 2 * count)
    problems += _storm_outcomes(stack, count, capacity)
    problems += verify.replayed_outcomes(stack.conn)
    problems += verify.ledgers_verify(stack.urls.database_url, [EVENT])

    result.figures |= _hot_reference(bench, users, capacity)
    hot = result.figures["hotAppliedPerS"]
    approvals_per_s = result.figures["appliedPerS"]
    result.figures["approvalsVsHot"] = (
        round(approvals_per_s / hot, 3) if approvals_per_s and hot else None
    )
    result.problems = problems
    return result


def _create_event(stack: BenchStack, event_id: str, capacity: int, admission: str) -> None:
    body = {
        "eventId": event_id,
        "title": "Benchmark",
        "description": "",
        "date": "2030-01-01",
        "location": "Hall",
        "capacity": capacity,
        "organizer": "Tessera",
        "status": "active",
        "waitlistEnabled": True,
        "admission": admission,
    }
    response = requests.post(
        f"{stack.base_url}/events",
        json=body,
        headers={"Authorization": f"Bearer {stack.admin_key}"},
        timeout=30,
    )
    response.raise_for_status()


def _storm_outcomes(stack: BenchStack, count: int, capacity: int) -> list[str]:
    """What the storm must end with whatever the order of the approvals: every application
    `applied`, every approval seated or waiting, the event full, nothing pending, and the line
    in acceptance order (an approved party is never behind one that applied after it)."""
    problems: list[str] = []
    results = dict(
        stack.conn.execute(
            "SELECT type || ':' || (result->>'status'), count(*) FROM tickets"
            " WHERE event_id = %s GROUP BY 1",
            (EVENT,),
        ).fetchall()
    )
    want = {"register:applied": count, "approve:registered": capacity}
    if count > capacity:
        want["approve:waitlisted"] = count - capacity
    if results != want:
        problems.append(f"ticket results {results}, expected {want}")
    # The applications' order as applied (completion, then seq): the acceptance order the
    # rules saw. The line must follow it, whatever order the approvals came in.
    line = [
        int(row[0])
        for row in stack.conn.execute(
            """
            SELECT a.rank FROM registrations r
              JOIN (SELECT user_id, row_number() OVER (ORDER BY completed_at, seq) AS rank
                      FROM tickets WHERE event_id = %(e)s AND type = 'register') a USING (user_id)
             WHERE r.event_id = %(e)s AND r.standing = 'waitlisted'
             ORDER BY r.place_order
            """,
            {"e": EVENT},
        ).fetchall()
    ]
    if line != sorted(line):
        problems.append("the line is not in the applications' acceptance order")
    pending = stack.conn.execute(
        "SELECT count(*) FROM registrations WHERE event_id = %s AND standing = 'applied'",
        (EVENT,),
    ).fetchone()
    if pending is None or pending[0] != 0:
        problems.append(f"{pending} applications still pending after every approval")
    return problems


def _hot_reference(bench: Bench, users: list[str], capacity: int) -> Figures:
    """The hot event's applied/s of this run; when `hot` did not run (`--only`), the same
    users registering on an open event of the same capacity, with the hot scenario's clients,
    measured here so the row always has its comparison."""
    hot = bench.figure("hot", "appliedPerS")
    if hot is not None:
        return {"hotAppliedPerS": hot, "hotSource": "hot scenario of this run"}
    _create_event(bench.stack, REFERENCE_EVENT, capacity, admission="open")
    path = f"/events/{REFERENCE_EVENT}/registrations"
    bench.closed([json_call("POST", path, {"userId": u}) for u in users])
    problems = settle(bench)
    reference = applied_figures(bench, f"event_id = '{REFERENCE_EVENT}'")
    return {
        "hotAppliedPerS": None if problems else reference["appliedPerS"],
        "hotSource": f"own reference: {len(users):,} registers on an open event",
    }
