"""The long fault drills (`make faults`: `pytest -m slow tests/faults`). Each scenario runs a
steady load of retrying clients and injects its faults repeatedly while the load flows; then
every guarantee of CONTRACT.md is measured and the figures are printed and written as JSON."""

from __future__ import annotations

import random
import time

import pytest
import requests

from tests.faults.lab import CLIENT_KEY, FaultLab
from tests.faults.load import LoadRunner, ReadyProbe
from tests.faults.scenarios import Scale, answers_between, longest_attempt_between, run_scenario
from tests.faults.verify import Report

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

LONG = Scale(rate=40, max_commands=4000, events=4, capacity=25, clients=8)

Window = tuple[float, float]


def _assert_guarantees_held(figures_problems: list[str], details: list[str]) -> None:
    assert not figures_problems, (figures_problems, details)


def test_repeated_worker_and_pool_kills_mid_batch_lose_and_repeat_nothing(
    lab: FaultLab, report: Report
) -> None:
    def plan(lab: FaultLab, load: LoadRunner) -> None:
        load.wait_for_accepted(60)
        for round_ in range(8):
            if round_ % 2 == 0:
                lab.kill_pool_children()
                lab.wait_for_pool()
            else:
                lab.kill_worker()
                time.sleep(1.0)  # no worker at all for a while
                lab.restart_worker()
            time.sleep(2.0)

    outcome = run_scenario(lab, report, "worker-kills", LONG, plan)

    figures = outcome.figures
    _assert_guarantees_held(figures.problems(), figures.details)
    assert figures.http_500 == 0, figures.answers
    assert figures.faults_mid_batch >= 4, "too few kills landed in the middle of a batch"


def test_a_frozen_applier_delays_its_event_but_loses_and_repeats_nothing(
    lab: FaultLab, report: Report
) -> None:
    """A pool process stopped (SIGSTOP) in the middle of a batch keeps its event's locks: the
    other workers leave that event alone (BUSY) until it resumes. Nothing may be lost or
    applied twice; the figures show how long the stall held tickets back."""

    def plan(lab: FaultLab, load: LoadRunner) -> None:
        load.wait_for_accepted(60)
        for _ in range(2):
            lab.freeze_applier()
            time.sleep(6.0)
            lab.thaw()
            time.sleep(3.0)

    outcome = run_scenario(lab, report, "applier-frozen", LONG, plan)

    figures = outcome.figures
    _assert_guarantees_held(figures.problems(), figures.details)
    assert figures.http_500 == 0, figures.answers


def test_redis_killed_and_restarted_empty_three_times_loses_nothing_and_commands_get_202(
    lab: FaultLab, report: Report
) -> None:
    windows: list[Window] = []

    def plan(lab: FaultLab, load: LoadRunner) -> None:
        load.wait_for_accepted(60)
        for _ in range(3):
            fault = lab.kill_redis()
            time.sleep(3.0)
            # the outage ends when the restart begins: Redis answers before start returns
            restarting = time.monotonic()
            lab.start_redis()
            windows.append((fault.at, restarting))
            time.sleep(3.0)

    with ReadyProbe(lab.base_url) as probe:
        outcome = run_scenario(lab, report, "redis-restarts", LONG, plan)

    figures = outcome.figures
    _assert_guarantees_held(figures.problems(), figures.details)
    assert figures.http_500 == 0, figures.answers
    for down, up in windows:
        during = answers_between(outcome.sent, down, up)
        assert during, "no command was sent while Redis was down"
        assert set(during) == {"202"}, during
        probes = [p for p in probe.between(down + 0.5, up - 0.5) if p.status is not None]
        assert probes, "/ready did not answer while Redis was down"
        assert {(p.status, p.code) for p in probes} == {(503, "NOT_READY")}


def test_postgresql_restarted_twice_on_its_port_loses_nothing_and_ready_says_not_ready(
    lab: FaultLab, report: Report
) -> None:
    windows: list[Window] = []

    def plan(lab: FaultLab, load: LoadRunner) -> None:
        load.wait_for_accepted(60)
        for _ in range(2):
            fault = lab.stop_postgres()
            time.sleep(4.0)
            lab.start_postgres()
            windows.append((fault.at, fault.healed_at or time.monotonic()))
            time.sleep(4.0)

    with ReadyProbe(lab.base_url) as probe:
        outcome = run_scenario(lab, report, "postgres-restarts", LONG, plan)

    figures = outcome.figures
    _assert_guarantees_held(figures.problems(), figures.details)
    for down, up in windows:
        probes = probe.between(down + 0.5, up - 0.5)
        assert probes, "/ready was not probed while PostgreSQL was down"
        assert {(p.status, p.code) for p in probes} == {(503, "NOT_READY")}, probes
        assert max(p.seconds for p in probes) < 3.0, "/ready hung while PostgreSQL was down"
        # Commands may be refused while the database is down (503), but never hang.
        assert longest_attempt_between(outcome.sent, down, up) < 8.0
    # 500s on commands while PostgreSQL is down are a known bug, pinned by
    # test_postgres_outage.py::test_a_command_while_postgresql_is_down_is_answered_503_not_500.


