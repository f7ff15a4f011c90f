"""The Celery app. Creating it does no I/O; the broker is connected on first use."""

from __future__ import annotations

import time
from typing import Any

import redis
from celery import Celery
from celery.signals import (
    beat_init,
    heartbeat_sent,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
)

from tessera import tracing
from tessera.config import Settings
from tessera.messaging import redis_client
from tessera.telemetry import REQUEST_ID, REQUEST_ID_HEADER, configure_logging, worker_heartbeat
from workers import runtime

app = Celery("tessera", include=["tasks.apply", "tasks.sweep", "tasks.deliver"])
app.config_from_object("celeryconfig")


@worker_process_init.connect
def _fresh_runtime_per_child(**_: object) -> None:
    # Pool children are forked: connections inherited from the parent must not be shared.
    runtime.reset()
    # and the span exporter's thread, if tracing is on, must be this process's own
    tracing.configure("tessera-worker")


@worker_init.connect
def _trace_a_worker_without_children(sender: Any = None, **_: object) -> None:
    # A prefork worker's tasks run in its children, which trace themselves (above); a thread
    # pool's (the webhook worker's) run in this process, which nothing else would configure.
    from celery.concurrency import get_implementation
    from celery.concurrency.prefork import TaskPool as PreforkPool

    pool = getattr(sender, "pool_cls", None)
    if pool is not None and not issubclass(get_implementation(pool), PreforkPool):
        tracing.configure("tessera-webhook-worker")


@beat_init.connect
def _trace_beat(**_: object) -> None:
    # beat's sends are where the sweeper's and the expiry check's traces start
    tracing.configure("tessera-beat")


@setup_logging.connect
def _structured_logs(loglevel: int | str | None = None, **_: object) -> None:
    # Connected, this replaces Celery's own logging set-up in workers and beat: Celery's lines
    # (tasks received, beat's schedule) come out in the same format as Tessera's.
    configure_logging(json_format=Settings.from_env().log_json, level=loglevel or "INFO")


@task_prerun.connect
def _request_id_of_the_task(task: Any = None, **_: object) -> None:
    # the request whose accept woke this task (tessera.telemetry.request_headers)
    request_id = getattr(getattr(task, "request", None), REQUEST_ID_HEADER, None)
    REQUEST_ID.set(str(request_id) if request_id else None)


@task_postrun.connect
def _no_request_id_after_the_task(**_: object) -> None:
    REQUEST_ID.set(None)


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
