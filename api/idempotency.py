"""`Idempotency-Key` as the HTTP side sees it: the header, checked, and the request it names.

What a key means, and how it is claimed inside the accepting transaction, is
`models.storage.idempotency`.
"""

from __future__ import annotations

import re
from typing import Any

from flask import request

from api.auth import current_principal
from api.errors import FieldError, validation_error
from models.storage.idempotency import ClaimRequest, fingerprint

HEADER = "Idempotency-Key"
_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]{1,255}$")


def key_from_request() -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not _PRINTABLE_ASCII.fullmatch(raw):
        raise validation_error([FieldError(HEADER, "must be 1-255 printable ASCII characters")])
    return raw


def claim_request(body: Any) -> ClaimRequest | None:
    """The request's claim on its key (scoped to the caller's API key), or None without one."""
    key = key_from_request()
    if key is None:
        return None
    return ClaimRequest(
        current_principal().owner, key, fingerprint(request.method, request.path, body)
    )
