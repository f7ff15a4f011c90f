"""The OpenAPI 3.1 document of the whole contract, generated from the Pydantic schemas.

Schemas come from the request/response models (`api.schemas`, `api.command_schemas`); the
operations are one table below (`OPERATIONS`), each naming its models, parameters and the
status codes it can answer. Nothing here imports a view, so the document can be built (and
checked against the contract) without a running app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from api import command_schemas as commands
from api import key_schemas as keys
from api import schemas
from api import webhook_schemas as hooks

REF = "#/components/schemas/{model}"
PROBLEM_JSON = "application/problem+json"
JSON = "application/json"
ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"


# --- the table --------------------------------------------------------------------------

Location = Literal["path", "query", "header"]


@dataclass(frozen=True)
class Param:
    name: str
    where: Location
    schema: Mapping[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Reply:
    """A success response: a model (or a list of it), or a raw media type."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    many: bool = False
    media: str = JSON
    headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    replies: tuple[Reply, ...]
    errors: tuple[int, ...]
    body: type[BaseModel] | None = None
    params: tuple[Param, ...] = ()
    public: bool = False
    admin: bool = False
    notes: str = ""
    extra_errors: Mapping[int, str] = field(default_factory=dict)
    body_required: bool = True


USER_ID = Param(
    "userId", "path", schemas.ID_SCHEMA, "A user id. One that breaks the pattern is a 404.", True
)
EVENT_ID = Param(
    "eventId", "path", schemas.ID_SCHEMA, "An event id. One that breaks the pattern is a 404.", True
)
TICKET_ID = Param(
    "ticketId", "path", {"type": "string", "pattern": ULID_PATTERN}, "A ticket id.", True
)
BATCH_ID = Param(
    "batchId", "path", {"type": "string", "pattern": ULID_PATTERN}, "A batch id.", True
)
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    {"type": "string", "pattern": r"^[\x20-\x7E]{1,255}$", "minLength": 1, "maxLength": 255},
    "Makes the request safe to retry: the same key and the same request within 24 h answer "
    "202 again with the same ticket/batch (header Idempotent-Replayed: true) and accept "
    "nothing new. Scoped per API key.",
)


