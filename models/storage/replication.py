"""What the connected PostgreSQL says about its replication, read for `models.domain.durability`."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from models.domain.durability import Durability, Replication, judge

# pg_stat_replication shows every standby to anyone, but its state columns only to roles with
# pg_read_all_stats (pg_monitor has it): without, the counts are unknown rather than zero.
_REPLICATION = text(
    """
    SELECT pg_is_in_recovery(),
           current_setting('synchronous_commit'),
           current_setting('synchronous_standby_names'),
           pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),
           (SELECT count(*) FROM pg_stat_replication),
           (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum'))
    """
)


def read_replication(session: Session) -> Replication:
    in_recovery, commit, names, visible, standbys, synchronous = session.execute(_REPLICATION).one()
    return Replication(
        in_recovery=bool(in_recovery),
        synchronous_commit=str(commit),
        synchronous_standby_names=str(names),
        standbys=int(standbys) if visible or standbys == 0 else None,
        synchronous_standbys=int(synchronous) if visible else None,
    )


def durability(session: Session) -> Durability:
    return judge(read_replication(session))
