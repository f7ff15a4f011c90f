"""Batches: up to 10,000 register/unregister commands accepted in one transaction (202), their
progress, and their tickets page by page in item order."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, g, jsonify, url_for

from api import ratelimit
from api.auth import current_principal
from api.body import ID, json_object, parse_query, validate
from api.command_schemas import (
    DEFAULT_TICKET_PAGE,
    MAX_TICKET_PAGE,
    TICKET_CURSOR_PATTERN,
    Batch,
    BatchAccepted,
    BatchRequest,
    BatchResults,
    BatchTicketsQuery,
    TicketPage,
)
from api.commands import ACCEPTED_HEADERS, ticket_json
from api.context import ctx
from api.errors import ApiError, FieldError, not_found, validation_error
from api.idempotency import claim_request
from api.params import IDEMPOTENCY_KEY, ULID_PATTERN, cursor, limit
from api.render import json_response
from api.routes import Access, Param, Reply, Resource, route
from models.storage import batches, db, idempotency, tickets
from tessera import tracing

bp = Resource("batches", __name__, tag="commands")

BATCH_ID = Param(
    "batchId", "path", {"type": "string", "pattern": ULID_PATTERN}, "A batch id.", True
)


def _missing(batch_id: str) -> ApiError:
    return not_found("BATCH_NOT_FOUND", f"Batch {batch_id!r} does not exist.")


def _visible(owner: str | None) -> bool:
    """A client sees only its own batches; anyone else's are answered as unknown (404)."""
    principal = current_principal()
    return owner is not None and (principal.is_admin or owner == principal.owner)


def _checked_batch_id(batch_id: str) -> str:
    if not ID.fullmatch(batch_id):
        raise _missing(batch_id)
    return batch_id


# --- accept -----------------------------------------------------------------------------


@route(
    bp,
    "POST",
    "/batches",
    operation_id="submitBatch",
    access=Access.CLIENT,
    summary="Submit a batch of commands",
    replies=(
        Reply(202, "Accepted: ticketIds in item order.", BatchAccepted, headers=ACCEPTED_HEADERS),
    ),
    body=BatchRequest,
    params=(IDEMPOTENCY_KEY,),
    notes="A malformed item fails the whole batch (each bad item listed); an item naming "
    "an unknown user or event is accepted and its ticket denied.",
    error_notes={
        409: "IDEMPOTENCY_KEY_IN_FLIGHT.",
        422: "VALIDATION_ERROR (each bad item listed) or IDEMPOTENCY_KEY_REUSED.",
    },
)
def create_batch() -> Response:
    body = json_object()
    batch = validate(BatchRequest, body)
    ratelimit.charge_batch(len(batch.items))  # its items cost what single commands would
    items = [tickets.NewTicket(i.type, i.user_id, i.event_id, i.seats or 1) for i in batch.items]
    claim = claim_request(body)
    owner = current_principal().owner
    trace_context = tracing.current_trace_context()
    accepted = db.run(
        ctx().sessions,
        lambda session: idempotency.accept_once(
            session,
            claim,
            lambda s: batches.accept_batch(s, owner, items, trace_context),
            resource_id=lambda created: created.batch_id,
        ),
    )
    if isinstance(accepted, idempotency.Replay):
        # A replay reads the ticket ids back, in item order.
        with ctx().sessions.begin() as session:
            accepted = batches.AcceptedBatch(
                accepted.resource_id, batches.batch_ticket_ids(session, accepted.resource_id)
            )
        replayed = True
    else:
        replayed = False
        g.accepted_tickets = len(accepted.ticket_ids)
    response = json_response(
        BatchAccepted(
            batch_id=accepted.batch_id,
            total=len(accepted.ticket_ids),
            ticket_ids=accepted.ticket_ids,
        ),
        202,
    )
    response.headers["Location"] = url_for("batches.get_batch", batch_id=accepted.batch_id)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# --- read -------------------------------------------------------------------------------


@route(
    bp,
    "GET",
    "/batches/<batch_id>",
    operation_id="getBatch",
    access=Access.CLIENT,
    summary="Get a batch's progress",
    replies=(Reply(200, "Counts by ticket status and result.", Batch),),
    params=(BATCH_ID,),
    errors=(404,),
)
def get_batch(batch_id: str) -> Response:
    with ctx().sessions.begin() as session:
        summary = batches.batch_summary(session, _checked_batch_id(batch_id))
    if summary is None or not _visible(summary.owner):
        raise _missing(batch_id)
    return json_response(
        Batch(
            batch_id=summary.batch_id,
            total=summary.total,
            pending=summary.pending,
            completed=summary.completed,
            failed=summary.failed,
            results=BatchResults.model_validate(summary.results),
        )
    )


@route(
    bp,
    "GET",
    "/batches/<batch_id>/tickets",
    operation_id="listBatchTickets",
    access=Access.CLIENT,
    summary="A batch's tickets",
    replies=(Reply(200, "A page of tickets in item order.", TicketPage),),
    params=(
        BATCH_ID,
        limit(MAX_TICKET_PAGE, DEFAULT_TICKET_PAGE),
        cursor(TICKET_CURSOR_PATTERN, "the last ticket's place in the batch"),
    ),
    errors=(404, 422),
)
def list_batch_tickets(batch_id: str) -> Response:
    query = parse_query(BatchTicketsQuery)
    after = decode_cursor(query.cursor) if query.cursor is not None else None
    with ctx().sessions.begin() as session:
        if not _visible(batches.batch_owner(session, _checked_batch_id(batch_id))):
            raise _missing(batch_id)
        # one more than asked tells whether another page follows, without a count
        page = batches.batch_tickets(session, batch_id, after, query.limit + 1)
    more = len(page) > query.limit
    page = page[: query.limit]
    body: dict[str, Any] = {
        "items": [ticket_json(view) for view in page],
        "nextCursor": encode_cursor(page[-1].seq) if more else None,
    }
    return jsonify(body)


# --- cursors ----------------------------------------------------------------------------

_TICKET_CURSOR = re.compile(TICKET_CURSOR_PATTERN.removeprefix("^").removesuffix("$"))


def encode_cursor(seq: int) -> str:
    """The last ticket's place in the batch (its `seq`): the page after it."""
    return str(seq)


def decode_cursor(cursor: str) -> int:
    """The position a cursor names. Every cursor of the documented form names one (at most 18
    digits, so within `seq`'s BIGINT); anything else is a 422."""
    if _TICKET_CURSOR.fullmatch(cursor) is None:
        raise validation_error([FieldError("cursor", "not a cursor this API issued")])
    return int(cursor)