def limit(maximum: int, default: int) -> Param:
    return Param(
        "limit",
        "query",
        {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
        "Page size.",
    )


def cursor(pattern: str, form: str) -> Param:
    return Param(
        "cursor",
        "query",
        {"type": "string", "pattern": pattern},
        f"The `nextCursor` of the previous page: {form}. Pass it back as it came; any cursor "
        "of this form names a position, and the page continues strictly after it.",
    )


EVENT_CURSOR = cursor(
    schemas.EVENT_CURSOR_PATTERN,
    "the last event's `createdAt` in microseconds since the epoch, a dot, its `eventId`",
)
TICKET_CURSOR = cursor(commands.TICKET_CURSOR_PATTERN, "the last ticket's place in the batch")
WEBHOOK_ID = Param(
    "webhookId",
    "path",
    {"type": "string", "pattern": hooks.WEBHOOK_ID_PATTERN},
    "A subscription id. One that breaks the pattern is a 404.",
    True,
)
DELIVERY_ID = Param(
    "deliveryId",
    "path",
    {"type": "string", "pattern": hooks.DELIVERY_ID_PATTERN},
    "A delivery id (from the delivery log). One that breaks the pattern is a 404.",
    True,
)
DELIVERY_CURSOR = cursor(
    hooks.DELIVERY_CURSOR_PATTERN,
    "the last delivery's `deliveryId` (the page goes on with older ones)",
)
WEBHOOK_MISSING = {404: "WEBHOOK_NOT_FOUND."}
KEY_ID = Param(
    "keyId",
    "path",
    {"type": "string", "pattern": keys.KEY_ID_PATTERN},
    "A key id (from `POST /keys` or `GET /keys`). One that breaks the pattern is a 404.",
    True,
)

# The statuses nearly every operation can answer, and those of operations that take a body.
COMMON = (401, 429, 500)
WITH_BODY = (413, 415, 422)

OPERATIONS: tuple[Operation, ...] = (
    # users
    Operation(
        "post",
        "/users",
        "Create a user",
        "users",
        (Reply(201, "The user.", schemas.User, headers=("Location",)),),
        (*COMMON, 403, 409, *WITH_BODY),
        body=schemas.UserCreate,
        admin=True,
        extra_errors={409: "DUPLICATE_USER: the userId is taken."},
    ),
    Operation(
        "get",
        "/users/{userId}",
        "Get a user",
        "users",
        (Reply(200, "The user.", schemas.User),),
        (*COMMON, 404),
        params=(USER_ID,),
    ),
    Operation(
        "put",
        "/users/{userId}",
        "Rename a user",
        "users",
        (Reply(200, "The user.", schemas.User),),
        (*COMMON, 403, 404, *WITH_BODY),
        body=schemas.UserUpdate,
        params=(USER_ID,),
        admin=True,
    ),
    Operation(
        "delete",
        "/users/{userId}",
        "Delete a user",
        "users",
        (Reply(204, "Deleted."),),
        (*COMMON, 403, 404),
        params=(USER_ID,),
        admin=True,
        notes="The user leaves every event first; each freed seat goes to that event's "
        "waitlist head in the same transaction.",
    ),
    Operation(
        "get",
        "/users/{userId}/registrations",
        "Events where the user holds a seat",
        "users",
        (Reply(200, "Oldest seat first.", schemas.UserRegistration, many=True),),
        (*COMMON, 404),
        params=(USER_ID,),
    ),
    Operation(
        "get",
        "/users/{userId}/offers",
        "Open offers made to the user",
        "users",
        (Reply(200, "The one ending soonest first.", schemas.OfferOut, many=True),),
        (*COMMON, 404),
        params=(USER_ID,),
    ),
    Operation(
        "get",
        "/users/{userId}/waitlists",
        "Waitlists the user is on, with positions",
        "users",
        (Reply(200, "Oldest first.", schemas.UserWaitlisting, many=True),),
        (*COMMON, 404),
        params=(USER_ID,),
    ),
    # events
    Operation(
        "post",
        "/events",
        "Create an event",
        "events",
        (Reply(201, "The event.", schemas.Event, headers=("Location",)),),
        (*COMMON, 403, 409, *WITH_BODY),
        body=schemas.EventCreate,
        admin=True,
        notes="Without `eventId` the server generates one (`evt_` and a lower-case ULID).",
        extra_errors={409: "DUPLICATE_EVENT: the eventId is taken."},
    ),
    Operation(
        "get",
        "/events",
        "List events",
        "events",
        (Reply(200, "A page, ordered by createdAt then eventId.", schemas.EventPage),),
        (*COMMON, 422),
        params=(
            Param("status", "query", schemas.TEXT_SCHEMA, "Only events with exactly this status."),
            limit(schemas.MAX_PAGE_SIZE, schemas.DEFAULT_PAGE_SIZE),
            EVENT_CURSOR,
        ),
    ),
    Operation(
        "get",
        "/events/{eventId}",
        "Get an event",
        "events",
        (Reply(200, "The event.", schemas.Event),),
        (*COMMON, 404),
        params=(EVENT_ID,),
    ),
    Operation(
        "put",
        "/events/{eventId}",
        "Change an event (partial)",
        "events",
        (Reply(200, "The event, promoted users already seated.", schemas.Event),),
        (*COMMON, 403, 404, 409, *WITH_BODY),
        body=schemas.EventUpdate,
        params=(EVENT_ID,),
        admin=True,
        notes="Only the fields given change. A capacity raise promotes waitlisters at once "
        "(FIFO); turning waitlistEnabled off keeps those already waiting.",
        extra_errors={
            409: "CAPACITY_BELOW_REGISTERED (below the seats taken and offered), or "
            "CAPACITY_BELOW_PARTY_SIZE.",
            422: "VALIDATION_ERROR, e.g. maxPartySize above the capacity, or a registration "
            "window that opens at or after it closes.",
        },
    ),
    Operation(
        "delete",
        "/events/{eventId}",
        "Delete an event",
        "events",
        (Reply(204, "Deleted, with its registrations and waitlist."),),
        (*COMMON, 403, 404),
        params=(EVENT_ID,),
        admin=True,
    ),
    Operation(
        "get",
        "/events/{eventId}/registrations",
        "Seated users",
        "events",
        (Reply(200, "In the order seats were taken.", schemas.EventRegistration, many=True),),
        (*COMMON, 404),
        params=(EVENT_ID,),
    ),
    Operation(
        "post",
        "/events/{eventId}/registrations",
        "Register a user (command)",
        "commands",
        (
            Reply(
                202,
                "Accepted: a pending ticket (or, replayed, the ticket's current state).",
                commands.Ticket,
                headers=("Location", "Idempotent-Replayed"),
            ),
        ),
        (*COMMON, 404, 409, *WITH_BODY),
        body=commands.RegisterRequest,
        params=(EVENT_ID, IDEMPOTENCY_KEY),
        extra_errors={
            404: "USER_NOT_FOUND or EVENT_NOT_FOUND.",
            409: "IDEMPOTENCY_KEY_IN_FLIGHT.",
            422: "VALIDATION_ERROR or IDEMPOTENCY_KEY_REUSED.",
        },
    ),
    Operation(
        "get",
        "/events/{eventId}/waitlist",
        "Waiting users",
        "events",
        (Reply(200, "Positions 1..n, contiguous.", schemas.WaitlistEntry, many=True),),
        (*COMMON, 404),
        params=(EVENT_ID,),
    ),
    Operation(
        "get",
        "/events/{eventId}/registrations/{userId}",
        "Where a user stands at an event",
        "events",
        (
            Reply(
                200,
                "Seated (position null), waiting, or offered seats until expiresAt.",
                schemas.Standing,
            ),
        ),
        (*COMMON, 404),
        params=(EVENT_ID, USER_ID),
        extra_errors={404: "EVENT_NOT_FOUND, or REGISTRATION_NOT_FOUND if neither."},
    ),
    Operation(
        "get",
        "/events/{eventId}/offers",
        "Open offers",
        "events",
        (Reply(200, "In the order they were made.", schemas.OfferOut, many=True),),
        (*COMMON, 404),
        params=(EVENT_ID,),
    ),
    *(
        Operation(
            "post",
            f"/events/{{eventId}}/offers/{{userId}}/{verb}",
            f"{verb.capitalize()} an offer (command)",
            "commands",
            (
                Reply(
                    202,
                    "Accepted: a pending ticket of type "
                    f"{verb}_offer (or, replayed, the ticket's current state).",
                    commands.Ticket,
                    headers=("Location", "Idempotent-Replayed"),
                ),
            ),
            (*COMMON, 404, 409, *WITH_BODY),
            body=commands.OfferReply,
            body_required=False,
            params=(EVENT_ID, USER_ID, IDEMPOTENCY_KEY),
            notes=note,
            extra_errors={
                404: "USER_NOT_FOUND or EVENT_NOT_FOUND.",
                409: "IDEMPOTENCY_KEY_IN_FLIGHT.",
                422: "VALIDATION_ERROR (a body other than {}) or IDEMPOTENCY_KEY_REUSED.",
            },
        )
        for verb, note in (
            (
                "accept",
                "Result `registered` (the party takes its seats), or `denied`/NO_OPEN_OFFER. "
                "Accepted strictly before the offer's end, it wins even if applied later.",
            ),
            (
                "decline",
                "Result `declined` (the seats are settled again), or `denied`/NO_OPEN_OFFER.",
            ),
        )
    ),
    Operation(
        "get",
        "/events/{eventId}/ledger",
        "The event's ledger (verifiable history)",
        "events",
        (Reply(200, "Entries in index order, each as it was hashed.", schemas.LedgerPage),),
        (*COMMON, 404, 422),
        params=(
            EVENT_ID,
            Param(
                "after",
                "query",
                {"type": "integer", "minimum": 0, "maximum": schemas.MAX_CAPACITY, "default": 0},
                "Entries with an index above this (the previous page's `nextAfter`).",
            ),
            limit(schemas.MAX_LEDGER_PAGE, 100),
        ),
        notes="Every change to the event's seats and line, hash-chained: see docs/LEDGER.md "
        "and `tessera verify`.",
    ),
    Operation(
        "delete",
        "/events/{eventId}/registrations/{userId}",
        "Unregister a user (command)",
        "commands",
        (
            Reply(
                202,
                "Accepted: a pending ticket.",
                commands.Ticket,
                headers=("Location", "Idempotent-Replayed"),
            ),
        ),
        (*COMMON, 404, 409, 422),
        params=(EVENT_ID, USER_ID, IDEMPOTENCY_KEY),
        extra_errors={
            404: "USER_NOT_FOUND or EVENT_NOT_FOUND.",
            409: "IDEMPOTENCY_KEY_IN_FLIGHT.",
            422: "IDEMPOTENCY_KEY_REUSED, or a malformed Idempotency-Key.",
        },
    ),
    Operation(
        "get",
        "/events/{eventId}/updates",
        "Stream of the event's status changes",
        "commands",
        (
            Reply(
                200,
                "Server-sent events: `event:` ticket.completed, registration.promoted, "
                "offer.made, offer.accepted, offer.declined or offer.expired, "
                "`data:` one JSON object, `id:` increasing; a comment every 15 s.",
                media="text/event-stream",
            ),
        ),
        (*COMMON, 404, 422, 503),
        params=(
            EVENT_ID,
            Param(
                "Last-Event-ID",
                "header",
                {"type": "string", "pattern": "^[0-9]{1,18}$"},
                "Resume after this id (updates of the last hour are kept).",
            ),
        ),
        notes="A stream ends after a few minutes; EventSource reconnects with Last-Event-ID "
        "and misses nothing.",
        extra_errors={503: "NOT_READY: too many open streams on this server; retry."},
    ),
    # tickets and batches
    Operation(
        "get",
        "/tickets/{ticketId}",
        "Get a ticket (optionally waiting for its result)",
        "commands",
        (Reply(200, "The ticket.", commands.Ticket),),
        (*COMMON, 404, 422),
        params=(
            TICKET_ID,
            Param(
                "wait",
                "query",
                {"type": "number", "minimum": 0, "maximum": 30},
                "Seconds to wait for the ticket to leave `pending`.",
            ),
        ),
        notes="A client key sees only the tickets it created (others are 404).",
    ),
    Operation(
        "post",
        "/batches",
        "Submit a batch of commands",
        "commands",
        (
            Reply(
                202,
                "Accepted: ticketIds in item order.",
                commands.BatchAccepted,
                headers=("Location", "Idempotent-Replayed"),
            ),
        ),
        (*COMMON, 409, *WITH_BODY),
        body=commands.BatchRequest,
        params=(IDEMPOTENCY_KEY,),
        notes="A malformed item fails the whole batch (each bad item listed); an item naming "
        "an unknown user or event is accepted and its ticket denied.",
        extra_errors={
            409: "IDEMPOTENCY_KEY_IN_FLIGHT.",
            422: "VALIDATION_ERROR (each bad item listed) or IDEMPOTENCY_KEY_REUSED.",
        },
    ),
    Operation(
        "get",
        "/batches/{batchId}",
        "Get a batch's progress",
        "commands",
        (Reply(200, "Counts by ticket status and result.", commands.Batch),),
        (*COMMON, 404),
        params=(BATCH_ID,),
    ),
    Operation(
        "get",
        "/batches/{batchId}/tickets",
        "A batch's tickets",
        "commands",
        (Reply(200, "A page of tickets in item order.", commands.TicketPage),),
        (*COMMON, 404, 422),
        params=(
            BATCH_ID,
            limit(commands.MAX_TICKET_PAGE, commands.DEFAULT_TICKET_PAGE),
            TICKET_CURSOR,
        ),
    ),
    # webhooks
    # API keys made at run time
    Operation(
        "post",
        "/keys",
        "Make an API key",
        "keys",
        (
            Reply(
                201,
                "The key, with its secret (shown only here; only its digest is kept).",
                keys.KeyCreated,
                headers=("Location", "Cache-Control"),
            ),
        ),
        (*COMMON, 403, *WITH_BODY),
        body=keys.KeyCreate,
        admin=True,
        notes="The new key works on every API process within 2 s (at once on this one). Keys "
        "from TESSERA_API_KEYS are configuration: never listed or deleted here.",
    ),
    Operation(
        "get",
        "/keys",
        "List the keys made here",
        "keys",
        (Reply(200, "Oldest first; no secrets.", keys.KeyList),),
        (*COMMON, 403),
        admin=True,
    ),
    Operation(
        "delete",
        "/keys/{keyId}",
        "Revoke a key",
        "keys",
        (Reply(204, "Revoked: refused (401) by every API process within 2 s."),),
        (*COMMON, 403, 404),
        params=(KEY_ID,),
        admin=True,
        extra_errors={404: "KEY_NOT_FOUND."},
    ),
    Operation(
        "post",
        "/webhooks",
        "Subscribe a URL to status updates",
        "webhooks",
        (
            Reply(
                201,
                "The subscription, with its secret (shown only here).",
                hooks.WebhookCreated,
                headers=("Location", "Cache-Control"),
            ),
        ),
        (*COMMON, 403, *WITH_BODY, 503),
        body=hooks.WebhookCreate,
        admin=True,
        notes="Every status update of a type named in `events` (SSE types, or `*`) is POSTed "
        "to `url` as JSON `{type, timestamp, data}` with the Standard Webhooks headers "
        "`webhook-id` (the same on every retry), `webhook-timestamp` and `webhook-signature` "
        "(`v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with the base64-"
        "decoded secret after `whsec_`). A 2xx within 10 s is delivered; anything else is "
        "retried with backoff (TESSERA_WEBHOOK_RETRY_SCHEDULE), then failed. At least once; "
        "arrival order is not promised.",
        extra_errors={
            422: "VALIDATION_ERROR: `errors` lists each bad field; a `url` that is not http(s) "
            "or whose host does not resolve, or resolves to a loopback, private or link-local "
            "address (unless TESSERA_WEBHOOK_ALLOW_PRIVATE=1), names `url`.",
            503: "NOT_READY: the server has no TESSERA_WEBHOOK_KEY to seal secrets with.",
        },
    ),
    Operation(
        "get",
        "/webhooks",
        "List the subscriptions",
        "webhooks",
        (Reply(200, "Oldest first; no secrets.", hooks.WebhookList),),
        (*COMMON, 403),
        admin=True,
    ),
    Operation(
        "get",
        "/webhooks/{webhookId}",
        "Get a subscription",
        "webhooks",
        (Reply(200, "The subscription (no secret).", hooks.Webhook),),
        (*COMMON, 403, 404),
        params=(WEBHOOK_ID,),
        admin=True,
        extra_errors=WEBHOOK_MISSING,
    ),
    Operation(
        "delete",
        "/webhooks/{webhookId}",
        "Delete a subscription",
        "webhooks",
        (Reply(204, "Deleted, with its delivery log; nothing more is sent."),),
        (*COMMON, 403, 404),
        params=(WEBHOOK_ID,),
        admin=True,
        extra_errors=WEBHOOK_MISSING,
    ),
    Operation(
        "get",
        "/webhooks/{webhookId}/deliveries",
        "A subscription's delivery log",
        "webhooks",
        (Reply(200, "A page of deliveries, newest first.", hooks.DeliveryPage),),
        (*COMMON, 403, 404, 422),
        params=(
            WEBHOOK_ID,
            limit(schemas.MAX_PAGE_SIZE, schemas.DEFAULT_PAGE_SIZE),
            DELIVERY_CURSOR,
        ),
        admin=True,
        notes="Delivered and failed deliveries are kept for 7 days.",
        extra_errors=WEBHOOK_MISSING,
    ),
    Operation(
        "post",
        "/webhooks/{webhookId}/deliveries/{deliveryId}/retry",
        "Send a delivery again",
        "webhooks",
        (Reply(202, "The delivery, pending: it is sent again shortly.", hooks.Delivery),),
        (*COMMON, 403, 404),
        params=(WEBHOOK_ID, DELIVERY_ID),
        admin=True,
        notes="Whatever its status, with the same `webhook-id` and the whole retry schedule "
        "ahead of it. Retrying a delivery of a disabled subscription enables it again.",
        extra_errors={404: "WEBHOOK_NOT_FOUND: no such subscription, or no such delivery of it."},
    ),
    # operations
    Operation(
        "get",
        "/health",
        "Health of the API and its servers",
        "operations",
        (
            Reply(200, "PostgreSQL and Redis answer.", schemas.Health),
            Reply(503, "One of them does not.", schemas.Health),
        ),
        (500,),
        public=True,
    ),
    Operation(
        "get",
        "/live",
        "Liveness",
        "operations",
        (Reply(200, "The process serves requests.", schemas.Liveness),),
        (500,),
        public=True,
    ),
    Operation(
        "get",
        "/ready",
        "Readiness",
        "operations",
        (Reply(200, "PostgreSQL and Redis answer.", schemas.Liveness),),
        (500, 503),
        public=True,
        extra_errors={503: "NOT_READY."},
    ),
    Operation(
        "get",
        "/metrics",
        "Prometheus metrics (API requests, worker counters, queue lag)",
        "operations",
        (Reply(200, "Prometheus text exposition format.", media="text/plain"),),
        COMMON,
    ),
    Operation(
        "get",
        "/openapi.json",
        "This document",
        "operations",
        (Reply(200, "OpenAPI 3.1.", media="application/json"),),
        (500,),
        public=True,
    ),
    Operation(
        "get",
        "/docs",
        "Swagger UI",
        "operations",
        (Reply(200, "An HTML page.", media="text/html"),),
        (500,),
        public=True,
    ),
    Operation(
        "get",
        "/console",
        "The operator console (an HTML page; it signs in with a key and calls this API)",
        "operations",
        (Reply(200, "An HTML page.", media="text/html"),),
        (500,),
        public=True,
    ),
)

ERROR_DESCRIPTIONS = {
    401: "UNAUTHORIZED: no or unknown API key, or an attendee token that fails verification.",
    403: "FORBIDDEN: this needs an admin key.",
    404: "Not found (USER_NOT_FOUND, EVENT_NOT_FOUND, TICKET_NOT_FOUND, BATCH_NOT_FOUND).",
    409: "Conflict.",
    413: "PAYLOAD_TOO_LARGE.",
    415: "UNSUPPORTED_MEDIA_TYPE: the body must be application/json.",
    422: "VALIDATION_ERROR: `errors` lists each bad field.",
    429: "RATE_LIMITED: retry after `Retry-After` seconds.",
    500: "INTERNAL: nothing about the cause is disclosed.",
    503: "NOT_READY.",
}

ATTENDEE_FORBIDDEN = (
    "FORBIDDEN: an attendee token may not make this call, or made it for another user "
    "(nothing changed)."
)

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id (the client's X-Request-ID if well-formed), also in "
        "problem bodies as requestId.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Location": {"description": "Where the resource can be read.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this answer replays an earlier request with the same "
        "Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "WWW-Authenticate": {"description": "The Bearer challenge.", "schema": {"type": "string"}},
    "Cache-Control": {
        "description": "`no-store`: the answer carries a secret.",
        "required": True,
        "schema": {"type": "string", "enum": ["no-store"]},
    },
}


# --- building ---------------------------------------------------------------------------


def _models() -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    found: dict[type[BaseModel], JsonSchemaMode] = {schemas.Problem: "serialization"}
    for op in OPERATIONS:
        if op.body is not None:
            found[op.body] = "validation"
        for reply in op.replies:
            if reply.model is not None:
                found[reply.model] = "serialization"
    return list(found.items())


def _tidy(node: Any, *, in_properties: bool = False) -> Any:
    """Drop what Pydantic adds but a reader does not need: auto-generated `title`s ("Userid")
    and `default: null` on fields of partial updates (null is refused there)."""
    if isinstance(node, dict):
        tidy: dict[str, Any] = {}
        for key, value in node.items():
            if not in_properties and (key == "title" or (key == "default" and value is None)):
                continue
            tidy[key] = _tidy(value, in_properties=key == "properties" and not in_properties)
        return tidy
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    return node


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _header_refs(names: Sequence[str]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in ("X-Request-ID", *names)}


def _reply(reply: Reply) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": reply.description,
        "headers": _header_refs(reply.headers),
    }
    if reply.status == 204:
        return answer
    if reply.model is not None:
        schema: dict[str, Any] = _ref(reply.model)
        if reply.many:
            schema = {"type": "array", "items": schema}
    else:
        schema = {"type": "string"} if reply.media != JSON else {"type": "object"}
    answer["content"] = {reply.media: {"schema": schema}}
    return answer


def _error(status: int, description: str) -> dict[str, Any]:
    headers: list[str] = []
    if status == 429:
        headers.append("Retry-After")
    if status == 401:
        headers.append("WWW-Authenticate")
    return {
        "description": description,
        "headers": _header_refs(headers),
        "content": {PROBLEM_JSON: {"schema": _ref(schemas.Problem)}},
    }


def _operation(op: Operation) -> dict[str, Any]:
    description = op.notes
    if op.admin:
        description = (description + "\n\n" if description else "") + "Needs an admin key."
    built: dict[str, Any] = {
        "operationId": _operation_id(op),
        "summary": op.summary,
        "tags": [op.tag],
    }
    if description:
        built["description"] = description
    if op.public:
        built["security"] = []
    if op.params:
        built["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required,
                "description": p.description,
                "schema": dict(p.schema),
            }
            for p in op.params
        ]
    if op.body is not None:
        built["requestBody"] = {
            "required": op.body_required,
            "content": {JSON: {"schema": _ref(op.body)}},
        }
    responses: dict[str, Any] = {str(r.status): _reply(r) for r in op.replies}
    # Any call may be one an attendee token may not make (or makes for another user).
    errors = set(op.errors) if op.public else {*op.errors, 403}
    for status in sorted(errors):
        text = op.extra_errors.get(status, ERROR_DESCRIPTIONS[status])
        if status == 403 and not op.admin:
            text = op.extra_errors.get(status, ATTENDEE_FORBIDDEN)
        responses[str(status)] = _error(status, text)
    built["responses"] = dict(sorted(responses.items()))
    return built


