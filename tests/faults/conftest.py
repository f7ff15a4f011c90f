"""Fixtures of the fault suite: its OWN embedded PostgreSQL and Redis and its own stack (the
session fixtures' servers must not be killed under other tests), and the figures report."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.bouncer import BouncerLab, running_bouncer_lab
from tests.faults.bouncer import unavailable_reason as bouncer_unavailable_reason
from tests.faults.failover import FailoverLab, running_failover_lab
from tests.faults.failover import unavailable_reason as failover_unavailable_reason
from tests.faults.lab import FaultLab, running_lab
from tests.faults.multihost import MultiHostLab, running_multihost_lab
from tests.faults.netns import unavailable_reason
from tests.faults.sentinel import SentinelLab, running_sentinel_lab
from tests.faults.verify import Report, table


@pytest.fixture(scope="session")
def fault_lab() -> Iterator[FaultLab]:
    with running_lab() as lab:
        yield lab


@pytest.fixture
def lab(fault_lab: FaultLab) -> Iterator[FaultLab]:
    """The lab, healed and with an empty fault record; healed again afterwards, so a failed
    scenario cannot leave the next one without a server."""
    fault_lab.heal()
    fault_lab.faults.clear()
    yield fault_lab
    fault_lab.heal()


# The session's report, for the table printed at its end.
_REPORTS: list[Report] = []


@pytest.fixture(scope="session")
def report() -> Report:
    """Where the figures go: $TESSERA_FAULTS_RESULTS, else faults-results.json in a temporary
    directory that is kept after the run (its path is printed and logged)."""
    configured = os.environ.get("TESSERA_FAULTS_RESULTS")
    if configured:
        path = Path(configured)
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="tessera-faults-results-")) / "faults-results.json"
    made = Report(path)
    _REPORTS.append(made)
    return made


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One table of every drill this run measured (`make faults`: each lab's drills)."""
    rows = [row for made in _REPORTS for row in made.rows]
    if not rows:
        return
    for made in _REPORTS:
        made.write()
    terminalreporter.section("fault drills: lost, recovery, 503s and write gaps")
    terminalreporter.write_line(table(rows))
    for made in _REPORTS:
        terminalreporter.write_line(f"figures written to {made.path}")


@pytest.fixture(scope="session")
def multihost_lab() -> Iterator[MultiHostLab]:
    """The multi-host lab (network namespaces), or a clear skip where they cannot be made."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_multihost_lab() as lab:
        yield lab


@pytest.fixture
def hosts(multihost_lab: MultiHostLab) -> Iterator[MultiHostLab]:
    """The multi-host lab, healed and with an empty fault record; healed again afterwards."""
    multihost_lab.heal()
    multihost_lab.faults.clear()
    yield multihost_lab
    multihost_lab.heal()


@pytest.fixture(scope="session")
def failover_lab() -> Iterator[FailoverLab]:
    """The multi-host lab on a three-node Patroni cluster, or a clear skip where namespaces or
    the Debian packages (patroni, etcd-server, postgresql) are missing."""
    reason = failover_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_failover_lab() as lab:
        yield lab


@pytest.fixture
def replicated(failover_lab: FailoverLab) -> Iterator[FailoverLab]:
    """The failover lab, healed and with an empty fault record; healed again afterwards."""
    failover_lab.heal()
    failover_lab.faults.clear()
    yield failover_lab
    failover_lab.heal()


@pytest.fixture(scope="module")  # one drill module: not kept up beside the other labs
def sentinel_lab() -> Iterator[SentinelLab]:
    """The multi-host lab on a Redis Sentinel group (three sentinels, a replica), or a clear
    skip where network namespaces cannot be made."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_sentinel_lab() as lab:
        yield lab


@pytest.fixture
def sentinels(sentinel_lab: SentinelLab) -> Iterator[SentinelLab]:
    """The Sentinel lab, healed and with an empty fault record; healed again afterwards."""
    sentinel_lab.heal()
    sentinel_lab.faults.clear()
    yield sentinel_lab
    sentinel_lab.heal()


@pytest.fixture(scope="module")  # one drill module: not kept up beside the other labs
def bouncer_lab() -> Iterator[BouncerLab]:
    """The multi-host lab behind PgBouncer in transaction mode, or a clear skip where
    namespaces or Debian's pgbouncer are missing."""
    reason = bouncer_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_bouncer_lab() as lab:
        yield lab


@pytest.fixture
def pooled(bouncer_lab: BouncerLab) -> Iterator[BouncerLab]:
    """The PgBouncer lab, healed and with an empty fault record; healed again afterwards."""
    bouncer_lab.heal()
    bouncer_lab.faults.clear()
    yield bouncer_lab
    bouncer_lab.heal()
