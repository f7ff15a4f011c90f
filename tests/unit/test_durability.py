"""The verdict on "nothing acknowledged lost" from what a PostgreSQL primary says."""

from __future__ import annotations

import pytest

from models.domain.durability import Replication, judge

pytestmark = pytest.mark.unit


def state(**changes: object) -> Replication:
    base: dict[str, object] = {
        "in_recovery": False,
        "synchronous_commit": "on",
        "synchronous_standby_names": "",
        "standbys": 0,
        "synchronous_standbys": 0,
    }
    return Replication(**{**base, **changes})  # type: ignore[arg-type]


def test_a_lone_server_is_a_single_server_without_failover() -> None:
    verdict = judge(state())
    assert (verdict.guaranteed, verdict.mode) == (False, "single")
    assert verdict.detail == "single server: no failover"


def test_asynchronous_standbys_cannot_promise_that_a_failover_keeps_acknowledged_tickets() -> None:
    verdict = judge(state(standbys=2))
    assert (verdict.guaranteed, verdict.mode) == (False, "asynchronous")
    assert "synchronous_mode" in verdict.detail


def test_standbys_hidden_from_the_role_without_synchronous_names_are_still_asynchronous() -> None:
    verdict = judge(state(standbys=None, synchronous_standbys=None))
    assert (verdict.guaranteed, verdict.mode) == (False, "asynchronous")


def test_a_connected_synchronous_standby_with_commit_on_keeps_every_acknowledged_commit() -> None:
    verdict = judge(state(synchronous_standby_names='"pg2"', standbys=2, synchronous_standbys=1))
    assert (verdict.guaranteed, verdict.mode) == (True, "synchronous")
    assert verdict.detail.startswith("1 synchronous standby:")


@pytest.mark.parametrize("level", ["off", "local", "remote_write"])
def test_commits_acknowledged_before_the_standby_flushed_them_are_not_guaranteed(
    level: str,
) -> None:
    verdict = judge(
        state(
            synchronous_standby_names="*",
            synchronous_commit=level,
            standbys=1,
            synchronous_standbys=1,
        )
    )
    assert (verdict.guaranteed, verdict.mode) == (False, "asynchronous")
    assert level in verdict.detail


def test_a_required_standby_that_is_not_connected_makes_commits_wait_not_get_lost() -> None:
    verdict = judge(state(synchronous_standby_names="*", standbys=0, synchronous_standbys=0))
    assert verdict.guaranteed
    assert "wait" in verdict.detail


def test_remote_apply_waits_for_the_standby_too() -> None:
    verdict = judge(
        state(
            synchronous_standby_names="ANY 1 (a, b)",
            synchronous_commit="remote_apply",
            standbys=2,
            synchronous_standbys=2,
        )
    )
    assert verdict.guaranteed
    assert verdict.detail.startswith("2 synchronous standbys:")


def test_a_standby_is_never_where_tessera_writes() -> None:
    verdict = judge(state(in_recovery=True))
    assert (verdict.guaranteed, verdict.mode) == (False, "standby")
