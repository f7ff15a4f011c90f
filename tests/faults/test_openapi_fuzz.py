"""The full Schemathesis run of `make faults`: every phase (examples, coverage, fuzzing,
stateful) and every check, from the document the running API serves, against the real stack
(gunicorn, worker, PostgreSQL, Redis) over HTTP. The in-suite run
(tests/integration/test_openapi_schemathesis.py) is the small, in-process version.

Left out: `GET /events/{eventId}/updates`, a stream that never ends by itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.lab import ADMIN_KEY, FaultLab

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 150


def test_schemathesis_in_every_phase_with_every_check_finds_nothing(
    lab: FaultLab, tmp_path: Path
) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(CONFIG),
        "run", f"{lab.base_url}/openapi.json",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--checks", "all",
        "--exclude-path", "/events/{eventId}/updates",
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--workers", "2",
        "--seed", "16",
        "--header", f"Authorization: Bearer {ADMIN_KEY}",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=800,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output = result.stdout + result.stderr
    summary = re.search(r"(\d+) generated, (\d+) passed(?:, (\d+) skipped)?", output)
    print(  # noqa: T201 - the run's figures are this drill's output (pytest -s)
        "\nschemathesis: " + (summary[0] if summary else "no summary")
        + "\n" + "\n".join(output.splitlines()[-30:])
    )  # fmt: skip

    assert result.returncode == 0, output[-6000:]
    assert summary is not None, output[-3000:]
    assert summary[1] == summary[2], output[-3000:]
    assert "Stateful" in output
    assert "Coverage" in output
