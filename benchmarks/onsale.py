"""The on-sale scenario (#24): a pre-queue of the hot event's size drawn at the opening, beside
the same registers on a first-come event in the same run.

The draw's bound (CONTRACT.md v3 and the issue): from `registrationOpensAt` to the last drawn
party's standing visible over HTTP, under 5 s for 20,000 parties on 2,000 seats.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import requests

from benchmarks import verify
from benchmarks.harness import (
    Bench,
    ScenarioResult,
    accepted_figures,
    applied_figures,
    common_checks,
    ms,
    profiled,
    settle,
)
from benchmarks.load import Call, json_call
from benchmarks.stack import BenchStack, CpuMeter

# The opening is set when the event is made, before the pre-queue is sent: far enough ahead
# that the pre-queue, sent at this run's measured first-come rate, is all applied before it.
_LEAD_FACTOR = 2.0
_LEAD_SPARE_SECONDS = 3.0
# Coarse enough that the polling client adds no load of note to the draw it times.
_POLL_SECONDS = 0.1


def onsale(bench: Bench) -> ScenarioResult:
    """7. On-sale draw: the hot event's registers pre-queued on an `opening: "draw"` event of
    the hot capacity, drawn by the applier at the opening (woken by beat); beside them the same
    registers on a first-come event, so both accepted rates come from one run."""
    stack = bench.stack
    scale = bench.scale
    count, capacity = scale.hot_registers, scale.hot_capacity
    stack.wipe()
    users = [f"o{i:06d}" for i in range(count)]
    stack.seed_users(users)
    stack.seed_events(["fifo"], capacity)
    fifo = bench.closed(_registers("fifo", users))
    problems = settle(bench)
    fifo_figures = accepted_figures(fifo)
    fifo_rate = fifo_figures["acceptedPerS"] or 100.0

    opens = _create_draw_event(stack, capacity, count / fifo_rate * _LEAD_FACTOR)
    prequeue_started = dt.datetime.now(dt.UTC)
    with profiled(bench, "onsale") as profile, CpuMeter(stack) as cpu:
        prequeue = bench.closed(_registers("onsale", users))
        problems += settle(bench)
        prequeued_by = dt.datetime.now(dt.UTC)
        if prequeued_by >= opens:
            problems.append(
                f"the pre-queue was applied {(prequeued_by - opens).total_seconds():.1f} s"
                " after the opening: some registers were not pre-queued"
            )
        seen = _wait_for_draw(stack, opens, scale.apply_timeout)
    prequeue_figures = accepted_figures(prequeue)
    where = f"event_id = 'onsale' AND created_at >= '{prequeue_started.isoformat()}'"
    figures = {
        "registers": count,
        "capacity": capacity,
        "prequeueAccepted": prequeue_figures["accepted"],
        "prequeueAcceptedPerS": prequeue_figures["acceptedPerS"],
        "hotAcceptedPerS": fifo_figures["acceptedPerS"],
        # the `hot` scenario's own figure, when it ran earlier in this run
        "hotScenarioAcceptedPerS": bench.figure("hot", "acceptedPerS"),
        "prequeueAppliedPerS": applied_figures(bench, where)["appliedPerS"],
        "openingLeadS": round((opens - prequeue_started).total_seconds(), 1),
        **_draw_figures(stack, opens, seen),
        "cpuMsPerCommand": cpu.per_command_ms(count),
    }
    problems += common_checks(bench, None, None, 2 * count)
    problems += verify.acceptance_order(stack.conn, fifo, ["fifo"] * count)
    problems += verify.acceptance_order(stack.conn, prequeue, ["onsale"] * count)
    problems += _draw_checks(stack, users, capacity)
    problems += verify.ledgers_verify(stack.urls.database_url, ["fifo", "onsale"])
    if figures["drawVisibleMs"] is None:
        problems.append("no client saw the draw")
    # Over 5 s is a missed target (report.py), not a wrong answer: on a shared machine timing
    # is noisy, and a wrong answer fails the run whatever the flags.
    result = ScenarioResult("onsale", "", "ok", figures, problems)
    if profile is not None:
        result.profiles = profile.profiles
    return result


def _registers(event_id: str, users: list[str]) -> list[Call]:
    return [json_call("POST", f"/events/{event_id}/registrations", {"userId": u}) for u in users]


def _create_draw_event(stack: BenchStack, capacity: int, lead: float) -> dt.datetime:
    """POST /events, as an organizer would: the commitment is drawn by the API."""
    now = dt.datetime.now(dt.UTC)
    opens = now + dt.timedelta(seconds=lead + _LEAD_SPARE_SECONDS)
    body = {
        "eventId": "onsale",
        "title": "On sale",
        "description": "",
        "date": "2030-01-01",
        "location": "Arena",
        "capacity": capacity,
        "organizer": "Tessera",
        "status": "active",
        "waitlistEnabled": True,
        "opening": "draw",
        "prequeueOpensAt": _rfc3339(now - dt.timedelta(seconds=1)),
        "registrationOpensAt": _rfc3339(opens),
    }
    answer = requests.post(
        stack.base_url + "/events",
        json=body,
        headers={"Authorization": f"Bearer {stack.admin_key}"},
        timeout=10,
    )
    if answer.status_code != 201:
        raise RuntimeError(f"the draw event was refused: {answer.status_code} {answer.text}")
    return opens


def _rfc3339(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _wait_for_draw(stack: BenchStack, opens: dt.datetime, timeout: float) -> dt.datetime | None:
    """When a client polling the event first saw `drawnAt` (the draw is one transaction: every
    drawn party's standing becomes visible with it)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.admin_key}"
    pause = (opens - dt.datetime.now(dt.UTC)).total_seconds() - 0.2
    if pause > 0:
        time.sleep(pause)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = session.get(stack.base_url + "/events/onsale", timeout=10).json()
        if event.get("drawnAt") is not None:
            return dt.datetime.now(dt.UTC)
        time.sleep(_POLL_SECONDS)
    return None


def _draw_entry(stack: BenchStack) -> dict[str, object] | None:
    row = stack.conn.execute(
        "SELECT entry FROM ledger_entries WHERE event_id = 'onsale'"
        " AND entry::jsonb->>'kind' = 'draw'"
    ).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def _draw_figures(
    stack: BenchStack, opens: dt.datetime, seen: dt.datetime | None
) -> dict[str, object]:
    last_visible = None
    entry = _draw_entry(stack)
    if seen is not None and entry is not None:
        # the last drawn party's standing, read over HTTP like any client would
        drawn = entry["outcome"]["drawn"]  # type: ignore[index]
        last = drawn[-1]["userId"] if drawn else None
        if last is not None:
            answer = requests.get(
                f"{stack.base_url}/events/onsale/registrations/{last}",
                headers={"Authorization": f"Bearer {stack.admin_key}"},
                timeout=10,
            ).json()
            last_visible = answer.get("status")
    drawn_at = stack.conn.execute(
        "SELECT drawn_at FROM events WHERE event_id = 'onsale'"
    ).fetchone()
    stamped = drawn_at[0] if drawn_at else None
    return {
        "drawVisibleMs": ms((seen - opens).total_seconds()) if seen else None,
        "drawnAtLagMs": ms((stamped - opens).total_seconds()) if stamped else None,
        "lastDrawnStanding": last_visible,
    }


def _draw_checks(stack: BenchStack, users: list[str], capacity: int) -> list[str]:
    """Every pre-queue ticket ended `prequeued`; the draw entry names every party once in the
    order its keys give; the first `capacity` drawn are seated, the rest wait in drawn order."""
    from models.domain import draw

    problems: list[str] = []
    statuses = dict(
        stack.conn.execute(
            "SELECT result->>'status', count(*) FROM tickets WHERE event_id = 'onsale' GROUP BY 1"
        ).fetchall()
    )
    if statuses != {"prequeued": len(users)}:
        problems.append(f"pre-queue tickets ended {statuses}, not all prequeued")
    entry = _draw_entry(stack)
    if entry is None:
        return [*problems, "no draw entry in the ledger of onsale"]
    outcome = entry["outcome"]
    assert isinstance(outcome, dict)
    drawn = outcome["drawn"]
    expected = draw.order(bytes.fromhex(outcome["seed"]), outcome["closingHash"], users)
    if [(p["key"], p["userId"]) for p in drawn] != expected:
        problems.append("the drawn order is not the order of the keys seed, chain and ids give")
    wanted = ["registered"] * capacity + ["waitlisted"] * (len(users) - capacity)
    if [p["status"] for p in drawn] != wanted[: len(drawn)]:
        problems.append("the drawn parties' outcomes are not first seated, then waitlisted")
    standings = dict(
        stack.conn.execute(
            "SELECT standing, count(*) FROM registrations WHERE event_id = 'onsale' GROUP BY 1"
        ).fetchall()
    )
    seated = min(capacity, len(users))
    if standings != {
        k: v for k, v in {"registered": seated, "waitlisted": len(users) - seated}.items() if v
    }:
        problems.append(f"standings after the draw: {standings}")
    return problems
