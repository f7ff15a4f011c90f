"""The Redis Sentinel drill (tests/faults/sentinel.py): the multi-host lab's every process on a
`redis+sentinel://` REDIS_URL, the master's host killed under load through both API hosts.
Redis holds nothing of record, so accepts never stop; what it carries, wake-ups and the
long-polls' answers, resumes within 10 s of the kill once the sentinels have promoted the
replica and the clients asked them again. Checked like every drill (every 202 completed once,
order, invariants, `tessera check`). In `make faults`; skipped, saying why, without root or
network namespaces."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

from tests.faults.failover import writes_resumed_after
from tests.faults.lab import CLIENT_KEY
from tests.faults.load import LoadRunner
from tests.faults.scenarios import Scale, run_scenario
from tests.faults.sentinel import SentinelLab
from tests.faults.verify import Report
from tests.faults.waiters import DISTURBED_SECONDS, WaiterProbe

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SCALE = Scale(rate=30, max_commands=1500, events=3, capacity=25, clients=6)
RESUME_LIMIT_SECONDS = 10.0
# Accepts need only PostgreSQL: the longest stretch without a 202 stays what load alone gives.
ACCEPT_GAP_LIMIT_SECONDS = 2.0
WATCH_SECONDS = 20.0


def wake_ups_resumed_after(lab: SentinelLab, event_ids: list[str], fault_wall: float) -> float:
    """Seconds from the fault until the last ticket accepted after it that waited longer than
    an undisturbed one does (its wake-up went missing, so the sweeper or a later wake-up
    applied it) was completed; 0.0 if none did."""
    since = dt.datetime.fromtimestamp(fault_wall, dt.UTC)
    slow = [
        completed
        for created, completed in lab.rows(
            "SELECT created_at, completed_at FROM tickets WHERE event_id = ANY(:e)"
            " AND created_at >= :since AND completed_at IS NOT NULL",
            e=event_ids,
            since=since,
        )
        if (completed - created).total_seconds() > DISTURBED_SECONDS
    ]
    return round(max(((c - since).total_seconds() for c in slow), default=0.0), 2)


@pytest.mark.slow
def test_the_redis_master_killed_under_load_accepts_never_stop_and_waiters_resume(
    sentinels: SentinelLab, report: Report
) -> None:
    prefix = f"waiters-{uuid.uuid4().hex[:6]}"
    users = [f"{prefix}-u{i:04}" for i in range(400)]
    sentinels.seed_users(users)
    sentinels.create_event(f"{prefix}-e", capacity=1000)
    probe = WaiterProbe(sentinels.base_urls, CLIENT_KEY, f"{prefix}-e", users)

    def plan(lab: object, load: LoadRunner) -> None:
        with probe:
            load.wait_for_accepted(40)
            time.sleep(3)  # undisturbed waits first
            sentinels.kill_master()
            time.sleep(WATCH_SECONDS)

    outcome = run_scenario(sentinels, report, "sentinel-master-killed", SCALE, plan)
    figures = outcome.figures
    fault = sentinels.faults[0]
    gap, refused = writes_resumed_after(outcome.sent, fault.at)
    waiters = probe.resumed_after(fault.at)
    event_ids = sorted({s.event_id for s in outcome.sent})
    wake_ups = wake_ups_resumed_after(sentinels, event_ids, fault.at_wall)
    line = (
        f"{fault.kind}: new master after {sentinels.new_master_after} s; longest gap without a"
        f" 202 {gap} s, {refused} refused 503; waiters resumed after {waiters} s"
        f" ({probe.disturbed(fault.at)} of {len(probe.waits)} waits disturbed);"
        f" wake-ups resumed after {wake_ups} s"
    )
    figures.details.append(line)
    figures.recovery_s = max(waiters or 0.0, wake_ups)
    figures.write_gap_s, figures.refused_503 = gap, refused
    print(f"\n  {line}\n  figures: {figures}")  # noqa: T201
    assert not figures.problems(), (figures.problems(), figures.details)
    assert figures.lost == 0
    assert figures.http_500 == 0, figures.answers
    assert figures.tessera_check == "ok"
    assert gap is not None, line
    assert gap <= ACCEPT_GAP_LIMIT_SECONDS, line
    assert refused == 0, line
    assert sentinels.new_master_after is not None, line
    assert waiters is not None, line
    assert waiters <= RESUME_LIMIT_SECONDS, line
    assert wake_ups <= RESUME_LIMIT_SECONDS, line
