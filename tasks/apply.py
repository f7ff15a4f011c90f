"""`tessera.drain`: wake-up call for the appliers; the worker drains every pending ticket."""

from __future__ import annotations

from tasks.retry import WHILE_THE_DATABASE_IS_DOWN
from tessera.messaging import DRAIN_TASK
from workers import apply, runtime
from workers.app import app


@app.task(
    name=DRAIN_TASK,
    acks_late=True,
    ignore_result=True,
    **WHILE_THE_DATABASE_IS_DOWN,
)
def drain() -> None:
    apply.drain(runtime.current(app), linger=apply.LINGER_SECONDS)
