"""Run a child in the foreground and start it again when it dies by itself: `tessera worker`
heals on its own, with no systemd, compose or `tessera up` around it.

A stop signal (SIGINT, SIGTERM) is passed on and ends the loop; so does a clean exit (code 0,
e.g. a remote shutdown). A child that keeps dying right after it starts is misconfigured, not
unlucky: after a few such exits in a row the loop gives up with the child's exit code.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 8.0
# A child that ran this long before dying was healthy: the next restart is quick again.
HEALTHY_AFTER_SECONDS = 30.0
GIVE_UP_AFTER_QUICK_EXITS = 5


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class Restarter:
    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        name: str,
        say: Callable[[str], None] = _say,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.name = name
        self.say = say
        self.stopping = threading.Event()
        self._guard = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def stop(self, signum: int = signal.SIGTERM, _frame: object = None) -> None:
        """End the loop, passing the signal on to the running child."""
        self.stopping.set()
        with self._guard:
            if self._process is not None:
                with contextlib.suppress(ProcessLookupError):
                    self._process.send_signal(signum)

    def run(self) -> int:
        """Run the child until asked to stop; return its last exit code. Installs SIGINT and
        SIGTERM handlers for the duration (call from the main thread)."""
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.stop) for sig in signals}
        try:
            return self._loop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _loop(self) -> int:
        quick_exits = 0
        while True:
            started = time.monotonic()
            with self._guard:
                if self.stopping.is_set():
                    return 0
                process = subprocess.Popen(self.argv, env=self.env)
                self._process = process
            code = process.wait()
            if self.stopping.is_set() or code == 0:
                return code
            ran = time.monotonic() - started
            quick_exits = quick_exits + 1 if ran < HEALTHY_AFTER_SECONDS else 1
            if quick_exits >= GIVE_UP_AFTER_QUICK_EXITS:
                self.say(
                    f"tessera: {self.name} exited with code {code} {quick_exits} times in a row"
                    " right after starting; giving up"
                )
                return code
            delay = min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (quick_exits - 1))
            self.say(
                f"tessera: {self.name} exited with code {code} after {ran:.1f}s;"
                f" restarting it in {delay:.1f}s"
            )
            if self.stopping.wait(delay):
                return code
