"""Events: create, list, read, change (capacity raises promote at once), delete, and who is
seated or waiting. Registering and unregistering are commands (`api.commands`), not here."""

from __future__ import annotations

import datetime as dt
import json
import re

from flask import Blueprint, Response, url_for
from sqlalchemy import RowMapping
from sqlalchemy.orm import Session
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
    LedgerQuery,
    OfferedStatus,
    OfferOut,
    RegistrationStatus,
    WaitlistEntry,
)
from models import db, ledger_store, queries, services
from models.errors import EventNotFound

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
            "available_spots": row["capacity"] - row["registered_seats"] - row["offered_seats"],
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
    fields = body.model_dump()
    fields["event_id"] = fields["event_id"] or new_event_id()
    row = db.run(ctx().sessions, lambda session: services.create_event(session, fields))
    response = json_response(event_out(row), 201)
    response.headers["Location"] = url_for("events.get_event", event_id=fields["event_id"])
    return response


@bp.get("/events")
def list_events() -> Response:
    query = parse_query(EventQuery)
    after = decode_cursor(query.cursor) if query.cursor is not None else None
    with ctx().sessions.begin() as session:
        page = queries.list_events(session, status=query.status, after=after, limit=query.limit)
    items = [event_out(row) for row in page.rows]
    next_cursor = None
    if page.more:
        last = page.rows[-1]
        next_cursor = encode_cursor(last["created_at"], last["event_id"])
    return json_response(EventPage(items=items, next_cursor=next_cursor))


@bp.get("/events/<event_id>")
def get_event(event_id: str) -> Response:
    with ctx().sessions.begin() as session:
        row = queries.get_event(session, _event_id(event_id))
    return json_response(event_out(row))


@bp.put("/events/<event_id>")
@admin_only
def update_event(event_id: str) -> Response:
    event_id = _event_id(event_id)
    body = parse_body(EventUpdate)
    changes = {name: getattr(body, name) for name in body.model_fields_set}

    def change(session: Session) -> RowMapping:
        if changes:
            services.update_event(session, event_id, changes, db.database_now(session))
        # Read in the same transaction, under the event's lock: the promoted are seated.
        return queries.get_event(session, event_id)

    return json_response(event_out(db.run(ctx().sessions, change)))


@bp.delete("/events/<event_id>")
@admin_only
def delete_event(event_id: str) -> Response:
    event_id = _event_id(event_id)

    db.run(ctx().sessions, lambda session: services.delete_event(session, event_id))
    return Response(status=204)


@bp.get("/events/<event_id>/registrations")
def event_registrations(event_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.event_registrations(session, _event_id(event_id))
    return json_list([EventRegistration.model_validate(row) for row in rows])


@bp.get("/events/<event_id>/waitlist")
def event_waitlist(event_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.event_waitlist(session, _event_id(event_id))
    return json_list([WaitlistEntry.model_validate(row) for row in rows])


@bp.get("/events/<event_id>/registrations/<user_id>")
def registration_status(event_id: str, user_id: str) -> Response:
    event_id = _event_id(event_id)
    place: queries.Place | None = None
    with db.snapshot(ctx().sessions) as session:
        if ID.fullmatch(user_id):
            place = queries.place_of(session, event_id, user_id)
        else:  # no one can hold that id, but an unknown event still answers EVENT_NOT_FOUND
            queries.require_event(session, event_id)
    if place is None:
        raise ApiError(
            404, "REGISTRATION_NOT_FOUND", "The user is neither registered nor waitlisted."
        )
    if place.expires_at is not None:
        return json_response(
            OfferedStatus(
                status="offered", seats=place.seats, position=None, expires_at=place.expires_at
            )
        )
    return json_response(
        RegistrationStatus.model_validate(
            {"status": place.status, "seats": place.seats, "position": place.position}
        )
    )


@bp.get("/events/<event_id>/offers")
def event_offers(event_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.event_offers(session, _event_id(event_id))
    return json_list([OfferOut.model_validate(row) for row in rows])


@bp.get("/events/<event_id>/ledger")
def event_ledger(event_id: str) -> Response:
    """A page of the event's ledger, each entry exactly as it was hashed (`docs/LEDGER.md`)."""
    event_id = _event_id(event_id)
    query = parse_query(LedgerQuery)
    with db.snapshot(ctx().sessions) as session:
        queries.require_event(session, event_id)
        # one more than asked tells whether another page follows
        entries = ledger_store.page(session, event_id, query.after, query.limit + 1)
    page = entries[: query.limit]
    next_after = page[-1][0] if len(entries) > query.limit else None
    body = '{"items":[' + ",".join(entry for _, entry in page) + '],"nextAfter":'
    return Response(body + json.dumps(next_after) + "}", mimetype="application/json")
