"""The safety net behind the wake-ups: PostgreSQL, not Redis, decides what still needs doing.

Every few seconds (celery beat), events with a ticket pending for longer than a wake-up should
take are woken again, and so are webhook subscriptions with a delivery due (a retry whose wait
is over, or one a lost message or a dead sender left behind). A lost message, a restarted Redis
or a killed worker therefore delays a ticket or a delivery by seconds; it never loses one.
Housekeeping rides along: idempotency keys, event-log entries and finished webhook deliveries
past their retention (`models.storage.idempotency`, `models.storage.event_log`,
`models.storage.outbox`) are deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from models.storage import draws, event_log, idempotency, offers, outbox
from models.storage.db import database_now
from models.storage.tickets import stale_pending_events
from tessera.messaging import queue_depth
from workers.runtime import Runtime

log = logging.getLogger("tessera.sweeper")

FORCE_BELOW_QUEUE_DEPTH = 100


@dataclass(frozen=True)
class SweepReport:
    woken: list[str]
    purged_keys: int
    purged_log: int
    due_webhooks: list[str] = field(default_factory=list)
    purged_deliveries: int = 0


def sweep(runtime: Runtime, now: dt.datetime | None = None) -> SweepReport:
    """One pass; `now` (default: the database's clock) decides which tickets are stale."""
    min_age = dt.timedelta(seconds=runtime.settings.sweep_min_age_seconds)
    with runtime.sessions.begin() as session:
        stale = stale_pending_events(session, (now or database_now(session)) - min_age)
        purged_keys = idempotency.purge_expired(session)
        purged_log = event_log.purge_expired(session)
        due_webhooks = outbox.due_subscriptions(session)
        purged_deliveries = outbox.purge_expired(session)
    if stale:
        # Force a task per stale event only while the queue is short. A long queue means the
        # workers are behind, not that wake-ups were lost: forcing would queue one more task
        # per waiting event on every sweep, behind the backlog it is meant to cure. Coalesced
        # wake-ups still go out, and a truly lost one is re-sent once its key expires.
        force = queue_depth(runtime.redis) < FORCE_BELOW_QUEUE_DEPTH
        log.info("waking %d event(s) with stale pending tickets (force=%s)", len(stale), force)
        runtime.waker.wake(stale, force=force)
    if due_webhooks:
        # Coalesced: a subscription whose sender is queued or sending gets no second task.
        runtime.waker.deliver(due_webhooks)
    return SweepReport(stale, purged_keys, purged_log, due_webhooks, purged_deliveries)


def wake_for_due_offers(runtime: Runtime) -> list[str]:
    """Wake an applier if some event has an open offer past its end, or an on-sale draw due
    (#24): the applier ends the offer or draws, in the event's order (`workers.apply`), so
    nothing here writes seats. Coalesced like every wake-up: a worker already draining finds
    them on its next pass."""
    with runtime.sessions.begin() as session:
        due = offers.events_with_due_offers(session)
        due_draws = draws.events_with_due_draws(session)
    if due:
        log.info("waking an applier for %d event(s) with offers past their end", len(due))
    if due_draws:
        log.info("waking an applier for %d event(s) with a draw due", len(due_draws))
    woken = due + [event_id for event_id in due_draws if event_id not in due]
    if woken:
        runtime.waker.wake(woken)
    return woken
