"""`tessera.apply_event`: wake-up call for one event; the worker drains its pending tickets."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from workers import apply, runtime
from workers.app import app


@app.task(
    name="tessera.apply_event",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=0.5,
    retry_backoff_max=5,
    retry_jitter=True,
    max_retries=None,  # PostgreSQL may be down for a while; the ticket rows wait, and so do we
)
def apply_event(event_id: str) -> None:
    apply.drain_event(runtime.current(), event_id)
