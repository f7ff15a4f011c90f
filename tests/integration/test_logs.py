"""One log format for every process, the request id carried to the worker, and `tessera up`'s
quiet terminal (the supervisor's filter and summary, on real child processes)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis

from api import gunicorn_conf
from tessera.messaging import DRAIN_TASK, Waker
from tessera.telemetry import REQUEST_ID, configure_logging, request_context
from tessera.tools.supervisor import Supervisor
from workers import app as worker_app

pytestmark = pytest.mark.integration

CHILD = """
import json, sys
lines = [
    {"level": "info", "logger": "tessera.api", "msg": "request", "status": 202},
    {"level": "info", "logger": "tessera.api", "msg": "request", "status": 503},
    {"level": "info", "logger": "tessera.worker", "msg": "applied batch", "applied": 7},
    {"level": "info", "logger": "celery.beat", "msg": "Scheduler: Sending due task"},
    {"level": "warning", "logger": "tessera.messaging", "msg": "wake-up not sent"},
]
for line in lines:
    print(json.dumps(line))
print("2026-12-01 10:00:00 ERROR gunicorn.error Worker (pid:7) was sent SIGKILL!")
print(" -------------- celery@host v5.7.0")
"""


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """These tests configure the process's logging; the next tests find it as it was."""
    loggers = [logging.getLogger(), logging.getLogger("tessera")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


def test_up_keeps_every_line_in_the_log_file_and_shows_only_warnings_errors_and_a_summary(
    tmp_path: Path,
) -> None:
    out = StringIO()
    supervisor = Supervisor(out, log_dir=tmp_path / "logs")
    child = supervisor.add("worker", [sys.executable, "-c", CHILD], {})
    assert child.process is not None
    child.process.wait(timeout=30)
    for pump in child.pumps:
        pump.join(timeout=10)

    supervisor.summarize(every=0)

    shown = out.getvalue().splitlines()
    assert shown[:2] == [
        'worker  | {"level": "warning", "logger": "tessera.messaging", "msg": "wake-up not sent"}',
        "worker  | 2026-12-01 10:00:00 ERROR gunicorn.error Worker (pid:7) was sent SIGKILL!",
    ]
    assert shown[2].startswith("tessera | last ")
    assert shown[2].endswith(
        ": 2 requests (1 5xx), 7 tickets applied in 1 passes, 2 warnings/errors"
    )
    assert len(shown) == 3
    kept = (tmp_path / "logs" / "worker.log").read_text().splitlines()
    assert len(kept) == 7
    supervisor.summarize(every=0)
    assert len(out.getvalue().splitlines()) == 3  # nothing happened: no summary


def test_every_logger_writes_json_lines_naming_the_current_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(json_format=True)
    with request_context("req-1"):
        logging.getLogger("celery.worker.strategy").info("Task tessera.drain received")
    logging.getLogger("tessera.worker").info("applied batch", extra={"requestId": "req-2"})

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    assert [(e["logger"], e.get("requestId")) for e in lines] == [
        ("celery.worker.strategy", "req-1"),
        ("tessera.worker", "req-2"),
    ]
    assert lines[0]["level"] == "info"


def test_text_format_names_the_request_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_format=False)
    with request_context("req-3"):
        logging.getLogger("celery.beat").warning("beat is late")
    configure_logging(json_format=True)

    line = capsys.readouterr().err.strip()
    assert " WARNING celery.beat beat is late [req-3]" in line


class Recording:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_task(self, name: str, args: list[Any], **options: Any) -> object:
        self.sent.append((name, options))
        return None


def test_the_wake_up_task_carries_the_request_id_and_the_task_sets_it_while_it_runs(
    redis_client: redis.Redis,
) -> None:
    sender = Recording()
    with request_context("req-4"):
        Waker(redis_client, sender).wake(["e1"])
    assert sender.sent == [(DRAIN_TASK, {"headers": {"requestId": "req-4"}})]

    task = SimpleNamespace(request=SimpleNamespace(requestId="req-4"))
    worker_app._request_id_of_the_task(task=task)
    assert REQUEST_ID.get() == "req-4"
    worker_app._no_request_id_after_the_task()
    assert REQUEST_ID.get() is None


def test_gunicorns_own_messages_use_the_same_format_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    error_log = logging.getLogger("gunicorn.error.test")
    stream = StringIO()
    error_log.handlers[:] = [logging.StreamHandler(stream)]
    monkeypatch.delenv("TESSERA_LOG_FORMAT", raising=False)

    gunicorn_conf.on_starting(SimpleNamespace(log=SimpleNamespace(error_log=error_log)))
    error_log.warning("Worker timeout (pid:%d)", 7)

    entry = json.loads(stream.getvalue())
    assert (entry["level"], entry["msg"]) == ("warning", "Worker timeout (pid:7)")
    assert error_log.propagate is False
    assert "ts" in entry  # stamped by Tessera's formatter, not gunicorn's


def test_while_up_stops_the_childrens_errors_stay_in_the_log_file(tmp_path: Path) -> None:
    out = StringIO()
    supervisor = Supervisor(out, log_dir=tmp_path / "logs")
    supervisor.stopping.set()  # as Ctrl-C does, before the children are signalled
    child = supervisor.add("worker", [sys.executable, "-c", CHILD], {})
    assert child.process is not None
    child.process.wait(timeout=30)
    for pump in child.pumps:
        pump.join(timeout=10)

    assert out.getvalue() == ""
    assert len((tmp_path / "logs" / "worker.log").read_text().splitlines()) == 7
