"""`tessera.deliver`: send one webhook subscription's due deliveries (its own queue)."""

from __future__ import annotations

from tasks.retry import WHILE_THE_DATABASE_IS_DOWN
from tessera.messaging import DELIVER_TASK
from workers import deliverer, runtime
from workers.app import app


@app.task(
    name=DELIVER_TASK,
    acks_late=True,
    ignore_result=True,
    **WHILE_THE_DATABASE_IS_DOWN,
)
def deliver(webhook_id: str) -> None:
    deliverer.deliver(runtime.current(app), webhook_id)
