"""Celery settings (Celery reads this module by name: `app.config_from_object("celeryconfig")`).

Values that operators set come from `tessera.config.Settings`, the one reader of the
environment; task names and the queue from `tessera.messaging`, where they are defined once.
"""

from __future__ import annotations

from tessera.config import Settings
from tessera.messaging import (
    DELIVER_TASK,
    EXPIRE_TASK,
    QUEUE,
    REDIS_SOCKET_TIMEOUT,
    SWEEP_TASK,
    TASK_NAMES,
    WEBHOOK_QUEUE,
)
from tessera.redis_urls import KEEPALIVE, celery_broker

_settings = Settings.from_env()
# A plain REDIS_URL or a Sentinel group's (tessera/redis_urls.py): either way kombu's Redis
# transport, guarded so that losing Redis can never crash a worker (docs/RELIABILITY.md, "The
# worker and a Redis outage"); with Sentinel, each new connection asks for the master.
_broker = celery_broker(_settings.redis_url or "redis://127.0.0.1:6379/0", REDIS_SOCKET_TIMEOUT)

broker_url = _broker.url
broker_transport = _broker.transport
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
# One hour is Celery's default visibility timeout; a SIGKILLed worker's unacked message would
# wait that long to come back. We do not rely on it (the sweeper re-wakes pending tickets from
# PostgreSQL within seconds), so a short timeout only makes redelivery prompter.
broker_transport_options = {
    "visibility_timeout": _settings.visibility_timeout_seconds,
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
    **KEEPALIVE,  # a consumer on a master that died silently notices (tessera/redis_urls.py)
    **_broker.transport_options,
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
result_backend_transport_options = {"visibility_timeout": _settings.visibility_timeout_seconds}
task_default_queue = QUEUE
task_routes = {name: {"queue": QUEUE} for name in TASK_NAMES}
# Webhook deliveries have their own queue and workers: a slow receiver never delays applying.
task_routes[DELIVER_TASK] = {"queue": WEBHOOK_QUEUE}
beat_schedule = {
    "sweep-pending-tickets": {
        "task": SWEEP_TASK,
        "schedule": _settings.sweep_interval_seconds,
        "options": {"expires": 10},
    },
    # Offers must end within 2 s of their end (the contract): a look every second, one
    # indexed query, and a drain woken only when some offer is due.
    "wake-for-due-offers": {
        "task": EXPIRE_TASK,
        "schedule": _settings.offer_check_interval_seconds,
        "options": {"expires": 5},
    },
}
timezone = "UTC"
