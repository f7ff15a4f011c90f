"""The typed Python client in clients/python is the one the current OpenAPI document generates
(regenerated into a temporary directory and compared file by file): run `make client` after
changing an operation or a schema."""

from __future__ import annotations

import filecmp
import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

CLIENTS = Path(__file__).resolve().parents[2] / "clients"


def differences(left: Path, right: Path) -> list[str]:
    found: list[str] = []
    compared = filecmp.dircmp(left, right, ignore=["__pycache__", ".ruff_cache", "build"])
    # an editable install leaves its metadata beside the package
    left_only = [n for n in compared.left_only if not n.endswith(".egg-info")]
    found += [f"only in the checked-in client: {n}" for n in left_only]
    found += [f"missing from the checked-in client: {n}" for n in compared.right_only]
    _, mismatch, errors = filecmp.cmpfiles(left, right, compared.common_files, shallow=False)
    found += [f"differs: {left / n}" for n in mismatch + errors]
    for name in compared.common_dirs:
        found += differences(left / name, right / name)
    return found


def test_the_checked_in_client_is_current_with_the_document(tmp_path: Path) -> None:
    if importlib.util.find_spec("openapi_python_client") is None:
        pytest.skip("openapi-python-client is not installed (pip install -e '.[dev]')")
    sys.path.insert(0, str(CLIENTS))
    try:
        from generate import generate
    finally:
        sys.path.remove(str(CLIENTS))

    generate(tmp_path / "python")

    assert differences(CLIENTS / "python", tmp_path / "python") == [], "run `make client`"
