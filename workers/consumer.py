"""The workers' Celery consumer: reconnects to Redis every second while it is away."""

from __future__ import annotations

import functools
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer

# kombu's default is 2 s, +2 s per attempt, up to 30 s: after a long outage a worker could idle
# for half a minute with Redis back. Attempts are cheap (a refused or a 2 s timed-out connect).
RECONNECT_FIRST_WAIT_SECONDS = 0.5
RECONNECT_WAIT_STEP_SECONDS = 0.5
RECONNECT_MAX_WAIT_SECONDS = 1.0


class Consumer(CeleryConsumer):  # type: ignore[misc]
    """Celery's consumer, reconnecting every second while Redis is away."""

    def ensure_connected(self, conn: Any) -> Any:
        conn.ensure_connection = functools.partial(
            conn.ensure_connection,
            interval_start=RECONNECT_FIRST_WAIT_SECONDS,
            interval_step=RECONNECT_WAIT_STEP_SECONDS,
            interval_max=RECONNECT_MAX_WAIT_SECONDS,
        )
        return super().ensure_connected(conn)
