"""Drills across hosts: PostgreSQL, Redis, two APIs, three worker hosts and a scheduler, each in
its own network namespace (tests/faults/multihost.py), with load through both APIs. Network
faults are silent, as on a real network: a cut host's packets just stop arriving.

Each drill is measured like the single-host ones (tests/faults/verify.py): every accepted ticket
completed exactly once, per-event order, the invariants and `tessera check`, and "recovery": the
seconds from the end of the fault until every ticket accepted by then was completed (<= 10 s).

The default run has the short drill (a worker host cut from PostgreSQL in the middle of a
batch); `make faults` runs the rest. Without root or network namespaces they skip, saying why.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Sequence

import pytest
import requests

from tests.faults.lab import ADMIN_KEY
from tests.faults.load import LoadRunner, ReadyProbe, Sent
from tests.faults.multihost import WORKERS, MultiHostLab, faketime_library
from tests.faults.scenarios import Scale, run_scenario
from tests.faults.verify import Figures, Report

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SHORT = Scale(rate=30, max_commands=600, events=2, capacity=15, clients=6)
LONG = Scale(rate=40, max_commands=3000, events=4, capacity=25, clients=8)
RECOVERY_LIMIT_SECONDS = 10.0
# Longer than idle_in_transaction_session_timeout (models/storage/db.py): PostgreSQL gives up on
# the cut
# applier's transaction, and the event it held goes to another host, during the cut.
CUT_SECONDS = 8.0

Window = tuple[float, float]


def _assert_held(figures: Figures) -> None:
    assert not figures.problems(), (figures.problems(), figures.details)
    assert figures.http_500 == 0, figures.answers
    assert figures.recovery_s is not None
    assert figures.recovery_s <= RECOVERY_LIMIT_SECONDS, figures.recovery_s


def _answers_from(sent: Sequence[Sent], host: str, window: Window) -> Counter[str]:
    """What one API host answered to attempts made entirely within the window."""
    start, end = window
    return Counter(
        attempt.answer
        for item in sent
        for attempt in item.attempts
        if attempt.host == host and start <= attempt.started and attempt.ended <= end
    )


def _longest_from(sent: Sequence[Sent], host: str, window: Window) -> float:
    start, end = window
    return max(
        (
            attempt.ended - attempt.started
            for item in sent
            for attempt in item.attempts
            if attempt.host == host and start <= attempt.started <= end
        ),
        default=0.0,
    )


def _cut_worker_from_postgres(hosts: MultiHostLab, load: LoadRunner, seconds: float) -> str:
    """Cut the worker host that is applying from PostgreSQL mid-batch; heal after `seconds`."""
    load.wait_for_accepted(40)
    worker, fault = hosts.cut_mid_batch(WORKERS, "postgres")
    time.sleep(seconds)
    hosts.mend(worker, "postgres", fault)
    return worker


def test_short_a_worker_host_cut_from_postgresql_mid_batch_then_healed(
    hosts: MultiHostLab, report: Report
) -> None:
    outcome = run_scenario(
        hosts,
        report,
        "hosts-short-worker-cut-from-postgres",
        SHORT,
        lambda lab, load: _cut_worker_from_postgres(hosts, load, 4.0),
    )

    _assert_held(outcome.figures)
    assert outcome.figures.faults_mid_batch == 1
    assert outcome.figures.crashes == []
    assert {attempt.host for item in outcome.sent for attempt in item.attempts} == set(
        hosts.base_urls
    )


@pytest.mark.slow
def test_a_worker_host_cut_from_postgresql_mid_batch_and_its_cable_pulled_then_healed(
    hosts: MultiHostLab, report: Report
) -> None:
    def plan(lab: object, load: LoadRunner) -> None:
        first = _cut_worker_from_postgres(hosts, load, CUT_SECONDS)
        time.sleep(3.0)
        second, _ = hosts.wait_for_applier([w for w in WORKERS if w != first])
        fault = hosts.record(f"{second} cable pulled", mid_batch=True)
        hosts.net.link_down(second)
        time.sleep(CUT_SECONDS)
        hosts.net.link_up(second)
        hosts.healed(fault)

    outcome = run_scenario(hosts, report, "hosts-worker-cut-from-postgres", LONG, plan)

    _assert_held(outcome.figures)
    assert outcome.figures.faults_mid_batch == 2
    assert outcome.figures.crashes == []


@pytest.mark.slow
def test_a_worker_host_and_an_api_host_cut_from_redis_only_lose_nothing_and_accepts_go_on(
    hosts: MultiHostLab, report: Report
) -> None:
    windows: dict[str, Window] = {}

    def plan(lab: object, load: LoadRunner) -> None:
        load.wait_for_accepted(40)
        for host in ("w2", "api1"):
            fault = hosts.cut(host, "redis")
            time.sleep(CUT_SECONDS)
            windows[host] = (fault.at, time.monotonic())
            hosts.mend(host, "redis", fault)
            time.sleep(3.0)

    api1 = hosts.base_urls[0]
    with ReadyProbe(api1) as probe:
        outcome = run_scenario(hosts, report, "hosts-cut-from-redis", LONG, plan)

    _assert_held(outcome.figures)
    assert outcome.figures.crashes == []
    for host, window in windows.items():
        answers = _answers_from(outcome.sent, api1, window)
        assert answers, f"no command went to {api1} while {host} was cut from Redis"
        assert set(answers) == {"202"}, (host, answers)
    down, up = windows["api1"]
    probes = [p for p in probe.between(down + 1.0, up - 0.5) if p.status is not None]
    assert probes, "/ready of api1 did not answer while it was cut from Redis"
    assert {(p.status, p.code) for p in probes} == {(503, "NOT_READY")}


@pytest.mark.slow
def test_an_api_host_cut_from_postgresql_says_not_ready_and_never_hangs(
    hosts: MultiHostLab, report: Report
) -> None:
    request_timeout = 10.0  # the load's read timeout: an attempt that long counts as a hang
    windows: list[Window] = []

    def plan(lab: object, load: LoadRunner) -> None:
        load.wait_for_accepted(40)
        fault = hosts.cut("api2", "postgres")
        time.sleep(CUT_SECONDS + 4.0)
        windows.append((fault.at, time.monotonic()))
        hosts.mend("api2", "postgres", fault)

    api2 = hosts.base_urls[1]
    with ReadyProbe(api2) as probe:
        outcome = run_scenario(hosts, report, "hosts-api-cut-from-postgres", LONG, plan)

    _assert_held(outcome.figures)
    ((down, up),) = windows
    probes = probe.between(down + 1.0, up - 0.5)
    assert probes, "/ready of api2 was not probed while it was cut from PostgreSQL"
    assert {(p.status, p.code) for p in probes} == {(503, "NOT_READY")}, probes
    assert max(p.seconds for p in probes) < 3.0
    answers = _answers_from(outcome.sent, api2, (down, up))
    assert answers, "no command went to api2 while it was cut"
    assert "timeout" not in answers, answers
    assert "202" not in answers or answers["503"] > 0, answers
    assert _longest_from(outcome.sent, api2, (down + 1.0, up)) < request_timeout


@pytest.mark.slow
def test_a_worker_host_killed_while_holding_an_event_lets_go_of_it_within_seconds(
    hosts: MultiHostLab, report: Report
) -> None:
    """Its cable goes first, so it closes nothing: PostgreSQL must find out by itself (the
    session settings of models/storage/db.py) and release the event's advisory lock."""
    held_for: list[float] = []

    def plan(lab: object, load: LoadRunner) -> None:
        load.wait_for_accepted(40)
        fault, backends = hosts.kill_host_mid_batch()
        held_for.append(hosts.seconds_until_released(backends, since=fault.at))

    outcome = run_scenario(hosts, report, "hosts-worker-host-killed", LONG, plan)

    (seconds,) = held_for
    print(f"\n  the dead host's event lock was held {seconds:.1f} s after it died")  # noqa: T201
    _assert_held(outcome.figures)
    assert outcome.figures.faults_mid_batch == 1
    assert seconds <= 8.0, f"a dead host held its event for {seconds:.1f} s"


