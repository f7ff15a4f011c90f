"""Events: create, list, read, change (capacity raises promote at once), delete, and who is
seated or waiting. Registering and unregistering are commands (`api.commands`), not here."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from flask import Response, request, url_for
from sqlalchemy import RowMapping
from sqlalchemy.orm import Session
from ulid import ULID

from api import schemas
from api.body import ID, checked_id, parse_body, parse_query
from api.context import ctx
from api.errors import ApiError, FieldError, validation_error
from api.params import EVENT_ID, USER_ID, cursor, limit
from api.render import json_list, json_response
from api.routes import Access, Attendee, Param, Reply, Resource, route
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
    PrequeuedStatus,
    RegistrationStatus,
    Standing,
    WaitlistEntry,
)
from models import services
from models.domain.errors import EventNotFound
from models.storage import db, ledger_store, queries

bp = Resource("events", __name__, tag="events")


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
            "application_count": row["applied_count"],
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

EVENT_CURSOR = cursor(
    EVENT_CURSOR_PATTERN,
    "the last event's `createdAt` in microseconds since the epoch, a dot, its `eventId`",
)


@route(
    bp,
    "POST",
    "/events",
    operation_id="createEvent",
    access=Access.ADMIN,
    summary="Create an event",
    replies=(Reply(201, "The event.", Event, headers=("Location",)),),
    body=EventCreate,
    notes="Without `eventId` the server generates one (`evt_` and a lower-case ULID).",
    error_notes={409: "DUPLICATE_EVENT: the eventId is taken."},
)
def create_event() -> Response:
    body = parse_body(EventCreate)
    fields = body.model_dump()
    fields["event_id"] = fields["event_id"] or new_event_id()
    row = db.run(ctx().sessions, lambda session: services.create_event(session, fields))
    response = json_response(event_out(row), 201)
    response.headers["Location"] = url_for("events.get_event", event_id=fields["event_id"])
    return response


@route(
    bp,
    "GET",
    "/events",
    operation_id="listEvents",
    access=Access.CLIENT,
    attendee=Attendee.ANY,
    summary="List events",
    replies=(Reply(200, "A page, ordered by createdAt then eventId.", EventPage),),
    params=(
        Param("status", "query", schemas.TEXT_SCHEMA, "Only events with exactly this status."),
        limit(schemas.MAX_PAGE_SIZE, schemas.DEFAULT_PAGE_SIZE),
        EVENT_CURSOR,
    ),
    errors=(422,),
)
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


@route(
    bp,
    "GET",
    "/events/<event_id>",
    operation_id="getEvent",
    access=Access.CLIENT,
    attendee=Attendee.ANY,
    summary="Get an event",
    replies=(Reply(200, "The event.", Event),),
    params=(EVENT_ID,),
    errors=(404,),
)
def get_event(event_id: str) -> Response:
    with ctx().sessions.begin() as session:
        row = queries.get_event(session, _event_id(event_id))
    return json_response(event_out(row))


@route(
    bp,
    "PUT",
    "/events/<event_id>",
    operation_id="updateEvent",
    access=Access.ADMIN,
    summary="Change an event (partial)",
    replies=(Reply(200, "The event, promoted users already seated.", Event),),
    body=EventUpdate,
    params=(EVENT_ID,),
    errors=(404,),
    notes="Only the fields given change. A capacity raise promotes waitlisters at once "
    "(FIFO); turning waitlistEnabled off keeps those already waiting.",
    error_notes={
        409: "CAPACITY_BELOW_REGISTERED (below the seats taken and offered), "
        "CAPACITY_BELOW_PARTY_SIZE, or DRAW_LOCKED (opening, prequeueOpensAt or "
        "registrationOpensAt changed after the pre-queue opened, before the draw).",
        422: "VALIDATION_ERROR, e.g. maxPartySize above the capacity, a registration "
        "window that opens at or after it closes, or a draw without prequeueOpensAt before "
        "registrationOpensAt.",
    },
)
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


@route(
    bp,
    "DELETE",
    "/events/<event_id>",
    operation_id="deleteEvent",
    access=Access.ADMIN,
    summary="Delete an event",
    replies=(Reply(204, "Deleted, with its registrations and waitlist."),),
    params=(EVENT_ID,),
    errors=(404,),
)
def delete_event(event_id: str) -> Response:
    event_id = _event_id(event_id)

    db.run(ctx().sessions, lambda session: services.delete_event(session, event_id))
    return Response(status=204)


@route(
    bp,
    "GET",
    "/events/<event_id>/registrations",
    operation_id="listEventRegistrations",
    access=Access.CLIENT,
    summary="Seated users",
    replies=(Reply(200, "In the order seats were taken.", EventRegistration, many=True),),
    params=(EVENT_ID,),
    errors=(404,),
)
def event_registrations(event_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.event_registrations(session, _event_id(event_id))
    return json_list([EventRegistration.model_validate(row) for row in rows])


@route(
    bp,
    "GET",
    "/events/<event_id>/waitlist",
    operation_id="listEventWaitlist",
    access=Access.CLIENT,
    summary="Waiting users",
    replies=(Reply(200, "Positions 1..n, contiguous.", WaitlistEntry, many=True),),
    params=(EVENT_ID,),
    errors=(404,),
)
def event_waitlist(event_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.event_waitlist(session, _event_id(event_id))
    return json_list([WaitlistEntry.model_validate(row) for row in rows])


@route(
    bp,
    "GET",
    "/events/<event_id>/registrations/<user_id>",
    operation_id="getRegistration",
    access=Access.CLIENT,
    attendee=Attendee.PATH_USER,
    summary="Where a user stands at an event",
    replies=(
        Reply(
            200,
            "Seated (position null), waiting, offered seats until expiresAt, or applied.",
            Standing,
        ),
    ),
    params=(EVENT_ID, USER_ID),
    error_notes={404: "EVENT_NOT_FOUND, or REGISTRATION_NOT_FOUND if neither."},
)
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
    if place.status == "prequeued":
        return json_response(PrequeuedStatus(status="prequeued", seats=place.seats, position=None))
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


@route(
    bp,
    "GET",
    "/events/<event_id>/offers",
    operation_id="listEventOffers",
    access=Access.CLIENT,
    summary="Open offers",
    replies=(Reply(200, "In the order they were made.", OfferOut, many=True),),
    params=(EVENT_ID,),
    errors=(404,),
)
def event_offers(event_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.event_offers(session, _event_id(event_id))
    return json_list([OfferOut.model_validate(row) for row in rows])


@route(
    bp,
    "GET",
    "/events/<event_id>/ledger",
    operation_id="getEventLedger",
    access=Access.CLIENT,
    summary="The event's ledger (verifiable history)",
    replies=(
        Reply(
            200,
            "Entries in index order, each as it was hashed.",
            schemas.LedgerPage,
            headers=("ETag",),
        ),
        Reply(304, "Not modified: `If-None-Match` names this page's ETag.", headers=("ETag",)),
    ),
    params=(
        EVENT_ID,
        Param(
            "If-None-Match",
            "header",
            {"type": "string"},
            "ETags of pages already held: 304 if the page is still one of them. Any other "
            "value matches nothing (as HTTP says), so it is never refused.",
        ),
        Param(
            "after",
            "query",
            {"type": "integer", "minimum": 0, "maximum": schemas.MAX_CAPACITY, "default": 0},
            "Entries with an index above this (the previous page's `nextAfter`).",
        ),
        limit(schemas.MAX_LEDGER_PAGE, 100),
    ),
    errors=(404, 422),
    notes="Every change to the event's seats and line, hash-chained: see docs/LEDGER.md "
    "and `tessera verify`.",
)
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
    body += json.dumps(next_after) + "}"
    # A full page (one with a next) never changes and a partial one only grows, so a tag of
    # its bytes lets a verifier that walks the ledger again fetch only what is new.
    etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    if request.if_none_match.contains_weak(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    return Response(body, mimetype="application/json", headers={"ETag": f'"{etag}"'})
