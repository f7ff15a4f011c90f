"""Asynchronous commands: register and unregister return a pending ticket at once (202);
`GET /tickets/{id}?wait=N` long-polls for its result."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from flask import Response, g, request

from api.accepts import AcceptTimeout
from api.auth import current_principal
from api.body import ID, checked_id, json_object, validate
from api.command_schemas import OfferReply, RegisterRequest, Ticket, TicketQuery
from api.context import ctx
from api.errors import ApiError, not_found
from api.idempotency import claim_request
from api.params import EVENT_ID, IDEMPOTENCY_KEY, ULID_PATTERN, USER_ID
from api.routes import Access, Attendee, Param, Reply, Resource, route
from models.domain.errors import DomainError, EventNotFound, UserNotFound
from models.domain.results import rfc3339
from models.storage import tickets
from models.storage.idempotency import Replay
from tessera import tracing

bp = Resource("commands", __name__, tag="commands")

TICKET_ID = Param(
    "ticketId", "path", {"type": "string", "pattern": ULID_PATTERN}, "A ticket id.", True
)
# What a command's 202 carries.
ACCEPTED_HEADERS = ("Location", "Idempotent-Replayed")


def ticket_json(view: tickets.TicketView) -> dict[str, Any]:
    return {
        "ticketId": view.ticket_id,
        "type": view.type,
        "userId": view.user_id,
        "eventId": view.event_id,
        "seats": view.seats,
        "batchId": view.batch_id,
        "status": view.status,
        "result": view.result,
        "createdAt": rfc3339(view.created_at),
        "completedAt": rfc3339(view.completed_at),
    }


@route(
    bp,
    "POST",
    "/events/<event_id>/registrations",
    operation_id="registerForEvent",
    access=Access.CLIENT,
    attendee=Attendee.BODY_USER,
    summary="Register a user (command)",
    replies=(
        Reply(
            202,
            "Accepted: a pending ticket (or, replayed, the ticket's current state).",
            Ticket,
            headers=ACCEPTED_HEADERS,
        ),
    ),
    body=RegisterRequest,
    params=(EVENT_ID, IDEMPOTENCY_KEY),
    error_notes={
        404: "USER_NOT_FOUND or EVENT_NOT_FOUND.",
        409: "IDEMPOTENCY_KEY_IN_FLIGHT.",
        422: "VALIDATION_ERROR or IDEMPOTENCY_KEY_REUSED.",
    },
)
def register(event_id: str) -> Response:
    checked_id(event_id, EventNotFound)
    body = json_object()
    acting_for = current_principal().user_id
    if acting_for is not None and "userId" not in body:
        body = {**body, "userId": acting_for}  # an attendee registers itself
    command = validate(RegisterRequest, body)
    return _accept(tickets.NewTicket("register", command.user_id, event_id, command.seats), body)


@route(
    bp,
    "DELETE",
    "/events/<event_id>/registrations/<user_id>",
    operation_id="unregisterFromEvent",
    access=Access.CLIENT,
    attendee=Attendee.PATH_USER,
    summary="Unregister a user (command)",
    replies=(Reply(202, "Accepted: a pending ticket.", Ticket, headers=ACCEPTED_HEADERS),),
    params=(EVENT_ID, USER_ID, IDEMPOTENCY_KEY),
    error_notes={
        404: "USER_NOT_FOUND or EVENT_NOT_FOUND.",
        409: "IDEMPOTENCY_KEY_IN_FLIGHT.",
        422: "IDEMPOTENCY_KEY_REUSED, or a malformed Idempotency-Key.",
    },
)
def unregister(event_id: str, user_id: str) -> Response:
    checked_id(event_id, EventNotFound)
    checked_id(user_id, UserNotFound)
    return _accept(tickets.NewTicket("unregister", user_id, event_id), None)


OFFER_ERRORS = {
    404: "USER_NOT_FOUND or EVENT_NOT_FOUND.",
    409: "IDEMPOTENCY_KEY_IN_FLIGHT.",
    422: "VALIDATION_ERROR (a body other than {}) or IDEMPOTENCY_KEY_REUSED.",
}


def path_command_reply(kind: tickets.CommandType) -> Reply:
    return Reply(
        202,
        f"Accepted: a pending ticket of type {kind} (or, replayed, the ticket's current state).",
        Ticket,
        headers=ACCEPTED_HEADERS,
    )


@route(
    bp,
    "POST",
    "/events/<event_id>/offers/<user_id>/accept",
    operation_id="acceptOffer",
    access=Access.CLIENT,
    attendee=Attendee.PATH_USER,
    summary="Accept an offer (command)",
    replies=(path_command_reply("accept_offer"),),
    body=OfferReply,
    body_required=False,
    params=(EVENT_ID, USER_ID, IDEMPOTENCY_KEY),
    error_notes=OFFER_ERRORS,
    notes="Result `registered` (the party takes its seats), or `denied`/NO_OPEN_OFFER. "
    "Accepted strictly before the offer's end, it wins even if applied later.",
)
def accept_offer(event_id: str, user_id: str) -> Response:
    return path_command("accept_offer", event_id, user_id)


@route(
    bp,
    "POST",
    "/events/<event_id>/offers/<user_id>/decline",
    operation_id="declineOffer",
    access=Access.CLIENT,
    attendee=Attendee.PATH_USER,
    summary="Decline an offer (command)",
    replies=(path_command_reply("decline_offer"),),
    body=OfferReply,
    body_required=False,
    params=(EVENT_ID, USER_ID, IDEMPOTENCY_KEY),
    error_notes=OFFER_ERRORS,
    notes="Result `declined` (the seats are settled again), or `denied`/NO_OPEN_OFFER.",
)
def decline_offer(event_id: str, user_id: str) -> Response:
    return path_command("decline_offer", event_id, user_id)


def path_command(kind: tickets.CommandType, event_id: str, user_id: str) -> Response:
    """A command all in its path (offer replies, approval decisions): no body, or `{}`."""
    checked_id(event_id, EventNotFound)
    checked_id(user_id, UserNotFound)
    body = json_object() if request.get_data(cache=True) else None
    if body is not None:
        validate(OfferReply, body)
    return _accept(tickets.NewTicket(kind, user_id, event_id), body)


def _accept(ticket: tickets.NewTicket, body: Any) -> Response:
    """Accept the command exactly once (a repeated Idempotency-Key replays the first ticket),
    and answer 202 with the ticket: a fresh one as the insert returned it, a replay as it is
    now. The command joins this process's next group commit (`api.accepts`)."""
    accept = tickets.Accept(
        ticket,
        current_principal().owner,
        claim_request(body),
        trace_context=tracing.current_trace_context(),
    )
    try:
        outcome = ctx().accepts.accept(accept)
    except AcceptTimeout:
        raise ApiError(
            503,
            "NOT_READY",
            "The database is not answering; retry shortly.",
            headers={"Retry-After": "1"},
        ) from None
    if isinstance(outcome, DomainError):
        raise outcome
    replayed = isinstance(outcome, Replay)
    view = _read_ticket(outcome.resource_id) if isinstance(outcome, Replay) else outcome
    if not replayed:
        ctx().listener.recent.accepted(view)
    g.ticket_id = view.ticket_id
    response = _ticket_response(view, 202)
    response.headers["Location"] = f"/tickets/{view.ticket_id}"  # a ULID: nothing to escape
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _read_ticket(ticket_id: str) -> tickets.TicketView:
    """The ticket, if it exists and the caller may see it (a client sees only its own)."""
    view = None
    if ID.fullmatch(ticket_id):  # e.g. a NUL byte: never sent to PostgreSQL
        with ctx().sessions.begin() as session:
            view = tickets.get_ticket(session, ticket_id)
    if view is None or not _visible(view):
        raise not_found("TICKET_NOT_FOUND", f"Ticket {ticket_id!r} does not exist.")
    return view


