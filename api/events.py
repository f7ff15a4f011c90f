"""Events: create, list, read, change (capacity raises promote at once), delete, and who is
seated or waiting. Registering and unregistering are commands (`api.commands`), not here."""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, Response, url_for
from sqlalchemy import RowMapping
from ulid import ULID

from api.auth import admin_only
from api.body import ID, checked_id, parse_body, parse_query
from api.context import ctx
from api.errors import ApiError, FieldError, validation_error
from api.render import json_list, json_response
from api.schemas import (
    EVENT_CURSOR_PATTERN,
    Event,
    EventCreate,
    EventPage,
    EventQuery,
    EventRegistration,
    EventUpdate,
    RegistrationStatus,
    WaitlistEntry,
)
from models import catalog, services
from models.errors import EventNotFound
from models.updates import Update
from tessera.messaging import publish

bp = Blueprint("events", __name__)


def new_event_id() -> str:
    """Sortable by creation like the other server ids, and within the id pattern."""
    return "evt_" + str(ULID()).lower()


def _event_id(event_id: str) -> str:
    return checked_id(event_id, EventNotFound)


def event_out(row: RowMapping) -> Event:
    """One row, so one snapshot: the counts and the spots left always agree."""
    return Event.model_validate(
        {
            **row,
            "waitlist_count": row["waitlisted_count"],
            "available_spots": row["capacity"] - row["registered_count"],
        }
    )


# --- cursors ----------------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EVENT_CURSOR = re.compile(EVENT_CURSOR_PATTERN.removeprefix("^").removesuffix("$"))


def encode_cursor(created_at: dt.datetime, event_id: str) -> str:
    """`<createdAt in microseconds since the epoch>.<eventId>`: the page after this event."""
    microseconds = (created_at - _EPOCH) // dt.timedelta(microseconds=1)
    return f"{microseconds}.{event_id}"


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """The position a cursor names. Every cursor of the documented form names one (the page
    after it), so the document and the validator agree; anything else is a 422."""
    if _EVENT_CURSOR.fullmatch(cursor) is None:
        raise validation_error([FieldError("cursor", "not a cursor this API issued")])
    microseconds, _, event_id = cursor.partition(".")
    return _EPOCH + dt.timedelta(microseconds=int(microseconds)), event_id


# --- views ------------------------------------------------------------------------------


@bp.post("/events")
@admin_only
def create_event() -> Response:
    body = parse_body(EventCreate)
    fields = body.model_dump(exclude={"event_id"})
    fields["event_id"] = body.event_id or new_event_id()
    with ctx().sessions.begin() as session:
        row = catalog.create_event(session, fields)
    response = json_response(event_out(row), 201)
    response.headers["Location"] = url_for("events.get_event", event_id=fields["event_id"])
    return response


@bp.get("/events")
def list_events() -> Response:
    query = parse_query(EventQuery)
    after = decode_cursor(query.cursor) if query.cursor is not None else None
    with ctx().sessions.begin() as session:
        page = catalog.list_events(session, status=query.status, after=after, limit=query.limit)
    items = [event_out(row) for row in page.rows]
    next_cursor = None
    if page.more:
        last = page.rows[-1]
        next_cursor = encode_cursor(last["created_at"], last["event_id"])
    return json_response(EventPage(items=items, next_cursor=next_cursor))


@bp.get("/events/<event_id>")
def get_event(event_id: str) -> Response:
    with ctx().sessions.begin() as session:
        row = catalog.get_event(session, _event_id(event_id))
    return json_response(event_out(row))


@bp.put("/events/<event_id>")
@admin_only
def update_event(event_id: str) -> Response:
    event_id = _event_id(event_id)
    body = parse_body(EventUpdate)
    changes = {name: getattr(body, name) for name in body.model_fields_set}

    def change() -> tuple[RowMapping, list[Update]]:
        with ctx().sessions.begin() as session:
            published: list[Update] = []
            if changes:
                now = catalog.database_now(session)
                published = services.update_event(session, event_id, changes, now)
            # Read in the same transaction, under the event's lock: the promoted are seated.
            return catalog.get_event(session, event_id), published

    row, published = catalog.retrying(change)
    publish(ctx().redis, published)
    return json_response(event_out(row))


@bp.delete("/events/<event_id>")
@admin_only
def delete_event(event_id: str) -> Response:
    event_id = _event_id(event_id)

    def delete() -> None:
        with ctx().sessions.begin() as session:
            catalog.delete_event(session, event_id)

    catalog.retrying(delete)
    return Response(status=204)


@bp.get("/events/<event_id>/registrations")
def event_registrations(event_id: str) -> Response:
    with catalog.snapshot(ctx().sessions) as session:
        rows = catalog.event_registrations(session, _event_id(event_id))
    return json_list([EventRegistration.model_validate(row) for row in rows])


@bp.get("/events/<event_id>/waitlist")
def event_waitlist(event_id: str) -> Response:
    with catalog.snapshot(ctx().sessions) as session:
        rows = catalog.event_waitlist(session, _event_id(event_id))
    return json_list([WaitlistEntry.model_validate(row) for row in rows])


@bp.get("/events/<event_id>/registrations/<user_id>")
def registration_status(event_id: str, user_id: str) -> Response:
    event_id = _event_id(event_id)
    place: catalog.Place | None = None
    with catalog.snapshot(ctx().sessions) as session:
        if ID.fullmatch(user_id):
            place = catalog.place_of(session, event_id, user_id)
        else:  # no one can hold that id, but an unknown event still answers EVENT_NOT_FOUND
            catalog.require_event(session, event_id)
    if place is None:
        raise ApiError(
            404, "REGISTRATION_NOT_FOUND", "The user is neither registered nor waitlisted."
        )
    return json_response(
        RegistrationStatus.model_validate({"status": place.status, "position": place.position})
    )
