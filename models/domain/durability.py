"""Whether the database Tessera writes to can keep "nothing acknowledged is lost" across the
loss of its primary: a pure verdict over what PostgreSQL says about its replication.

A 202 is sent once its ticket row is committed. A failover keeps that row only if the commit
waited for a standby to have it: `synchronous_standby_names` names at least one standby (for
Patroni, `synchronous_mode: true`, better `synchronous_mode_strict: true`) and
`synchronous_commit` is `on` or `remote_apply` (the standby has flushed it). Anything less, an
asynchronous standby above all, lets a promoted standby miss the last acknowledged tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# the synchronous_commit levels at which a commit returns only once a synchronous standby has
# the transaction on disk (remote_write: in its OS only; local and off: not at all)
WAITS_FOR_A_STANDBY = frozenset({"on", "remote_apply"})

Mode = Literal["single", "asynchronous", "synchronous", "standby"]


@dataclass(frozen=True)
class Replication:
    """What a primary says about itself (pg_is_in_recovery, its settings, pg_stat_replication).
    The standby counts are None when the role may not see pg_stat_replication's details
    (it lacks pg_monitor / pg_read_all_stats)."""

    in_recovery: bool
    synchronous_commit: str
    synchronous_standby_names: str
    standbys: int | None
    synchronous_standbys: int | None


@dataclass(frozen=True)
class Durability:
    guaranteed: bool
    mode: Mode
    detail: str


def judge(state: Replication) -> Durability:
    """Can an acknowledged commit survive a failover of this database?"""
    if state.in_recovery:
        return Durability(False, "standby", "connected to a standby, not the primary")
    if not state.synchronous_standby_names.strip():
        if state.standbys == 0:
            return Durability(False, "single", "single server: no failover")
        return Durability(
            False,
            "asynchronous",
            "no synchronous standby (synchronous_standby_names is empty): a failover may lose"
            " acknowledged tickets; use synchronous replication (Patroni synchronous_mode)",
        )
    return _with_synchronous_standbys(state)


def _with_synchronous_standbys(state: Replication) -> Durability:
    if state.synchronous_commit not in WAITS_FOR_A_STANDBY:
        return Durability(
            False,
            "asynchronous",
            f"synchronous_commit is {state.synchronous_commit}: a commit is acknowledged before"
            " a synchronous standby has flushed it; set it to on",
        )
    if state.synchronous_standbys is None:
        return Durability(
            True,
            "synchronous",
            "commits wait for a synchronous standby (which ones are connected is hidden from"
            " this role; grant it pg_monitor to see them)",
        )
    if state.synchronous_standbys == 0:
        return Durability(
            True,
            "synchronous",
            "no synchronous standby is connected: commits wait until one is",
        )
    plural = "s" if state.synchronous_standbys > 1 else ""
    return Durability(
        True,
        "synchronous",
        f"{state.synchronous_standbys} synchronous standby{plural}: an acknowledged commit"
        " survives the primary's loss",
    )
