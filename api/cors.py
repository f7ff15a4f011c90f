"""CORS for browser clients of the origins in `TESSERA_CORS_ORIGINS` (none by default).

Hand-written: a preflight is answered before authentication (browsers send it without the
Authorization header), and every response to an allowed origin says which headers a script
may read.
"""

from __future__ import annotations

from flask import Flask, Response, request

from tessera.config import Settings

ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID, X-Request-ID"
EXPOSED_HEADERS = "Location, X-Request-ID, Idempotent-Replayed, Retry-After"
PREFLIGHT_MAX_AGE = "600"
ANY = "*"


def init_app(app: Flask, settings: Settings) -> None:
    origins = frozenset(settings.cors_origins)

    def allowed(origin: str | None) -> str | None:
        """The value for Access-Control-Allow-Origin, or None for an origin not allowed."""
        if not origin or not origins:
            return None
        if ANY in origins:
            return ANY
        return origin if origin in origins else None

    @app.before_request
    def _preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        response = Response(status=204)
        origin = allowed(request.headers.get("Origin"))
        if origin is not None:
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response

    @app.after_request
    def _headers(response: Response) -> Response:
        origin = allowed(request.headers.get("Origin"))
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if origins and ANY not in origins:
            response.vary.add("Origin")  # caches must not serve one origin's answer to another
        return response
