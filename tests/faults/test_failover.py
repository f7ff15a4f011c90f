"""Drills on a replicated PostgreSQL (a three-node Patroni cluster in synchronous_mode_strict,
tests/faults/failover.py) under load through both API hosts, each measured like every other
drill (tests/faults/verify.py: every 202 completed exactly once, order, invariants, `tessera
check`, recovery), plus how long writes were refused:

- the primary's host killed: a synchronous standby is promoted, writes resume within 15 s;
- a planned switchover: writes resume within 5 s;
- the primary cut from every other host while it runs: no split brain, nothing lost.

The default run has the short kill drill; `make faults` runs the rest. Without root, network
namespaces or Debian's patroni/etcd-server/postgresql they skip, saying why.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from tests.faults.failover import FailoverLab, writes_resumed_after
from tests.faults.load import LoadRunner, Sent
from tests.faults.scenarios import Scale, run_scenario
from tests.faults.verify import Figures, Report

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SHORT = Scale(rate=30, max_commands=600, events=2, capacity=15, clients=6)
LONG = Scale(rate=40, max_commands=3000, events=4, capacity=25, clients=8)
KILL_RESUME_LIMIT_SECONDS = 15.0
SWITCHOVER_RESUME_LIMIT_SECONDS = 5.0
# Recovery is counted from the fault (nothing "heals" a dead primary; a new one takes over):
# every ticket accepted before it is completed once a standby is promoted and the appliers
# reconnect, so it is bounded like writes resuming.
WATCH_SECONDS = 20.0  # load keeps flowing this long after the fault
# The short drill runs inside the whole suite (`make test`), beside everything else on two cores:
# it holds correctness (nothing lost, no 500, `tessera check`) and that writes come back, with
# room for a loaded machine; the 15 s bound is held and reported by the slow drills of
# `make faults`, which run alone (docs/SCALING.md has their figures).
SUITE_RESUME_LIMIT_SECONDS = 25.0


def _assert_held(figures: Figures, recovery_limit: float = KILL_RESUME_LIMIT_SECONDS) -> None:
    print(f"\n  {figures.scenario}: lost {figures.lost}, answers {figures.answers},")  # noqa: T201
    print(f"  recovery {figures.recovery_s} s, tessera check {figures.tessera_check}")  # noqa: T201
    assert not figures.problems(), (figures.problems(), figures.details)
    assert figures.lost == 0
    assert figures.http_500 == 0, figures.answers
    assert figures.tessera_check == "ok"
    assert figures.recovery_s is not None
    assert figures.recovery_s <= recovery_limit, figures.recovery_s


def _resumed(lab: FailoverLab, figures: Figures, sent: Sequence[Sent], limit: float) -> float:
    fault = lab.faults[0]
    seconds, refused = writes_resumed_after(sent, fault.at)
    line = f"{fault.kind}: longest gap without a 202 {seconds} s, {refused} attempts refused 503"
    if lab.new_leader_after is not None:
        line += f", new leader after {lab.new_leader_after} s"
        line += f", with a synchronous standby after {lab.writable_after} s"
    figures.details.append(line)
    figures.write_gap_s, figures.refused_503 = seconds, refused
    print(f"\n  {line}")  # noqa: T201
    assert seconds is not None, "no write was accepted after the fault"
    assert seconds <= limit, line
    return seconds


def _kill_the_primary(lab: FailoverLab, load: LoadRunner, watch: float) -> None:
    load.wait_for_accepted(40)
    lab.kill_primary()
    time.sleep(watch)


def test_short_the_primary_host_killed_under_load_loses_nothing_and_writes_resume(
    replicated: FailoverLab, report: Report
) -> None:
    outcome = run_scenario(
        replicated,
        report,
        "failover-short-primary-killed",
        SHORT,
        lambda lab, load: _kill_the_primary(replicated, load, WATCH_SECONDS),
    )

    _resumed(replicated, outcome.figures, outcome.sent, SUITE_RESUME_LIMIT_SECONDS)
    _assert_held(outcome.figures, SUITE_RESUME_LIMIT_SECONDS)


@pytest.mark.slow
def test_a_planned_switchover_under_load_loses_nothing_and_writes_resume_within_5_s(
    replicated: FailoverLab, report: Report
) -> None:
    def plan(lab: object, load: LoadRunner) -> None:
        load.wait_for_accepted(40)
        replicated.switchover()
        time.sleep(WATCH_SECONDS)

    outcome = run_scenario(replicated, report, "failover-switchover", LONG, plan)

    _resumed(replicated, outcome.figures, outcome.sent, SWITCHOVER_RESUME_LIMIT_SECONDS)
    _assert_held(outcome.figures, recovery_limit=10.0)


@pytest.mark.slow
def test_the_primary_host_killed_under_heavier_load_loses_nothing(
    replicated: FailoverLab, report: Report
) -> None:
    outcome = run_scenario(
        replicated,
        report,
        "failover-primary-killed",
        LONG,
        lambda lab, load: _kill_the_primary(replicated, load, WATCH_SECONDS),
    )

    _resumed(replicated, outcome.figures, outcome.sent, KILL_RESUME_LIMIT_SECONDS)
    _assert_held(outcome.figures)


@pytest.mark.slow
def test_an_isolated_primary_acknowledges_nothing_that_is_lost_and_no_split_brain(
    replicated: FailoverLab, report: Report
) -> None:
    """Cut off, the old primary keeps running, but in synchronous_mode_strict none of its
    commits returns without a standby, and Patroni demotes it once its leader key expires:
    nothing the clients were told (a 202) can exist only there."""

    def plan(lab: object, load: LoadRunner) -> None:
        load.wait_for_accepted(40)
        replicated.isolate_primary()
        time.sleep(WATCH_SECONDS)

    outcome = run_scenario(replicated, report, "failover-primary-isolated", LONG, plan)

    _resumed(replicated, outcome.figures, outcome.sent, KILL_RESUME_LIMIT_SECONDS)
    _assert_held(outcome.figures)
