"""Celery settings, all from the environment (see tessera.config for the names).

Celery reads this module by name (`app.config_from_object("celeryconfig")`); the broker URL is
filled in at start-up by workers.app because it may point at an embedded Redis.
"""

from __future__ import annotations

import os

# One hour is Celery's default visibility timeout; a SIGKILLed worker's unacked message would
# wait that long to come back. We do not rely on it (the sweeper re-wakes pending tickets from
# PostgreSQL within seconds), so a short timeout only makes redelivery prompter.
VISIBILITY_TIMEOUT_SECONDS = int(os.environ.get("TESSERA_VISIBILITY_TIMEOUT", "60"))

broker_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
# kombu's Redis transport, guarded so that losing Redis can never crash a worker
# (docs/RELIABILITY.md, "The worker and a Redis outage")
broker_transport = "tessera.broker:Transport"
# Celery's consumer, reconnecting every second instead of backing off to 30 s
worker_consumer = "workers.consumer:Consumer"
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
task_ignore_result = True
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
worker_send_task_events = True
task_send_sent_event = True
worker_hijack_root_logger = False
broker_connection_retry_on_startup = True
broker_connection_max_retries = None  # keep reconnecting while Redis is away
broker_transport_options = {
    "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
}
# A publish while Redis is down must fail fast: the ticket is already committed and the sweeper
# will wake its event, so the API must not hang on the broker.
task_publish_retry_policy = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# The same timeout wherever Celery reads it (the result backend is unused but configured alike).
result_backend_transport_options = {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}
task_default_queue = "tessera"
task_routes = {
    "tessera.apply_event": {"queue": "tessera"},
    "tessera.wake_events": {"queue": "tessera"},
    "tessera.sweep": {"queue": "tessera"},
}
beat_schedule = {
    "sweep-pending-tickets": {
        "task": "tessera.sweep",
        "schedule": float(os.environ.get("TESSERA_SWEEP_INTERVAL", "2")),
        "options": {"expires": 10},
    },
}
timezone = "UTC"
