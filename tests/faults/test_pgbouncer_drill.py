"""The whole multi-host lab through PgBouncer in transaction mode (tests/faults/bouncer.py):
both APIs, every worker and the scheduler on `?pgbouncer=true`, under load through both API
hosts, and PgBouncer restarted mid-load (every connection through it closed at once). Checked
like every drill: every 202 completed exactly once, order, invariants, `tessera check`, and
writes resume within seconds of the restart. In `make faults`; skipped, saying why, without
root, network namespaces or Debian's pgbouncer."""

from __future__ import annotations

import time

import pytest

from tests.faults.bouncer import BouncerLab
from tests.faults.failover import writes_resumed_after
from tests.faults.load import LoadRunner
from tests.faults.scenarios import Scale, run_scenario
from tests.faults.verify import Report

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SCALE = Scale(rate=40, max_commands=2000, events=3, capacity=25, clients=8)
RESUME_LIMIT_SECONDS = 5.0
RECOVERY_LIMIT_SECONDS = 15.0
WATCH_SECONDS = 15.0


@pytest.mark.slow
def test_the_lab_through_pgbouncer_under_load_survives_its_restart_and_loses_nothing(
    pooled: BouncerLab, report: Report
) -> None:
    def plan(lab: object, load: LoadRunner) -> None:
        load.wait_for_accepted(100)  # the load runs through the pooler a while first
        time.sleep(5)
        pooled.restart_pooler()
        time.sleep(WATCH_SECONDS)

    outcome = run_scenario(pooled, report, "pgbouncer-restarted", SCALE, plan)
    figures = outcome.figures
    fault = pooled.faults[0]
    gap, refused = writes_resumed_after(outcome.sent, fault.at)
    line = f"{fault.kind}: longest gap without a 202 {gap} s, {refused} attempts refused 503"
    figures.details.append(line)
    figures.write_gap_s, figures.refused_503 = gap, refused
    print(f"\n  {line}\n  figures: {figures}")  # noqa: T201
    assert not figures.problems(), (figures.problems(), figures.details)
    assert figures.lost == 0
    assert figures.http_500 == 0, figures.answers
    assert figures.tessera_check == "ok"
    assert gap is not None, line
    assert gap <= RESUME_LIMIT_SECONDS, line
    assert figures.recovery_s is not None
    assert figures.recovery_s <= RECOVERY_LIMIT_SECONDS
