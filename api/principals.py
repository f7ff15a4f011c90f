"""What an attendee (a user signed in with its provider's token) may call: one table by Flask
endpoint, enforced in one place, before any view runs. Anything not in the table is 403
FORBIDDEN for an attendee, so a route added later stays closed to attendees until listed.

Keys are judged elsewhere: `admin_only` on the views that need an admin key.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping

from flask import Flask, g, request

from api.auth import ATTENDEE, Principal
from api.errors import ApiError


class Attendee(enum.Enum):
    """Which attendee may make a call."""

    ANY = "any attendee"  # the view shows it only what is its own (tickets) or public (events)
    PATH_USER = "the user in the path"
    BODY_USER = "the body's userId, or no userId (meaning its own)"


ATTENDEE_ACCESS: Mapping[str, Attendee] = {
    "commands.register": Attendee.BODY_USER,
    "commands.unregister": Attendee.PATH_USER,  # also withdraws its application
    "commands.accept_offer": Attendee.PATH_USER,
    "commands.decline_offer": Attendee.PATH_USER,
    "commands.get_ticket": Attendee.ANY,  # its own tickets only: others' are 404
    "events.list_events": Attendee.ANY,
    "events.get_event": Attendee.ANY,
    "events.registration_status": Attendee.PATH_USER,
    "users.get_user": Attendee.PATH_USER,
    "users.user_registrations": Attendee.PATH_USER,
    "users.user_waitlists": Attendee.PATH_USER,
    "users.user_offers": Attendee.PATH_USER,
}


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "FORBIDDEN", detail)


def check_attendee(principal: Principal, endpoint: str | None) -> None:
    """Raise 403 unless the attendee may make this request (it acts only for itself)."""
    rule = ATTENDEE_ACCESS.get(endpoint or "")
    if rule is None:
        raise forbidden("An attendee token cannot make this call.")
    if rule is Attendee.PATH_USER:
        if (request.view_args or {}).get("user_id") != principal.user_id:
            raise forbidden("An attendee token acts only for its own user.")
    elif rule is Attendee.BODY_USER:
        named = _body_user_id()
        if named is not None and named != principal.user_id:
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


def init_app(app: Flask) -> None:
    """Install the check. Call after `auth.init_app`: it judges the authenticated principal."""

    @app.before_request
    def _attendees_act_only_for_themselves() -> None:
        principal: Principal | None = g.get("principal")
        if principal is None or principal.role != ATTENDEE:
            return
        if request.routing_exception is not None:
            return
        check_attendee(principal, request.endpoint)
