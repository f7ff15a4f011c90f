"""The rooms of `models`: the pure domain imports nothing that does I/O, and nothing of storage.

Ruff's banned-api rule keeps `api` out of every other package; this keeps the same one-way
direction inside `models`, where a rule by file pattern would not say what a room may import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

MODELS = Path(__file__).resolve().parents[2] / "models"
# What the pure domain may never import: storage and the service layer of its own package, the
# other project packages, and every library that reaches a database, a broker or the web.
FORBIDDEN = (
    "models.storage",
    "models.services",
    "api",
    "tasks",
    "workers",
    "tessera",
    "sqlalchemy",
    "psycopg",
    "redis",
    "celery",
    "kombu",
    "flask",
    "alembic",
)


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
            # `from models import storage` names a room as a module
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def forbidden_in(path: Path) -> list[str]:
    return sorted(
        name
        for name in imports_of(path)
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN)
    )


@pytest.mark.parametrize("module", sorted(MODELS.glob("domain/*.py")), ids=lambda path: path.stem)
def test_the_pure_domain_imports_no_storage_and_no_io(module: Path) -> None:
    assert forbidden_in(module) == []


def test_the_rooms_hold_every_module_of_models() -> None:
    loose = {path.name for path in MODELS.glob("*.py")}

    assert loose == {"__init__.py", "services.py"}


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text("from models.storage import tables\nimport sqlalchemy.orm\n")

    assert forbidden_in(module) == ["models.storage", "models.storage.tables", "sqlalchemy.orm"]