def _operation_id(op: Operation) -> str:
    words = [w.strip("{}") for w in op.path.strip("/").replace(".", "/").split("/") if w]
    return op.method + "".join(w[:1].upper() + w[1:] for w in words)


def build() -> dict[str, Any]:
    """The whole document (a new dict each call; the docs blueprint caches it)."""
    _, definitions = models_json_schema(_models(), by_alias=True, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tessera",
            "version": "1.0.0",
            "summary": "Event registration with capacity and waitlists.",
            "description": "Users and events are read and changed synchronously; "
            "registering and unregistering are commands answered at once with a ticket "
            "(202) and applied by workers in acceptance order per event. Every error is "
            "application/problem+json (RFC 9457).",
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "users"},
            {"name": "events"},
            {"name": "commands", "description": "Asynchronous commands, tickets and batches."},
            {"name": "webhooks", "description": "Signed status updates POSTed to your URLs."},
            {"name": "keys", "description": "API keys made at run time (admin keys)."},
            {"name": "operations"},
        ],
        "paths": paths,
        "components": {
            "schemas": _tidy(definitions.get("$defs", {})),
            "headers": HEADERS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (role admin or client) from "
                    "TESSERA_API_KEYS or made with POST /keys; or, where the operator set "
                    "TESSERA_JWT_ISSUER/AUDIENCE/JWKS_URL, an attendee token: a JWT (RS256, "
                    "ES256 or EdDSA) from the organizer's identity provider, acting only for "
                    "the user its user claim names (see docs/API.md).",
                }
            },
        },
    }
