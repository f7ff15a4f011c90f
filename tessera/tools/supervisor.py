"""A small process supervisor for `tessera up`: start children, keep their full output in the
log directory, restart the ones that die (with backoff), and stop them all on request, leaving
none behind. The terminal shows only what a person watching it needs: its own messages, the
children's warnings and errors, and a one-line summary of the traffic every few seconds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tessera.tools.processes import stop_groups

STOP_GRACE_SECONDS = 7.0
MAX_BACKOFF_SECONDS = 30.0
SUMMARY_EVERY_SECONDS = 5.0
_LOUD_LEVELS = {"warning", "error", "critical"}
# A line of the text log format (`TESSERA_LOG_FORMAT=text`, gunicorn's) at warning or above, or
# what Python prints for an exception that escaped every logger.
_LOUD_TEXT = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|^Traceback|^\w+(Error|Exception)\b")


@dataclass
class Traffic:
    """What the children's log lines say happened since the last summary."""

    requests: int = 0
    server_errors: int = 0
    applied: int = 0
    passes: int = 0
    warnings: int = 0

    def line(self, seconds: float) -> str | None:
        if self == Traffic():
            return None
        return (
            f"last {seconds:.0f}s: {self.requests} requests ({self.server_errors} 5xx), "
            f"{self.applied} tickets applied in {self.passes} passes, "
            f"{self.warnings} warnings/errors"
        )


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
    def __init__(self, out: TextIO = sys.stdout, log_dir: Path | None = None) -> None:
        """`log_dir`: where each child's full output goes (`<name>.log`), the terminal then
        showing only warnings, errors and summaries; without it, everything is shown."""
        self.children: list[Child] = []
        self.out = out
        self.log_dir = log_dir
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.traffic = Traffic()
        self._summarized_at = time.monotonic()
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)

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
        if self.log_dir is None:
            for raw in process.stdout:
                self.say(child.name, raw.decode("utf-8", "replace"))
            return
        with (self.log_dir / f"{child.name}.log").open("ab", buffering=0) as log:
            for raw in process.stdout:
                log.write(raw)
                line = raw.decode("utf-8", "replace")
                # Once stopping, every group has been signalled at once: a worker's pool
                # children report the job the signal interrupted (acks_late gives it back to
                # the queue). Expected, so it stays in the log file, off the terminal.
                if self._loud(line) and not self.stopping.is_set():
                    self.say(child.name, line)

    def _loud(self, line: str) -> bool:
        """Whether a child's line belongs on the terminal; counts it for the summary."""
        entry = _json_object(line)
        if entry is None:
            loud = bool(_LOUD_TEXT.search(line))
        else:
            loud = str(entry.get("level", "")).lower() in _LOUD_LEVELS
            with self._lock:
                status, applied = entry.get("status"), entry.get("applied")
                if entry.get("msg") == "request":
                    self.traffic.requests += 1
                    self.traffic.server_errors += isinstance(status, int) and status >= 500
                elif entry.get("msg") == "applied batch":
                    self.traffic.passes += 1
                    self.traffic.applied += applied if isinstance(applied, int) else 0
        if loud:
            with self._lock:
                self.traffic.warnings += 1
        return loud

    def summarize(self, every: float = SUMMARY_EVERY_SECONDS) -> None:
        """Every `every` seconds, one line of what happened since the last, if anything did."""
        now = time.monotonic()
        if self.log_dir is None or now - self._summarized_at < every:
            return
        with self._lock:
            line = self.traffic.line(now - self._summarized_at)
            self.traffic = Traffic()
        self._summarized_at = now
        if line is not None:
            self.say("tessera", line)

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
            self.summarize()
            self.stopping.wait(interval)

    def stop(self) -> None:
        """SIGTERM every child's process group, wait, then SIGKILL what is left."""
        self.stopping.set()
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        stop_groups(running, grace=STOP_GRACE_SECONDS)


def _json_object(line: str) -> dict[str, object] | None:
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None
