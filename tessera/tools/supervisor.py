"""A small process supervisor for `tessera up`: start children, prefix their output, restart
the ones that die (with backoff), and stop them all on request, leaving none behind."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from tessera.tools.processes import stop_groups

STOP_GRACE_SECONDS = 7.0
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    restart_at: float | None = None
    started_at: float = 0.0
    pumps: list[threading.Thread] = field(default_factory=list)


class Supervisor:
    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.children: list[Child] = []
        self.out = out
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def say(self, name: str, line: str) -> None:
        with self._lock:
            self.out.write(f"{name:<8}| {line.rstrip()}\n")
            self.out.flush()

    def add(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Child:
        child = Child(name, list(argv), dict(env))
        self.children.append(child)
        self._start(child)
        return child

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(
            list(child.argv),
            env=dict(child.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we stop it and all it forked
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        pump = threading.Thread(target=self._pump, args=(child, child.process), daemon=True)
        pump.start()
        child.pumps.append(pump)

    def _pump(self, child: Child, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self.say(child.name, raw.decode("utf-8", "replace"))

    def watch(self, on_tick: Callable[[], None] | None = None, interval: float = 0.2) -> None:
        """Until `stopping` is set: restart dead children with exponential backoff."""
        while not self.stopping.is_set():
            now = time.monotonic()
            for child in self.children:
                process = child.process
                if process is None or process.poll() is None:
                    continue
                if child.restart_at is None:
                    # a child that ran a while before dying starts again from a short backoff
                    if now - child.started_at > MAX_BACKOFF_SECONDS:
                        child.restarts = 0
                    delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2**child.restarts)
                    child.restarts += 1
                    child.restart_at = now + delay
                    self.say(
                        "tessera",
                        f"{child.name} exited with code {process.returncode}; "
                        f"restarting in {delay:.1f}s (restart #{child.restarts})",
                    )
                elif now >= child.restart_at:
                    self._start(child)
                    self.say("tessera", f"{child.name} restarted (pid {child.process.pid})")  # type: ignore[union-attr]
            if on_tick is not None:
                on_tick()
            self.stopping.wait(interval)

    def stop(self) -> None:
        """SIGTERM every child's process group, wait, then SIGKILL what is left."""
        self.stopping.set()
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        stop_groups(running, grace=STOP_GRACE_SECONDS)