def _visible(view: tickets.TicketView) -> bool:
    principal = current_principal()
    return principal.is_admin or view.owner == principal.owner


@route(
    bp,
    "GET",
    "/tickets/<ticket_id>",
    operation_id="getTicket",
    access=Access.CLIENT,
    attendee=Attendee.ANY,
    summary="Get a ticket (optionally waiting for its result)",
    replies=(Reply(200, "The ticket.", Ticket),),
    params=(
        TICKET_ID,
        Param(
            "wait",
            "query",
            {"type": "number", "minimum": 0, "maximum": 30},
            "Seconds to wait for the ticket to leave `pending`.",
        ),
    ),
    errors=(404, 422),
    notes="A client key sees only the tickets it created (others are 404).",
)
def get_ticket(ticket_id: str) -> Response:
    query = validate(TicketQuery, {k: request.args[k] for k in request.args})
    if not query.wait:
        return _ticket_response(_read_ticket(ticket_id))
    # Registered before the read, so that a completion between the two is not missed. A ticket
    # this process accepted a moment ago need not be read: it is pending, or its completion is
    # known (the listener remembers recent ones, and polls the database for the rest).
    listener = ctx().listener
    with listener.waiting_for_ticket(ticket_id) as waiter:
        view = listener.recent.view(ticket_id)
        if view is None or not _visible(view):
            view = _read_ticket(ticket_id)
        if view.status == "pending":
            outcome = waiter.wait(query.wait)
            if outcome is not None:
                view = replace(
                    view,
                    status=outcome.status,
                    result=outcome.result,
                    completed_at=outcome.completed_at,
                )
    return _ticket_response(view)


def _ticket_response(view: tickets.TicketView, status: int = 200) -> Response:
    # the hot path of every command and long-poll: json.dumps straight into the response
    body = json.dumps(ticket_json(view), separators=(",", ":"))
    return Response(body, status=status, mimetype="application/json")
