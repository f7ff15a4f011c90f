"""Users: create, read, rename, delete (freeing their seats), and where they stand."""

from __future__ import annotations

from flask import Response, url_for

from api.body import checked_id, parse_body
from api.context import ctx
from api.params import USER_ID
from api.render import json_list, json_response
from api.routes import Access, Attendee, Reply, Resource, route
from api.schemas import (
    OfferOut,
    User,
    UserCreate,
    UserRegistration,
    UserUpdate,
    UserWaitlisting,
)
from models import services
from models.domain.errors import UserNotFound
from models.storage import db, queries

bp = Resource("users", __name__, tag="users")


def _user_id(user_id: str) -> str:
    """An id that breaks the id pattern names no user: 404, as for any unknown user."""
    return checked_id(user_id, UserNotFound)


@route(
    bp,
    "POST",
    "/users",
    operation_id="createUser",
    access=Access.ADMIN,
    summary="Create a user",
    replies=(Reply(201, "The user.", User, headers=("Location",)),),
    body=UserCreate,
    error_notes={409: "DUPLICATE_USER: the userId is taken."},
)
def create_user() -> Response:
    body = parse_body(UserCreate)
    row = db.run(ctx().sessions, lambda s: services.create_user(s, body.user_id, body.name))
    response = json_response(User.model_validate(row), 201)
    response.headers["Location"] = url_for("users.get_user", user_id=body.user_id)
    return response


@route(
    bp,
    "GET",
    "/users/<user_id>",
    operation_id="getUser",
    access=Access.CLIENT,
    attendee=Attendee.PATH_USER,
    summary="Get a user",
    replies=(Reply(200, "The user.", User),),
    params=(USER_ID,),
    errors=(404,),
)
def get_user(user_id: str) -> Response:
    with ctx().sessions.begin() as session:
        row = queries.get_user(session, _user_id(user_id))
    return json_response(User.model_validate(row))


@route(
    bp,
    "PUT",
    "/users/<user_id>",
    operation_id="updateUser",
    access=Access.ADMIN,
    summary="Rename a user",
    replies=(Reply(200, "The user.", User),),
    body=UserUpdate,
    params=(USER_ID,),
    errors=(404,),
)
def update_user(user_id: str) -> Response:
    user_id = _user_id(user_id)
    body = parse_body(UserUpdate)
    row = db.run(ctx().sessions, lambda s: services.rename_user(s, user_id, body.name))
    return json_response(User.model_validate(row))


@route(
    bp,
    "DELETE",
    "/users/<user_id>",
    operation_id="deleteUser",
    access=Access.ADMIN,
    summary="Delete a user",
    replies=(Reply(204, "Deleted."),),
    params=(USER_ID,),
    errors=(404,),
    notes="The user leaves every event first; each freed seat goes to that event's "
    "waitlist head in the same transaction.",
)
def delete_user(user_id: str) -> Response:
    user_id = _user_id(user_id)

    # Removal locks every event the user is part of; two removals (or a removal and the
    # worker) can still collide, and PostgreSQL then aborts one of them: `run` runs it again.
    db.run(ctx().sessions, lambda s: services.remove_user(s, user_id, db.database_now(s)))
    return Response(status=204)


@route(
    bp,
    "GET",
    "/users/<user_id>/registrations",
    operation_id="listUserRegistrations",
    access=Access.CLIENT,
    attendee=Attendee.PATH_USER,
    summary="Events where the user holds a seat",
    replies=(Reply(200, "Oldest seat first.", UserRegistration, many=True),),
    params=(USER_ID,),
    errors=(404,),
)
def user_registrations(user_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.user_registrations(session, _user_id(user_id))
    return json_list([UserRegistration.model_validate(row) for row in rows])


@route(
    bp,
    "GET",
    "/users/<user_id>/waitlists",
    operation_id="listUserWaitlists",
    access=Access.CLIENT,
    attendee=Attendee.PATH_USER,
    summary="Waitlists the user is on, with positions",
    replies=(Reply(200, "Oldest first.", UserWaitlisting, many=True),),
    params=(USER_ID,),
    errors=(404,),
)
def user_waitlists(user_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.user_waitlists(session, _user_id(user_id))
    return json_list([UserWaitlisting.model_validate(row) for row in rows])


@route(
    bp,
    "GET",
    "/users/<user_id>/offers",
    operation_id="listUserOffers",
    access=Access.CLIENT,
    attendee=Attendee.PATH_USER,
    summary="Open offers made to the user",
    replies=(Reply(200, "The one ending soonest first.", OfferOut, many=True),),
    params=(USER_ID,),
    errors=(404,),
)
def user_offers(user_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.user_offers(session, _user_id(user_id))
    return json_list([OfferOut.model_validate(row) for row in rows])
