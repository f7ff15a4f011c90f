"""The real stack as separate processes on free ports, for end-to-end tests, benchmarks and
fault injection: gunicorn API, Celery workers and beat against given servers.

Each process writes to its own log file (no pipes that could fill and block it) and runs in
its own process group, so a test can SIGKILL a worker and its pool children at will.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tessera.tools.processes import (
    api_argv,
    beat_argv,
    child_env,
    metrics_env,
    stop_groups,
    webhook_worker_argv,
    worker_argv,
)
from tessera.tools.servers import ServerUrls, free_port

# Tests wait on the sweeper (a lost wake-up, a stale ticket): 1 s instead of production's 2 s.
FAST_SWEEPER = {"TESSERA_SWEEP_INTERVAL": "1", "TESSERA_SWEEP_MIN_AGE": "1"}


@dataclass
class LocalStack:
    urls: ServerUrls
    data_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    api_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # The API and the webhook senders must share it (it seals the webhook secrets).
    webhook_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # and the server secret, which every API process needs (it derives the keys' owners)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _environment(self) -> dict[str, str]:
        return child_env(
            self.urls,
            {
                **FAST_SWEEPER,
                "TESSERA_WEBHOOK_KEY": self.webhook_key,
                "TESSERA_SECRET_KEY": self.secret_key,
                **self.env,
            },
        )

    def log_path(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        self.log_path(name).parent.mkdir(parents=True, exist_ok=True)
        with self.log_path(name).open("ab") as log:
            process = subprocess.Popen(
                argv,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def start_api(self) -> None:
        self.env = {**self.env, **metrics_env(self.data_dir)}
        self.spawn("api", api_argv("127.0.0.1", self.api_port))

    def start_worker(self, name: str = "worker", concurrency: int = 2) -> None:
        offset = self.log_path(name).stat().st_size if self.log_path(name).exists() else 0
        self.spawn(name, worker_argv(concurrency))
        self._wait_for_log(name, b" ready.", offset)

    def start_webhook_worker(self, name: str = "webhooks", concurrency: int = 4) -> None:
        """The webhook senders (not started by `start`: only what delivers webhooks needs it)."""
        offset = self.log_path(name).stat().st_size if self.log_path(name).exists() else 0
        self.spawn(name, webhook_worker_argv(concurrency))
        self._wait_for_log(name, b" ready.", offset)

    def start_beat(self) -> None:
        self.spawn("beat", beat_argv(self.data_dir))

    def start(self, workers: int = 2, beat: bool = True) -> LocalStack:
        self.start_api()
        self.start_worker(concurrency=workers)
        if beat:
            self.start_beat()
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base_url + "/ready", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except urllib.error.HTTPError:
                pass
            except OSError:
                pass
            self._check_alive("api")
            time.sleep(0.1)
        raise TimeoutError(f"the API at {self.base_url} did not become ready")

    def _wait_for_log(self, name: str, marker: bytes, offset: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if marker in self.log_path(name).read_bytes()[offset:]:
                    return
            self._check_alive(name)
            time.sleep(0.05)
        raise TimeoutError(f"{name} did not log {marker!r}")

    def _check_alive(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            tail = self.log_path(name).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def children_of(self, name: str) -> list[int]:
        """The pids of a process's children (e.g. a worker's pool processes)."""
        try:
            return [c.pid for c in psutil.Process(self.processes[name].pid).children()]
        except psutil.NoSuchProcess:
            return []

    def kill(self, name: str, sig: int = signal.SIGKILL, whole_group: bool = True) -> None:
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            if whole_group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

    def stop(self, name: str) -> None:
        stop_groups([self.processes.pop(name)], grace=8)

    def running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def restart(self, name: str, *, concurrency: int = 2, timeout: float = 60.0) -> None:
        """Start a killed or stopped process again the way `start` did: the API on the same
        port (waiting until /ready answers), a worker with `concurrency` pool processes (waiting
        until it logs ready), or beat."""
        if self.running(name):
            raise RuntimeError(f"{name} is still running (pid {self.processes[name].pid})")
        if name == "api":
            self.start_api()
            self.wait_ready(timeout)
        elif name == "beat":
            self.start_beat()
        elif name.startswith("webhooks"):
            self.start_webhook_worker(name)
        else:
            self.start_worker(name, concurrency)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)
