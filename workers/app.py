"""The Celery app. Creating it does no I/O; the broker is connected on first use."""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init

from workers import runtime

app = Celery("tessera", include=["tasks.apply", "tasks.sweep"])
app.config_from_object("celeryconfig")


@worker_process_init.connect
def _fresh_runtime_per_child(**_: object) -> None:
    # Pool children are forked: connections inherited from the parent must not be shared.
    runtime.reset()
