"""RFC 9457 problem+json errors: one exception type, one renderer, handlers for everything.

Every error response goes through `problem()`, so each carries `code` and `requestId` and none
leaks internals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, jsonify
from sqlalchemy.exc import InterfaceError, OperationalError
from ulid import ULID
from werkzeug.exceptions import HTTPException

from models.domain.errors import DomainError, InvalidInput

log = logging.getLogger("tessera.api")

PROBLEM_JSON = "application/problem+json"

# HTTP status of each domain error code the contract names.
DOMAIN_STATUS = {
    "VALIDATION_ERROR": 422,
    "USER_NOT_FOUND": 404,
    "EVENT_NOT_FOUND": 404,
    "TICKET_NOT_FOUND": 404,
    "BATCH_NOT_FOUND": 404,
    "REGISTRATION_NOT_FOUND": 404,
    "WEBHOOK_NOT_FOUND": 404,
    "KEY_NOT_FOUND": 404,
    "DUPLICATE_USER": 409,
    "DUPLICATE_EVENT": 409,
    "CAPACITY_BELOW_REGISTERED": 409,
    "CAPACITY_BELOW_PARTY_SIZE": 409,
    "DRAW_LOCKED": 409,
    "IDEMPOTENCY_KEY_IN_FLIGHT": 409,
    "IDEMPOTENCY_KEY_REUSED": 422,
}

# Werkzeug's own errors (routing, body size, ...) mapped onto the contract's codes. A 400 (a
# request Werkzeug could not parse) is answered as the contract's 422, which has no 400.
HTTP_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    503: "NOT_READY",
}


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class ApiError(Exception):
    """Raise from anywhere in a request to answer with a problem."""

    status: int
    code: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.detail}"


def validation_error(errors: list[FieldError], detail: str | None = None) -> ApiError:
    return ApiError(
        422,
        "VALIDATION_ERROR",
        detail or f"The request has {len(errors)} invalid field(s).",
        errors,
    )


def not_found(code: str, detail: str) -> ApiError:
    return ApiError(404, code, detail)


def request_id() -> str:
    """The request's id, assigning one if the error happened before the hook that does."""
    if not g.get("request_id"):
        g.request_id = str(ULID())
    return str(g.request_id)


def problem(error: ApiError) -> Response:
    body: dict[str, Any] = {
        "type": f"https://tessera.dev/problems/{error.code.lower().replace('_', '-')}",
        "title": HTTPStatus(error.status).phrase,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        "requestId": request_id(),
    }
    if error.errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in error.errors]
    response = jsonify(body)
    response.status_code = error.status
    response.mimetype = PROBLEM_JSON
    response.headers.update(error.headers)
    return response


def from_domain(error: DomainError) -> ApiError:
    status = DOMAIN_STATUS.get(error.code, 422)
    if isinstance(error, InvalidInput):
        return validation_error([FieldError(error.field, error.message)])
    retry_after = getattr(error, "retry_after_seconds", None)
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return ApiError(status, error.code, str(error), headers=headers)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return problem(error)

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> Response:
        return problem(from_domain(error))

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if status == 400:
            status = 422
        code = HTTP_CODES.get(status, "INTERNAL" if status >= 500 else "VALIDATION_ERROR")
        detail = {
            404: "No such resource or route.",
            405: "The method is not allowed on this resource.",
            413: "The request body is too large.",
            422: "The request could not be parsed.",
            500: "An internal error occurred.",
        }.get(status, error.description or HTTPStatus(status).phrase)
        response = problem(ApiError(status, code, detail))
        allow = getattr(error, "valid_methods", None)
        if status == 405 and allow:
            response.headers["Allow"] = ", ".join(sorted(allow))
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(error: Exception) -> Response:
        # PostgreSQL refused or dropped the connection (down, restarting, failing over).
        # Nothing was accepted that a retry with the same Idempotency-Key would not replay,
        # so the answer is "not ready, retry", never a 500.
        log.warning(
            "database unavailable: %s",
            error.__class__.__name__,
            extra={"requestId": getattr(g, "request_id", None)},
        )
        return problem(
            ApiError(
                503,
                "NOT_READY",
                "The database is not answering; retry shortly.",
                headers={"Retry-After": "1"},
            )
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error", extra={"requestId": getattr(g, "request_id", None)})
        return problem(ApiError(500, "INTERNAL", "An internal error occurred."))
