"""Asynchronous commands: register and unregister return a pending ticket at once (202);
`GET /tickets/{id}?wait=N` long-polls for its result."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Blueprint, Response, jsonify, request, url_for
from sqlalchemy.orm import Session

from api import idempotency
from api.auth import current_principal
from api.body import checked_id, json_object, validate
from api.command_schemas import RegisterRequest, TicketQuery
from api.context import ctx
from api.errors import not_found
from models import tickets
from models.errors import EventNotFound, UserNotFound
from models.identity import ID_PATTERN
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


Accept = Callable[[Session], tuple[str, list[str]]]
Render = Callable[[str, bool], Response]


def submit(body: Any, accept: Accept, render: Render) -> Response:
    """Accept a command exactly once: in ONE transaction, claim the Idempotency-Key (if any)
    and run `accept` (it returns the new resource id and the events to wake); wake the events
    after commit, and render. A replay renders the earlier resource without accepting anything.
    A request that is refused, or whose process or database dies before the commit, leaves no
    claim behind: the same key works again at once."""
    key = idempotency.key_from_request()
    replay_of: str | None = None
    with ctx().sessions.begin() as session:
        claim = None
        if key is not None:
            claim = idempotency.claim(
                session,
                current_principal().owner,
                key,
                idempotency.fingerprint(request.method, request.path, body),
            )
            replay_of = claim.replay_of
        if replay_of is None:
            resource_id, event_ids = accept(session)
            if claim is not None:
                idempotency.bind(session, claim, resource_id)
    if replay_of is not None:
        return render(replay_of, True)
    ctx().waker.wake(event_ids)
    return render(resource_id, False)


def _submit_single(
    ticket_type: tickets.CommandType, user_id: str, event_id: str, body: Any
) -> Response:
    accepted: list[tickets.TicketView] = []

    def accept(session: Session) -> tuple[str, list[str]]:
        command = tickets.NewTicket(ticket_type, user_id, event_id)
        view = tickets.accept_one(session, command, owner=current_principal().owner)
        if view is None:
            _, event_exists = tickets.existing(session, user_id, event_id)
            if not event_exists:
                raise not_found("EVENT_NOT_FOUND", f"Event {event_id!r} does not exist.")
            raise not_found("USER_NOT_FOUND", f"User {user_id!r} does not exist.")
        accepted.append(view)
        return view.ticket_id, [event_id]

    def render(ticket_id: str, replayed: bool) -> Response:
        # A fresh ticket is rendered from what the insert returned; a replay is read back
        # to show its current state.
        view = accepted[0] if accepted and not replayed else _read_ticket(ticket_id)
        response = jsonify(ticket_json(view))
        response.status_code = 202
        response.headers["Location"] = url_for("commands.get_ticket", ticket_id=ticket_id)
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    return submit(body, accept, render)


def _read_ticket(ticket_id: str) -> tickets.TicketView:
    """The ticket, if it exists and the caller may see it (a client sees only its own)."""
    if not re.fullmatch(ID_PATTERN, ticket_id):  # e.g. a NUL byte: never sent to PostgreSQL
        raise not_found("TICKET_NOT_FOUND", f"Ticket {ticket_id!r} does not exist.")
    with ctx().sessions.begin() as session:
        view = tickets.get_ticket(session, ticket_id)
    principal = current_principal()
    if view is None or not (principal.is_admin or view.owner == principal.owner):
        raise not_found("TICKET_NOT_FOUND", f"Ticket {ticket_id!r} does not exist.")
    return view


@bp.post("/events/<event_id>/registrations")
def register(event_id: str) -> Response:
    checked_id(event_id, EventNotFound)
    body = json_object()
    command = validate(RegisterRequest, body)
    return _submit_single("register", command.user_id, event_id, body)


@bp.delete("/events/<event_id>/registrations/<user_id>")
def unregister(event_id: str, user_id: str) -> Response:
    checked_id(event_id, EventNotFound)
    checked_id(user_id, UserNotFound)
    return _submit_single("unregister", user_id, event_id, None)


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
