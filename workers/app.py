"""The Celery app. Creating it does no I/O; the broker is connected on first use."""

from __future__ import annotations

import time

import redis
from celery import Celery
from celery.signals import after_setup_logger, heartbeat_sent, worker_process_init

from tessera.config import Settings
from tessera.messaging import redis_client
from tessera.telemetry import configure_logging, worker_heartbeat
from workers import runtime

app = Celery("tessera", include=["tasks.apply", "tasks.sweep", "tasks.deliver"])
app.config_from_object("celeryconfig")


@worker_process_init.connect
def _fresh_runtime_per_child(**_: object) -> None:
    # Pool children are forked: connections inherited from the parent must not be shared.
    runtime.reset()


@after_setup_logger.connect
def _structured_logs(**_: object) -> None:
    configure_logging(json_format=Settings.from_env().log_json)


_heartbeat_client: redis.Redis | None = None


@heartbeat_sent.connect
def _alive(sender: object, **_: object) -> None:
    # Celery's heartbeat (every 2 s, from the worker's main process): the API's /metrics counts
    # the workers seen lately, so an alert knows when they are gone.
    global _heartbeat_client  # noqa: PLW0603 - one client per worker process
    hostname = getattr(getattr(sender, "eventer", None), "hostname", None)
    if hostname is None:
        return
    if _heartbeat_client is None:
        url = Settings.from_env().redis_url
        if not url:
            return
        _heartbeat_client = redis_client(url)
    worker_heartbeat(_heartbeat_client, str(hostname), time.time())
