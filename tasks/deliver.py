"""`tessera.deliver`: send one webhook subscription's due deliveries (its own queue)."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from tessera.messaging import DELIVER_TASK
from workers import deliverer, runtime
from workers.app import app


@app.task(
    name=DELIVER_TASK,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=0.5,
    retry_backoff_max=5,
    retry_jitter=True,
    max_retries=None,  # PostgreSQL may be down for a while; the delivery rows wait, and so do we
)
def deliver(webhook_id: str) -> None:
    deliverer.deliver(runtime.current(app), webhook_id)
