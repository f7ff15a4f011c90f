"""`tessera.sweep`: periodic (celery beat) re-wake of events whose tickets wait too long."""

from __future__ import annotations

from tessera.messaging import SWEEP_TASK
from workers import runtime, sweeper
from workers.app import app


@app.task(name=SWEEP_TASK, acks_late=True, ignore_result=True)
def sweep() -> None:
    sweeper.sweep(runtime.current(app))
