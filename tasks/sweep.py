"""`tessera.sweep`: periodic (celery beat) re-wake of events whose tickets wait too long;
`tessera.expire`: a wake-up for events with an offer past its end."""

from __future__ import annotations

from tessera.messaging import EXPIRE_TASK, SWEEP_TASK
from workers import runtime, sweeper
from workers.app import app


@app.task(name=SWEEP_TASK, acks_late=True, ignore_result=True)
def sweep() -> None:
    sweeper.sweep(runtime.current(app))


@app.task(name=EXPIRE_TASK, acks_late=True, ignore_result=True)
def expire() -> None:
    sweeper.wake_for_due_offers(runtime.current(app))
