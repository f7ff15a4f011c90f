"""The Celery app. Creating it does no I/O; the broker is connected on first use."""

from __future__ import annotations

from celery import Celery
from celery.signals import after_setup_logger, worker_process_init

from tessera.config import Settings
from tessera.telemetry import configure_logging
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
