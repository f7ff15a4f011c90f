"""Applying one event's pending tickets in a test, the way the worker's passes do (the worker
itself drains whatever is pending: `workers.apply.drain`)."""

from __future__ import annotations

from models.storage import locks
from models.storage.db import database_now
from workers.apply import DrainReport, apply_events
from workers.runtime import Runtime


def drain_event(runtime: Runtime, event_id: str) -> DrainReport:
    """Pass after pass under the event's applier lock (waiting for a worker that holds it),
    until a pass finds nothing to do: its tickets applied, its offers that ran out ended."""
    report = DrainReport()
    limit = max(1, runtime.settings.apply_batch_size)
    while True:
        with runtime.sessions.begin() as session:
            locks.take_event(session, event_id)
            now = database_now(session)
            # the worker's clock: its transaction's, to the millisecond (`locks.Taken.now`)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            applied = apply_events(session, [event_id], now, limit)
        if applied is None:
            return report
        report.applied += len(applied.batch)
        report.batches += 1
        report.batch_sizes.append(len(applied.batch))
        report.events.add(event_id)
