"""The safety net behind the wake-ups: PostgreSQL, not Redis, decides what still needs doing.

Every few seconds (celery beat), events with a ticket pending for longer than a wake-up should
take are woken again. A lost message, a restarted Redis or a killed worker therefore delays a
ticket by seconds; it never loses one. Housekeeping rides along: idempotency keys and event-log
entries past their retention (`models.idempotency`, `models.event_log`) are deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from models import event_log, idempotency
from models.db import database_now
from models.tickets import stale_pending_events
from tessera.messaging import queue_depth
from workers.runtime import Runtime

log = logging.getLogger("tessera.sweeper")

FORCE_BELOW_QUEUE_DEPTH = 100


@dataclass(frozen=True)
class SweepReport:
    woken: list[str]
    purged_keys: int
    purged_log: int


def sweep(runtime: Runtime, now: dt.datetime | None = None) -> SweepReport:
    """One pass; `now` (default: the database's clock) decides which tickets are stale."""
    min_age = dt.timedelta(seconds=runtime.settings.sweep_min_age_seconds)
    with runtime.sessions.begin() as session:
        stale = stale_pending_events(session, (now or database_now(session)) - min_age)
        purged_keys = idempotency.purge_expired(session)
        purged_log = event_log.purge_expired(session)
    if stale:
        # Force a task per stale event only while the queue is short. A long queue means the
        # workers are behind, not that wake-ups were lost: forcing would queue one more task
        # per waiting event on every sweep, behind the backlog it is meant to cure. Coalesced
        # wake-ups still go out, and a truly lost one is re-sent once its key expires.
        force = queue_depth(runtime.redis) < FORCE_BELOW_QUEUE_DEPTH
        log.info("waking %d event(s) with stale pending tickets (force=%s)", len(stale), force)
        runtime.waker.wake(stale, force=force)
    return SweepReport(stale, purged_keys, purged_log)
