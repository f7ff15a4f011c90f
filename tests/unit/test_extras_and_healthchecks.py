"""Optional parts name the extra that installs them when it is missing, and the container
healthchecks of the processes without HTTP judge what they should."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tessera import extras
from tessera.tools.healthcheck import BEAT_STALE_SECONDS, check_beat, worker_here

pytestmark = pytest.mark.unit


def test_a_missing_extra_is_named_with_the_command_that_installs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(extras.EXTRAS, "no_such_module_for_tessera", ("docs", "Swagger UI"))
    assert not extras.installed("no_such_module_for_tessera")
    with pytest.raises(extras.MissingExtra, match=r"pip install 'tessera\[docs\]'"):
        extras.require("no_such_module_for_tessera")


def test_every_extra_module_is_installed_in_development() -> None:
    for module in extras.EXTRAS:
        assert extras.installed(module), extras.message(module)


def test_a_worker_is_healthy_when_a_worker_of_its_kind_on_this_host_answers() -> None:
    nodes = ["tessera-1a2b3c4d@box", "tessera-webhooks-9f8e7d6c@other"]
    assert worker_here("worker", nodes, "box")
    assert not worker_here("webhook-worker", nodes, "box")
    assert worker_here("webhook-worker", nodes, "other")
    assert not worker_here("worker", ["tessera-webhooks-9f8e7d6c@box"], "box")
    assert not worker_here("worker", [], "box")


def test_beat_is_healthy_while_its_schedule_keeps_changing(tmp_path: Path) -> None:
    schedule = tmp_path / "celerybeat-schedule"
    assert check_beat(schedule) is not None  # not started yet
    schedule.write_bytes(b"")
    assert check_beat(schedule) is None
    stale = schedule.stat().st_mtime - BEAT_STALE_SECONDS - 1
    os.utime(schedule, (stale, stale))
    assert "ago" in (check_beat(schedule) or "")
