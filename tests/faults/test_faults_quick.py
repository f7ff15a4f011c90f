"""The short fault drill of the default test run: one worker SIGKILL and one Redis restart under
a small load. The long drills are in test_faults_long.py (`make faults`)."""

from __future__ import annotations

import time

import pytest

from tests.faults.lab import FaultLab
from tests.faults.load import LoadRunner, ReadyProbe
from tests.faults.scenarios import Scale, answers_between, run_scenario
from tests.faults.verify import Report

pytestmark = pytest.mark.e2e

QUICK = Scale(rate=30, max_commands=600, events=2, capacity=15, clients=6)


def test_a_worker_killed_mid_batch_and_restarted_loses_and_repeats_nothing(
    lab: FaultLab, report: Report
) -> None:
    def plan(lab: FaultLab, load: LoadRunner) -> None:
        load.wait_for_accepted(40)
        lab.kill_worker()
        time.sleep(1.0)  # commands keep arriving with no worker at all
        lab.restart_worker()

    outcome = run_scenario(lab, report, "quick-worker-kill", QUICK, plan)

    figures = outcome.figures
    assert not figures.problems(), (figures.problems(), figures.details)
    assert figures.http_500 == 0, figures.answers
    assert figures.accepted > 100


def test_redis_killed_and_restarted_empty_costs_no_ticket_and_commands_keep_being_accepted(
    lab: FaultLab, report: Report
) -> None:
    windows: list[tuple[float, float]] = []

    def plan(lab: FaultLab, load: LoadRunner) -> None:
        load.wait_for_accepted(40)
        fault = lab.kill_redis()
        # long enough for commands and /ready probes to land in the outage on a busy machine
        # (a /ready that pings a dead Redis may itself take up to a second)
        time.sleep(3.0)
        # the outage ends when the restart begins: Redis answers before start returns
        restarting = time.monotonic()
        lab.start_redis()
        windows.append((fault.at, restarting))

    with ReadyProbe(lab.base_url) as probe:
        outcome = run_scenario(lab, report, "quick-redis-restart", QUICK, plan)

    figures = outcome.figures
    assert not figures.problems(), (figures.problems(), figures.details)
    assert figures.http_500 == 0, figures.answers
    ((down, up),) = windows
    during = answers_between(outcome.sent, down, up)
    assert during, "no command was sent while Redis was down"
    assert set(during) == {"202"}, during
    not_ready = [p for p in probe.between(down + 0.5, up - 0.5) if p.status is not None]
    assert not_ready, "no /ready answer while Redis was down"
    assert {(p.status, p.code) for p in not_ready} == {(503, "NOT_READY")}
