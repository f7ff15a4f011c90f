"""What an attendee (a user signed in with its provider's token) may call: each operation's
`attendee` declaration (`api.routes.Attendee`), enforced in one place, before any view runs.
An operation that declares none is 403 FORBIDDEN for an attendee.
"""

from __future__ import annotations

import json

from flask import request

from api.errors import ApiError
from api.routes import Attendee


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "FORBIDDEN", detail)


def check_attendee(user_id: str | None, rule: Attendee | None) -> None:
    """Raise 403 unless the attendee may make this request (it acts only for itself)."""
    if rule is None:
        raise forbidden("An attendee token cannot make this call.")
    if rule is Attendee.PATH_USER:
        if (request.view_args or {}).get("user_id") != user_id:
            raise forbidden("An attendee token acts only for its own user.")
    elif rule is Attendee.BODY_USER:
        named = _body_user_id()
        if named is not None and named != user_id:
            raise forbidden("An attendee token acts only for its own user.")


_ABSENT = object()


def _body_user_id() -> object | None:
    """The body's `userId` if the body is a JSON object naming one; a body that is not is left
    to the view's own validation (422/415)."""
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    named = body.get("userId", _ABSENT)
    return None if named is _ABSENT else named