# --- the clock ------------------------------------------------------------------------------

CLOCK_STEP = "-5m"  # libfaketime: this host's clock runs five minutes behind


@pytest.mark.slow
def test_a_worker_host_with_its_clock_minutes_behind_follows_the_database_clock(
    hosts: MultiHostLab,
) -> None:
    library = faketime_library()
    if library is None:
        pytest.skip("the libfaketime wheel (a dev dependency) is not installed")
    for other in WORKERS[1:]:
        hosts.stop_host(other)  # only the host with the wrong clock applies and sweeps
    skewed = {
        "LD_PRELOAD": str(library),
        "FAKETIME": CLOCK_STEP,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # timers and timeouts keep real time
        "FAKETIME_NO_CACHE": "1",
    }
    try:
        hosts.restart_host("w1", env=skewed)
        _check_tickets_and_sweeper_follow_the_database_clock(hosts)
    finally:
        hosts.restart_host("w1", env={})


def _check_tickets_and_sweeper_follow_the_database_clock(hosts: MultiHostLab) -> None:
    prefix = f"clock-{uuid.uuid4().hex[:6]}"
    users = [f"{prefix}-u{i}" for i in range(8)]
    hosts.seed_users(users)
    for event in ("e", "lost"):
        hosts.create_event(f"{prefix}-{event}", capacity=3)
    hosts.create_event(f"{prefix}-offer", capacity=1, promotion="offer", offerTtlSeconds=5)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    for index, user in enumerate(users[:5]):
        response = requests.post(
            f"{hosts.base_urls[index % 2]}/events/{prefix}-e/registrations",
            json={"userId": user},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            timeout=10,
        )
        assert response.status_code == 202, response.text
    problems = []
    if not _settled(hosts, f"{prefix}-e", timeout=20):
        problems.append("the worker did not apply the accepted tickets")
    skewed = hosts.rows(
        "SELECT ticket_id, created_at, completed_at FROM tickets WHERE event_id = :e"
        " AND NOT (completed_at BETWEEN created_at AND now())",
        e=f"{prefix}-e",
    )
    if skewed:
        problems.append(f"completedAt not on the database's clock: {skewed}")
    # A ticket of another event whose wake-up was lost: only the sweeper can find it.
    hosts.execute(
        "INSERT INTO tickets (ticket_id, type, user_id, event_id, owner, status, created_at)"
        " VALUES (:t, 'register', :u, :e, 'faults', 'pending', now())",
        t=f"01{uuid.uuid4().hex[:24].upper()}",
        u=users[5],
        e=f"{prefix}-lost",
    )
    lost = hosts.scalar("SELECT count(*) FROM tickets WHERE event_id = :e", e=f"{prefix}-lost")
    assert lost == 1
    if not _settled(hosts, f"{prefix}-lost", timeout=20):
        problems.append("the sweeper did not wake the event of a ticket whose wake-up was lost")
    problems += _offer_follows_the_database_clock(hosts, f"{prefix}-offer", users[6:8])
    assert not problems, problems


