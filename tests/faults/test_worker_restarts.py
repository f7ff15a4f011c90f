"""A bare `tessera worker` heals itself: when its Celery worker dies by itself it is started
again; a stop signal stops both; a child that cannot start is given up on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tessera.tools import restarting
from tessera.tools.restarting import Restarter
from tessera.tools.servers import EmbeddedRedis, ServerUrls

pytestmark = pytest.mark.e2e


def _celery_children(parent: int) -> list[psutil.Process]:
    """The Celery main processes started by `tessera worker` (not their pool processes)."""
    try:
        return [
            child
            for child in psutil.Process(parent).children()
            if "celery" in " ".join(child.cmdline())
        ]
    except psutil.NoSuchProcess:
        return []


def _wait_for_log(path: Path, marker: str, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(errors="replace").count(marker) >= count:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{marker!r} did not appear {count} times in {path}")


def test_a_bare_tessera_worker_restarts_its_celery_worker_when_it_dies(
    server_urls: ServerUrls, tmp_path: Path
) -> None:
    redis = EmbeddedRedis(tmp_path)  # its own queue: no other test's wake-ups are consumed
    redis_url = redis.start()
    log = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": server_urls.database_url, "REDIS_URL": redis_url}
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tessera.tools.cli", "worker", "--concurrency", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_log(log, " ready.", 1)
        (first,) = _celery_children(worker.pid)
        first.kill()  # as the OOM killer or an unrecoverable error would end it
        killed_at = time.monotonic()

        _wait_for_log(log, " ready.", 2)
        back_after = time.monotonic() - killed_at
        (second,) = _celery_children(worker.pid)
        assert second.pid != first.pid
        assert worker.poll() is None
        assert back_after < 15.0
        assert "exited with code -9" in log.read_text()

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
        assert not second.is_running() or second.status() == psutil.STATUS_ZOMBIE
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        redis.stop(sig=signal.SIGKILL)


def test_a_child_that_keeps_dying_at_start_is_given_up_with_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(restarting, "FIRST_DELAY_SECONDS", 0.01)
    said: list[str] = []
    restarter = Restarter(
        [sys.executable, "-c", "raise SystemExit(3)"], os.environ, name="child", say=said.append
    )

    assert restarter.run() == 3

    assert len(said) == restarting.GIVE_UP_AFTER_QUICK_EXITS
    assert "giving up" in said[-1]
    assert all("exited with code 3" in line for line in said)
