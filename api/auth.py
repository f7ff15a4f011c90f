"""Who is calling: the bearer credential's principal, found along one chain: a configured key
(`TESSERA_API_KEYS`), a key made at run time (`api.runtime_keys`), then an attendee token
(`api.tokens`). Roles `admin` and `client` come with keys; an `attendee` acts only for itself
(what it may call: `api.principals`).

Keys are kept only as SHA-256 digests and compared in constant time; a key's public identity
(`owner`, stored on tickets and batches) is an HMAC of the key under a key derived from the
server secret (tessera/server_secret.py), so a copy of the database cannot test key guesses.
Which operations need no key and which need an admin key is read from their declarations (the
`RouteTable` of `api.routes`), not listed here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass

from flask import Flask, g, request

from api.auth_failures import FailureThrottle
from api.errors import ApiError
from api.principals import check_attendee
from api.routes import Access, RouteTable
from api.runtime_keys import RuntimeKeys
from api.tokens import InvalidToken, Jwks, TokenVerifier
from tessera import server_secret
from tessera.config import ApiKey, ConfigError, Settings, key_digest
from tessera.messaging import redis_client

log = logging.getLogger("tessera.api.auth")

ANONYMOUS_OWNER = "anonymous"
ATTENDEE = "attendee"
# An attendee's owner (of its tickets and idempotency keys): from its userId, in a form no key's
# owner takes (`key-…`, `rk-…`), and short enough for the owner columns whatever the userId.
ATTENDEE_OWNER_PREFIX = "att-"


@dataclass(frozen=True)
class Principal:
    owner: str
    role: str
    user_id: str | None = None  # set for attendees only: the user it acts as

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def attendee(user_id: str) -> Principal:
    owner = ATTENDEE_OWNER_PREFIX + hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]
    return Principal(owner, ATTENDEE, user_id)


def _digest(key: str) -> bytes:
    return key_digest(key)


def owner_of(key: str, secret_key: str) -> str:
    return server_secret.owner_of(secret_key, key)


@dataclass(frozen=True)
class KeyRing:
    entries: tuple[tuple[bytes, Principal], ...]

    @classmethod
    def from_keys(cls, keys: tuple[ApiKey, ...]) -> KeyRing:
        return cls(tuple((k.digest, Principal(k.owner, k.role)) for k in keys))

    def find(self, key: str) -> Principal | None:
        digest = _digest(key)
        found: Principal | None = None
        for known, principal in self.entries:  # no early exit: time does not reveal which
            if hmac.compare_digest(known, digest):
                found = principal
        return found


def current_principal() -> Principal:
    principal: Principal = g.principal
    return principal


def is_public(table: RouteTable) -> bool:
    """Whether this request needs no key: a preflight (browsers send it without one), or a
    public operation."""
    return request.method == "OPTIONS" or table.access(request.endpoint) is Access.PUBLIC


def _tokens(settings: Settings) -> TokenVerifier | None:
    config = settings.auth
    if not config.attendee_tokens or config.jwt_jwks_url is None:
        return None
    return TokenVerifier(config, Jwks(config.jwt_jwks_url))


def init_app(app: Flask, settings: Settings, table: RouteTable) -> None:
    """Authenticate every request that needs a credential (`g.principal`), or answer 401."""
    if settings.auth_enabled and not settings.api_keys:
        raise ConfigError(
            "no API keys: set TESSERA_API_KEYS=key:admin,... or TESSERA_AUTH=off for development"
        )
    if settings.auth_enabled and settings.secret_key is None:
        raise ConfigError(
            "no server secret: set TESSERA_SECRET_KEY (API keys' owners are derived from it)"
        )
    ring = KeyRing.from_keys(settings.api_keys)
    context = app.extensions["tessera"]
    redis_url = settings.redis_url or ""
    runtime = RuntimeKeys(context.sessions, lambda: redis_client(redis_url))
    context.closers.append(runtime.close)
    app.extensions["tessera.keys"] = runtime
    tokens = _tokens(settings)
    try:
        throttle = FailureThrottle(context.redis, settings.auth.auth_failure_limit)
    except ValueError as error:
        raise ConfigError(
            "TESSERA_AUTH_FAILURE_LIMIT must be a rate such as 300/minute, or off"
        ) from error

    def find(credential: str) -> Principal | None:
        principal = ring.find(credential)
        if principal is not None:
            return principal
        known = runtime.find(credential)
        if known is not None:
            return Principal(known.owner, known.role)
        if tokens is not None and credential.count(".") == 2:
            try:
                return attendee(tokens.user_of(credential))
            except InvalidToken as refused:
                log.info("attendee token refused: %s", refused)
        return None

    @app.before_request
    def _authenticate() -> None:
        if not settings.auth_enabled:
            g.principal = Principal(ANONYMOUS_OWNER, "admin")
            return
        if is_public(table):
            return
        if request.routing_exception is not None:
            return  # an unknown route or method answers 404/405 whoever asks
        address = request.remote_addr or "unknown"
        wait = throttle.retry_after(address)
        if wait is not None:
            raise _guessing(wait)
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        principal = find(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
        if principal is None:
            wait = throttle.refused(address)
            if wait is not None:
                raise _guessing(wait)
            raise ApiError(
                401,
                "UNAUTHORIZED",
                "A valid API key or attendee token is required (Authorization: Bearer <key>).",
                headers={"WWW-Authenticate": 'Bearer realm="tessera"'},
            )
        g.principal = principal


def _guessing(wait: int) -> ApiError:
    return ApiError(
        429,
        "RATE_LIMITED",
        "Too many refused credentials from this address; retry later.",
        headers={"Retry-After": str(wait)},
    )


def init_roles(app: Flask, table: RouteTable) -> None:
    """Refuse (403) an operation the principal's role may not call. Call after the rate
    limiter, so such a call is counted like any other."""

    @app.before_request
    def _authorize() -> None:
        if request.routing_exception is not None or is_public(table):
            return
        principal = current_principal()
        if principal.role == ATTENDEE:
            check_attendee(principal.user_id, table.attendee(request.endpoint))
        elif not table.access(request.endpoint).admits(principal.role):
            raise ApiError(403, "FORBIDDEN", "This operation needs an admin key.")