def _offer_follows_the_database_clock(
    hosts: MultiHostLab, event_id: str, users: list[str]
) -> list[str]:
    """An offer made by the skewed host ends `offerTtlSeconds` after the database's now, and
    ends on time (within the contract's 2 s), however wrong the host's clock."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    for user in users:
        response = requests.post(
            f"{hosts.base_urls[0]}/events/{event_id}/registrations",
            json={"userId": user},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 202, response.text
    if not _settled(hosts, event_id, timeout=20):
        return ["the worker did not apply the offer event's registers"]
    response = requests.delete(
        f"{hosts.base_urls[0]}/events/{event_id}/registrations/{users[0]}",
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 202, response.text
    if not _settled(hosts, event_id, timeout=20):
        return ["the worker did not apply the unregister"]
    ends = hosts.rows(
        "SELECT extract(epoch FROM offer_expires_at - now()) FROM registrations"
        " WHERE event_id = :e AND standing = 'offered'",
        e=event_id,
    )
    if len(ends) != 1 or not 0 < float(ends[0][0]) <= 5:
        return [f"the offer does not end 5 s after the database's now: {ends}"]
    deadline = time.monotonic() + float(ends[0][0]) + 2.0
    while time.monotonic() < deadline:
        if not hosts.rows(
            "SELECT 1 FROM registrations WHERE event_id = :e AND standing = 'offered'", e=event_id
        ):
            return []
        time.sleep(0.1)
    return ["the offer was still open 2 s after its end"]


def _settled(hosts: MultiHostLab, event_id: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = hosts.scalar(
            "SELECT count(*) FROM tickets WHERE event_id = :e AND status = 'pending'", e=event_id
        )
        if pending == 0:
            return True
        time.sleep(0.2)
    return False
