"""Generate the typed Python client (`clients/python`) from Tessera's OpenAPI document.

`make client` runs it; tests/unit/test_python_client.py regenerates into a temporary directory
and fails if the checked-in client differs, so the client can never drift from the document.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "python-client.yaml"


def generate(output: Path) -> None:
    """Write the client for the current document into `output` (replaced if present)."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    document = subprocess.run(
        [sys.executable, "-m", "api.openapi"],
        check=True,
        capture_output=True,
        cwd=HERE.parent,
        env=env,
    ).stdout
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "openapi.json"
        path.write_bytes(document)
        subprocess.run(
            [
                str(bin_dir / "openapi-python-client"),
                "generate",
                "--path",
                str(path),
                "--config",
                str(CONFIG),
                "--meta",
                "setup",
                "--output-path",
                str(output),
                "--overwrite",
            ],
            check=True,
            capture_output=True,
            env=env,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=HERE / "python")
    generate(parser.parse_args().output)
