"""The OpenAPI 3.1 document of the whole contract, generated from the route table.

Each operation is declared at its view (`api.routes.route`: method, path, role, models,
parameters, statuses); `build` turns those declarations into the document, with the schemas
of their Pydantic models. It needs the operations, not an app (`api.app.route_table()`), so
the document can be built and checked without a running server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from api import schemas
from api.routes import JSON, Access, Attendee, Operation, Reply

REF = "#/components/schemas/{model}"
PROBLEM_JSON = "application/problem+json"

# The statuses every operation can answer; those of an operation that needs a key, an admin
# key, or takes a body. An operation declares only the statuses of its own failures.
ALWAYS = (500,)
WITH_KEY = (401, 429)
WITH_ADMIN_KEY = (403,)
WITH_BODY = (413, 415, 422)

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

# What a 403 means where an attendee token may be refused (an admin operation's 403 is
# ERROR_DESCRIPTIONS'): it may not call the operation at all, or only for its own user.
ATTENDEE_FORBIDDEN = {
    None: "FORBIDDEN: an attendee token may not make this call (nothing changed).",
    Attendee.PATH_USER: "FORBIDDEN: an attendee token acting for another user (nothing changed).",
    Attendee.BODY_USER: "FORBIDDEN: an attendee token acting for another user (nothing changed).",
}
ATTENDEE_NOTES = {
    Attendee.ANY: "Attendee tokens may call it (a ticket: only those of their own commands).",
    Attendee.PATH_USER: "Attendee tokens may call it for their own user only.",
    Attendee.BODY_USER: "Attendee tokens may call it for their own user only (no `userId` "
    "means their own).",
}

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
    "ETag": {
        "description": "A strong tag of the page's bytes, for `If-None-Match`.",
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9a-f]{32}"$'},
    },
    "Cache-Control": {
        "description": "`no-store`: the answer carries a secret.",
        "required": True,
        "schema": {"type": "string", "enum": ["no-store"]},
    },
}


# --- building ---------------------------------------------------------------------------


def _models(operations: Sequence[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    found: dict[type[BaseModel], JsonSchemaMode] = {schemas.Problem: "serialization"}
    for op in operations:
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
    if reply.status in (204, 304):  # no content
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


def _error_statuses(op: Operation) -> list[int]:
    statuses = {*ALWAYS, *op.errors, *op.error_notes}
    if op.access is not Access.PUBLIC:
        statuses.update(WITH_KEY)
    if op.access is Access.ADMIN or (
        op.access is Access.CLIENT and op.attendee is not Attendee.ANY
    ):
        statuses.update(WITH_ADMIN_KEY)
    if op.body is not None:
        statuses.update(WITH_BODY)
    return sorted(statuses)


def _operation(op: Operation) -> dict[str, Any]:
    description = op.notes
    if op.access is Access.ADMIN:
        description = (description + "\n\n" if description else "") + "Needs an admin key."
    elif op.access is Access.CLIENT and op.attendee is not None:
        description = (description + "\n\n" if description else "") + ATTENDEE_NOTES[op.attendee]
    built: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
    }
    if description:
        built["description"] = description
    if op.access is Access.PUBLIC:
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
    for status in _error_statuses(op):
        text = op.error_notes.get(status, ERROR_DESCRIPTIONS[status])
        if status == 403 and op.access is Access.CLIENT and op.attendee is not Attendee.ANY:
            text = op.error_notes.get(status, ATTENDEE_FORBIDDEN[op.attendee])
        responses[str(status)] = _error(status, text)
    built["responses"] = dict(sorted(responses.items()))
    return built


def build(operations: Iterable[Operation]) -> dict[str, Any]:
    """The document of the documented operations (a new dict each call; the docs blueprint
    caches it)."""
    documented = [op for op in operations if op.documented]
    _, definitions = models_json_schema(_models(documented), by_alias=True, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in documented:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
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


def main() -> None:
    """`python -m api.openapi`: the document on stdout, what `make client` generates from."""
    from api.app import route_table

    sys.stdout.write(json.dumps(build(route_table().operations), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
