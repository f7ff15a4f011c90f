"""`tessera.apply_event`: wake-up call for one event; the worker drains its pending tickets."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from tessera.messaging import APPLY_EVENT_TASK, WAKE_EVENTS_TASK
from workers import apply, runtime
from workers.app import app


@app.task(
    name=APPLY_EVENT_TASK,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=0.5,
    retry_backoff_max=5,
    retry_jitter=True,
    max_retries=None,  # PostgreSQL may be down for a while; the ticket rows wait, and so do we
)
def apply_event(event_id: str) -> None:
    apply.drain_event(runtime.current(app), event_id)


@app.task(name=WAKE_EVENTS_TASK, acks_late=True, ignore_result=True)
def wake_events(event_ids: list[str]) -> None:
    """Fan-out of a request that woke many events at once: one task per event, so distinct
    events are applied in parallel by the pool."""
    for event_id in event_ids:
        apply_event.delay(event_id)
