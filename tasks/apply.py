"""`tessera.drain`: wake-up call for the appliers; the worker drains every pending ticket."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from tessera.messaging import DRAIN_TASK
from workers import apply, runtime
from workers.app import app


@app.task(
    name=DRAIN_TASK,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=0.5,
    retry_backoff_max=5,
    retry_jitter=True,
    max_retries=None,  # PostgreSQL may be down for a while; the ticket rows wait, and so do we
)
def drain() -> None:
    apply.drain(runtime.current(app), linger=apply.LINGER_SECONDS)
