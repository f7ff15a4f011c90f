"""Rules of form for identifiers and names, shared by the API schemas and the domain."""

from __future__ import annotations

import re

from models.domain.errors import InvalidInput

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_ID = re.compile(ID_PATTERN)
MAX_NAME_LENGTH = 200


def check_id(field: str, value: object) -> str:
    """An id is 1-64 characters of A-Z a-z 0-9 _ -."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInput(field, "must be 1-64 characters of A-Z a-z 0-9 _ -")
    return value


def check_text(field: str, value: object, *, max_length: int | None = None) -> str:
    """Text that must not be blank; returned trimmed."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    trimmed = value.strip()
    if not trimmed:
        raise InvalidInput(field, "must not be blank")
    if max_length is not None and len(trimmed) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters")
    return trimmed


def check_name(value: object) -> str:
    return check_text("name", value, max_length=MAX_NAME_LENGTH)
