"""Approval (`admission: "approval"`): an event's pending applications, and the admin's two
commands on one. The decisions are tickets like any other: the event's applier applies them in
acceptance order, through the rules (`EventSeats.approve`/`reject`), into the ledger."""

from __future__ import annotations

from flask import Response

from api.body import checked_id
from api.command_schemas import OfferReply
from api.commands import path_command, path_command_reply
from api.context import ctx
from api.params import EVENT_ID, IDEMPOTENCY_KEY, USER_ID
from api.render import json_list
from api.routes import Access, Reply, Resource, route
from api.schemas import ApplicationOut
from models.domain.errors import EventNotFound
from models.storage import db, queries

bp = Resource("applications", __name__, tag="applications")

DECISION_ERRORS = {
    404: "USER_NOT_FOUND or EVENT_NOT_FOUND.",
    409: "IDEMPOTENCY_KEY_IN_FLIGHT.",
    422: "VALIDATION_ERROR (a body other than {}) or IDEMPOTENCY_KEY_REUSED.",
}


@route(
    bp,
    "GET",
    "/events/<event_id>/applications",
    operation_id="listEventApplications",
    access=Access.CLIENT,
    summary="Pending applications",
    replies=(Reply(200, "In acceptance order.", ApplicationOut, many=True),),
    params=(EVENT_ID,),
    errors=(404,),
)
def event_applications(event_id: str) -> Response:
    with db.snapshot(ctx().sessions) as session:
        rows = queries.event_applications(session, checked_id(event_id, EventNotFound))
    return json_list([ApplicationOut.model_validate(row) for row in rows])


@route(
    bp,
    "POST",
    "/events/<event_id>/applications/<user_id>/approve",
    operation_id="approveApplication",
    access=Access.ADMIN,
    summary="Approve an application (command)",
    replies=(path_command_reply("approve"),),
    body=OfferReply,
    body_required=False,
    params=(EVENT_ID, USER_ID, IDEMPOTENCY_KEY),
    error_notes=DECISION_ERRORS,
    notes="The party joins the line at the place its register's acceptance gave it, then the "
    "line is settled: result `registered`, `waitlisted` with its `position`, or `denied` "
    "(NO_APPLICATION; EVENT_FULL when it would wait and the waitlist is off, the application "
    "then staying pending). Seats already given are never taken back.",
)
def approve(event_id: str, user_id: str) -> Response:
    return path_command("approve", event_id, user_id)


@route(
    bp,
    "POST",
    "/events/<event_id>/applications/<user_id>/reject",
    operation_id="rejectApplication",
    access=Access.ADMIN,
    summary="Reject an application (command)",
    replies=(path_command_reply("reject"),),
    body=OfferReply,
    body_required=False,
    params=(EVENT_ID, USER_ID, IDEMPOTENCY_KEY),
    error_notes=DECISION_ERRORS,
    notes="Result `rejected` (the applicant leaves), or `denied`/NO_APPLICATION.",
)
def reject(event_id: str, user_id: str) -> Response:
    return path_command("reject", event_id, user_id)
