"""Users: create, read, rename, delete (freeing their seats), and where they stand."""

from __future__ import annotations

from flask import Blueprint, Response, url_for

from api.auth import admin_only
from api.body import checked_id, parse_body
from api.context import ctx
from api.render import json_list, json_response
from api.schemas import (
    OfferOut,
    User,
    UserCreate,
    UserRegistration,
    UserUpdate,
    UserWaitlisting,
)
from models import db, queries, services
from models.errors import UserNotFound

bp = Blueprint("users", __name__)


def _user_id(user_id: str) -> str:
    """An id that breaks the id pattern names no user: 404, as for any unknown user."""
    return checked_id(user_id, UserNotFound)


@bp.post("/users")
@admin_only
def create_user() -> Response:
    body = parse_body(UserCreate)
    row = db.run(ctx().sessions, lambda s: services.create_user(s, body.user_id, body.name))
    response = json_response(User.model_validate(row), 201)
    response.headers["Location"] = url_for("users.get_user", user_id=body.user_id)
    return response


@bp.get("/users/<user_id>")
def get_user(user_id: str) -> Response:
    with ctx().sessions.begin() as session:
        row = queries.get_user(session, _user_id(user_id))
    return json_response(User.model_validate(row))


@bp.put("/users/<user_id>")
@admin_only
def update_user(user_id: str) -> Response:
    user_id = _user_id(user_id)
    body = parse_body(UserUpdate)
    row = db.run(ctx().sessions, lambda s: services.rename_user(s, user_id, body.name))
    return json_response(User.model_validate(row))


@bp.delete("/users/<user_id>")
@admin_only
def delete_user(user_id: str) -> Response:
    user_id = _user_id(user_id)

    # Removal locks every event the user is part of; two removals (or a removal and the
    # worker) can still collide, and PostgreSQL then aborts one of them: `run` runs it again.
    db.run(ctx().sessions, lambda s: services.remove_user(s, user_id, db.database_now(s)))
    return Response(status=204)


@bp.get("/users/<user_id>/registrations")
def user_registrations(user_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.user_registrations(session, _user_id(user_id))
    return json_list([UserRegistration.model_validate(row) for row in rows])


@bp.get("/users/<user_id>/waitlists")
def user_waitlists(user_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.user_waitlists(session, _user_id(user_id))
    return json_list([UserWaitlisting.model_validate(row) for row in rows])


@bp.get("/users/<user_id>/offers")
def user_offers(user_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.user_offers(session, _user_id(user_id))
    return json_list([OfferOut.model_validate(row) for row in rows])