def test_postgresql_paused_postmaster_and_whole_cluster_loses_nothing(
    lab: FaultLab, report: Report
) -> None:
    frozen: list[Window] = []

    def plan(lab: FaultLab, load: LoadRunner) -> None:
        load.wait_for_accepted(60)
        lab.pause_postgres(whole_cluster=False)
        time.sleep(4.0)
        lab.resume_postgres()
        time.sleep(4.0)
        fault = lab.pause_postgres(whole_cluster=True)
        time.sleep(4.0)
        lab.resume_postgres()
        frozen.append((fault.at, fault.healed_at or time.monotonic()))
        time.sleep(2.0)

    with ReadyProbe(lab.base_url) as probe:
        outcome = run_scenario(lab, report, "postgres-pauses", LONG, plan)

    figures = outcome.figures
    _assert_guarantees_held(figures.problems(), figures.details)
    ((down, up),) = frozen
    probes = probe.between(down + 0.5, up - 0.5)
    assert probes, "/ready was not probed while PostgreSQL was frozen"
    assert {(p.status, p.code) for p in probes} == {(503, "NOT_READY")}, probes
    assert max(p.seconds for p in probes) < 3.0, "/ready hung while PostgreSQL was frozen"
    # Commands wait for the frozen server (no client-side query timeout), but no longer.
    assert longest_attempt_between(outcome.sent, down, up) < (up - down) + 3.0


def test_the_api_killed_and_restarted_three_times_accepts_each_retried_command_once(
    lab: FaultLab, report: Report
) -> None:
    def plan(lab: FaultLab, load: LoadRunner) -> None:
        load.wait_for_accepted(60)
        for _ in range(3):
            lab.kill_api()
            time.sleep(1.0)
            lab.restart_api()
            time.sleep(3.0)

    outcome = run_scenario(lab, report, "api-kills", LONG, plan)

    figures = outcome.figures
    _assert_guarantees_held(figures.problems(), figures.details)
    assert figures.http_500 == 0, figures.answers
    assert figures.unacknowledged == 0  # every committed ticket reached its client (replays)


def test_every_kind_of_fault_in_random_order_loses_and_repeats_nothing(
    lab: FaultLab, report: Report
) -> None:
    rng = random.Random(11)

    def plan(lab: FaultLab, load: LoadRunner) -> None:
        load.wait_for_accepted(60)
        kinds = ["pool", "worker", "redis", "postgres", "api", "pause"] * 2
        rng.shuffle(kinds)
        for kind in kinds:
            if kind == "pool":
                lab.kill_pool_children()
                lab.wait_for_pool()
            elif kind == "worker":
                lab.kill_worker()
                time.sleep(0.5)
                lab.restart_worker()
            elif kind == "redis":
                lab.kill_redis()
                time.sleep(1.0)
                lab.start_redis()
            elif kind == "postgres":
                lab.stop_postgres()
                time.sleep(1.5)
                lab.start_postgres()
            elif kind == "api":
                lab.kill_api()
                time.sleep(0.5)
                lab.restart_api()
            else:
                lab.pause_postgres(whole_cluster=True)
                time.sleep(1.5)
                lab.resume_postgres()
            time.sleep(rng.uniform(0.5, 2.0))

    outcome = run_scenario(lab, report, "chaos", LONG, plan)

    figures = outcome.figures
    _assert_guarantees_held(figures.problems(), figures.details)


def test_the_worker_process_survives_ten_redis_restarts_under_load(
    lab: FaultLab, report: Report
) -> None:
    def plan(lab: FaultLab, load: LoadRunner) -> None:
        load.wait_for_accepted(60)
        for _ in range(10):
            lab.kill_redis()
            time.sleep(1.0)
            lab.start_redis()
            time.sleep(2.0)

    outcome = run_scenario(lab, report, "redis-restarts-x10", LONG, plan)

    figures = outcome.figures
    _assert_guarantees_held(figures.problems(), figures.details)
    assert figures.crashes == []


def test_the_worker_applies_again_within_five_seconds_of_redis_returning_after_a_long_outage(
    lab: FaultLab,
) -> None:
    event_id, user_id = f"outage-e-{time.monotonic_ns()}", f"outage-u-{time.monotonic_ns()}"
    lab.seed_users([user_id])
    lab.create_event(event_id, capacity=2)
    lab.kill_redis()
    time.sleep(21.0)  # the worker's reconnect attempts back off meanwhile
    lab.start_redis()
    back = time.monotonic()
    response = requests.post(
        f"{lab.base_url}/events/{event_id}/registrations",
        json={"userId": user_id},
        headers={"Authorization": f"Bearer {CLIENT_KEY}"},
        timeout=10,
    )
    assert response.status_code == 202
    ticket = response.json()["ticketId"]

    deadline = back + 30
    while time.monotonic() < deadline:
        status = lab.scalar("SELECT status FROM tickets WHERE ticket_id = :t", t=ticket)
        if status != "pending":
            break
        time.sleep(0.1)
    waited = time.monotonic() - back
    assert status == "completed"
    assert waited < 5.0, f"applied {waited:.1f} s after Redis came back"
