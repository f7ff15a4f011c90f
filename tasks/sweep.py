"""`tessera.sweep`: periodic (celery beat) re-wake of events whose tickets wait too long."""

from __future__ import annotations

from workers import runtime, sweeper
from workers.app import app


@app.task(name="tessera.sweep", acks_late=True, ignore_result=True)
def sweep() -> None:
    sweeper.sweep(runtime.current())
