"""Parameters several operations share, as the document states them (see `api.routes`)."""

from __future__ import annotations

from api import schemas
from api.routes import Param

ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"

USER_ID = Param(
    "userId", "path", schemas.ID_SCHEMA, "A user id. One that breaks the pattern is a 404.", True
)
EVENT_ID = Param(
    "eventId", "path", schemas.ID_SCHEMA, "An event id. One that breaks the pattern is a 404.", True
)
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    {"type": "string", "pattern": r"^[\x20-\x7E]{1,255}$", "minLength": 1, "maxLength": 255},
    "Makes the request safe to retry: the same key and the same request within 24 h answer "
    "202 again with the same ticket/batch (header Idempotent-Replayed: true) and accept "
    "nothing new. Scoped per API key.",
)


def limit(maximum: int, default: int) -> Param:
    return Param(
        "limit",
        "query",
        {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
        "Page size.",
    )


def cursor(pattern: str, form: str) -> Param:
    return Param(
        "cursor",
        "query",
        {"type": "string", "pattern": pattern},
        f"The `nextCursor` of the previous page: {form}. Pass it back as it came; any cursor "
        "of this form names a position, and the page continues strictly after it.",
    )
