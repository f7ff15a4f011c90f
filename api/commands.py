"""Asynchronous commands: register and unregister return a pending ticket at once (202);
`GET /tickets/{id}?wait=N` long-polls for its result."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from typing import Any

import redis
from flask import Blueprint, Response, g, jsonify, request, url_for

from api.auth import current_principal
from api.body import ID, checked_id, json_object, validate
from api.command_schemas import RegisterRequest, TicketQuery
from api.context import ctx
from api.errors import not_found
from api.idempotency import claim_request
from models import db, idempotency, tickets
from models.errors import EventNotFound, UserNotFound
from tessera.messaging import ticket_channel

bp = Blueprint("commands", __name__)

DB_POLL_SECONDS = 0.1


def rfc3339(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ticket_json(view: tickets.TicketView) -> dict[str, Any]:
    return {
        "ticketId": view.ticket_id,
        "type": view.type,
        "userId": view.user_id,
        "eventId": view.event_id,
        "batchId": view.batch_id,
        "status": view.status,
        "result": view.result,
        "createdAt": rfc3339(view.created_at),
        "completedAt": rfc3339(view.completed_at),
    }


@bp.post("/events/<event_id>/registrations")
def register(event_id: str) -> Response:
    checked_id(event_id, EventNotFound)
    body = json_object()
    command = validate(RegisterRequest, body)
    return _accept(tickets.NewTicket("register", command.user_id, event_id), body)


@bp.delete("/events/<event_id>/registrations/<user_id>")
def unregister(event_id: str, user_id: str) -> Response:
    checked_id(event_id, EventNotFound)
    checked_id(user_id, UserNotFound)
    return _accept(tickets.NewTicket("unregister", user_id, event_id), None)


def _accept(ticket: tickets.NewTicket, body: Any) -> Response:
    """Accept the command exactly once (a repeated Idempotency-Key replays the first ticket),
    and answer 202 with the ticket: a fresh one as the insert returned it, a replay as it is
    now."""
    claim = claim_request(body)
    owner = current_principal().owner
    accepted = db.run(
        ctx().sessions,
        lambda session: idempotency.accept_once(
            session,
            claim,
            lambda s: tickets.accept_one(s, ticket, owner),
            resource_id=lambda view: view.ticket_id,
        ),
    )
    replayed = isinstance(accepted, idempotency.Replay)
    view = (
        _read_ticket(accepted.resource_id) if isinstance(accepted, idempotency.Replay) else accepted
    )
    g.ticket_id = view.ticket_id
    response = jsonify(ticket_json(view))
    response.status_code = 202
    response.headers["Location"] = url_for("commands.get_ticket", ticket_id=view.ticket_id)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _read_ticket(ticket_id: str) -> tickets.TicketView:
    """The ticket, if it exists and the caller may see it (a client sees only its own)."""
    view = None
    if ID.fullmatch(ticket_id):  # e.g. a NUL byte: never sent to PostgreSQL
        with ctx().sessions.begin() as session:
            view = tickets.get_ticket(session, ticket_id)
    principal = current_principal()
    if view is None or not (principal.is_admin or view.owner == principal.owner):
        raise not_found("TICKET_NOT_FOUND", f"Ticket {ticket_id!r} does not exist.")
    return view


@bp.get("/tickets/<ticket_id>")
def get_ticket(ticket_id: str) -> Response:
    query = validate(TicketQuery, {k: request.args[k] for k in request.args})
    view = _read_ticket(ticket_id)
    if view.status == "pending" and query.wait:
        view = _wait_until_done(ticket_id, query.wait)
    return jsonify(ticket_json(view))


def _wait_until_done(ticket_id: str, seconds: float) -> tickets.TicketView:
    """Return as soon as the ticket is no longer pending, or after `seconds`.

    Woken by the ticket's Redis channel; the database is re-read after every wake-up and at
    least once a second, and polled on its own if Redis is unreachable."""
    deadline = time.monotonic() + seconds
    pubsub: Any = None
    try:
        pubsub = ctx().redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        pubsub.subscribe(ticket_channel(ticket_id))
    except redis.RedisError:
        pubsub = None
    try:
        while True:
            view = _read_ticket(ticket_id)
            remaining = deadline - time.monotonic()
            if view.status != "pending" or remaining <= 0:
                return view
            if pubsub is not None:
                try:
                    pubsub.get_message(timeout=min(remaining, 1.0))
                    continue
                except redis.RedisError:
                    pubsub = None
            time.sleep(min(remaining, DB_POLL_SECONDS))
    finally:
        if pubsub is not None:
            with contextlib.suppress(redis.RedisError):
                pubsub.close()
