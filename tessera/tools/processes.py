"""How each part of the stack is started as a process: the command lines and environments that
`tessera up`, the single-part subcommands and the test and benchmark harnesses share."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from tessera.messaging import QUEUE, WEBHOOK_QUEUE
from tessera.tools.servers import ServerUrls


def child_env(urls: ServerUrls, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=urls.database_url, REDIS_URL=urls.redis_url, PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def metrics_env(data_dir: Path) -> dict[str, str]:
    """A fresh directory for gunicorn workers' shared Prometheus metrics (multiprocess mode)."""
    directory = data_dir.resolve() / "prometheus"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return {"PROMETHEUS_MULTIPROC_DIR": str(directory)}


def api_argv(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--config", "python:api.gunicorn_conf",
        "--bind", f"{host}:{port}",
        "api.wsgi:create()",
    ]  # fmt: skip


def worker_argv(concurrency: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "workers.app", "worker",
        "--loglevel", "INFO",
        "--concurrency", str(concurrency),
        "--queues", QUEUE,
        # no worker-to-worker chatter: mingle costs a second on every (re)connect, and neither
        # it nor gossip serves anything here (Flower reads the task events)
        "--without-mingle", "--without-gossip",
        # unique per process, so several workers on one machine stay apart in Flower
        "--hostname", f"tessera-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip


def webhook_worker_argv(concurrency: int) -> list[str]:
    """The webhook senders: their own queue, so a slow receiver never holds up the appliers;
    a thread per task, since a sender mostly waits for a receiver's answer."""
    return [
        sys.executable, "-m", "celery", "-A", "workers.app", "worker",
        "--loglevel", "INFO",
        "--pool", "threads",
        "--concurrency", str(concurrency),
        "--queues", WEBHOOK_QUEUE,
        "--without-mingle", "--without-gossip",
        "--hostname", f"tessera-webhooks-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip


def beat_argv(data_dir: Path) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        sys.executable, "-m", "celery", "-A", "workers.app", "beat",
        "--loglevel", "INFO",
        "--schedule", str(data_dir / "celerybeat-schedule"),
    ]  # fmt: skip


def flower_argv(port: int, host: str = "127.0.0.1") -> list[str]:
    """No credentials here: a command line is readable by every local user (`ps`)."""
    return [
        sys.executable, "-m", "celery", "-A", "workers.app", "flower",
        f"--address={host}",
        f"--port={port}",
    ]  # fmt: skip


def stop_groups(
    processes: Sequence[subprocess.Popen[bytes]], *, grace: float, sig: int = signal.SIGTERM
) -> None:
    """Stop each process with its whole process group: `sig` to every group at once, up to
    `grace` seconds for all of them to end, then SIGKILL to every group anyway, because a pool
    child may outlive its parent. Each process is started in a group of its own
    (`start_new_session`), so its group id is its pid."""
    for process in processes:
        signal_group(process, sig)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        signal_group(process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    # Gone already (ProcessLookupError), or a group we may no longer signal: nothing to stop.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def flower_env(basic_auth: str) -> dict[str, str]:
    """Flower reads its basic-auth `user:password` from the environment, which only the same
    user (and root) can read."""
    return {"FLOWER_BASIC_AUTH": basic_auth}
