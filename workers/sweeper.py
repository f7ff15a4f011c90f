"""The safety net behind the wake-ups: PostgreSQL, not Redis, decides what still needs doing.

Every few seconds (celery beat), events with a ticket pending for longer than a wake-up should
take are woken again. A lost message, a restarted Redis or a killed worker therefore delays a
ticket by seconds; it never loses one. Housekeeping rides along: expired idempotency keys and
event-log entries older than the SSE replay window are deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import delete

from models.tables import EventLogEntry, IdempotencyKey
from models.tickets import stale_pending_events
from tessera.messaging import queue_depth
from workers.runtime import Runtime

log = logging.getLogger("tessera.sweeper")

IDEMPOTENCY_RETENTION = dt.timedelta(hours=24)
EVENT_LOG_RETENTION = dt.timedelta(hours=1, minutes=5)
FORCE_BELOW_QUEUE_DEPTH = 100


@dataclass(frozen=True)
class SweepReport:
    woken: list[str]
    purged_keys: int
    purged_log: int


def sweep(runtime: Runtime, now: dt.datetime | None = None) -> SweepReport:
    now = now or dt.datetime.now(dt.UTC)
    min_age = dt.timedelta(seconds=runtime.settings.sweep_min_age_seconds)
    with runtime.sessions.begin() as session:
        stale = stale_pending_events(session, now - min_age)
        keys = session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < now - IDEMPOTENCY_RETENTION)
        )
        entries = session.execute(
            delete(EventLogEntry).where(EventLogEntry.created_at < now - EVENT_LOG_RETENTION)
        )
    if stale:
        # Force a task per stale event only while the queue is short. A long queue means the
        # workers are behind, not that wake-ups were lost: forcing would queue one more task
        # per waiting event on every sweep, behind the backlog it is meant to cure. Coalesced
        # wake-ups still go out, and a truly lost one is re-sent once its key expires.
        force = queue_depth(runtime.redis) < FORCE_BELOW_QUEUE_DEPTH
        log.info("waking %d event(s) with stale pending tickets (force=%s)", len(stale), force)
        runtime.waker.wake(stale, force=force)
    return SweepReport(
        stale,
        int(getattr(keys, "rowcount", 0) or 0),
        int(getattr(entries, "rowcount", 0) or 0),
    )
