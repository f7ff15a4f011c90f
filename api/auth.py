"""Who is calling: the bearer credential's principal, found along one chain: a configured key
(`TESSERA_API_KEYS`), a key made at run time (`api.runtime_keys`), then an attendee token
(`api.tokens`). Roles `admin` and `client` come with keys; an `attendee` acts only for itself
(what it may call: `api.principals`).

Keys are kept only as SHA-256 digests and compared in constant time; a key's public identity
(`owner`, stored on tickets and batches) is a short prefix of its digest, never the key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from flask import Flask, g, request

from api.auth_failures import FailureThrottle
from api.errors import ApiError
from api.runtime_keys import RuntimeKeys
from api.tokens import InvalidToken, Jwks, TokenVerifier
from tessera.config import ApiKey, ConfigError, Settings
from tessera.messaging import redis_client

log = logging.getLogger("tessera.api.auth")

PUBLIC_ENDPOINTS = frozenset(
    {
        "health.health",
        "health.live",
        "health.ready",
        "docs.openapi",
        "docs.swagger_ui",
        "docs.swagger_assets",
        "console.page",
        "console.page_with_slash",
        "console.asset",
        "static",
    }
)
ANONYMOUS_OWNER = "anonymous"
ATTENDEE = "attendee"
# An attendee's owner (of its tickets and idempotency keys): from its userId, in a form no key's
# owner takes (`key-…`, `rk-…`), and short enough for the owner columns whatever the userId.
ATTENDEE_OWNER_PREFIX = "att-"

P = ParamSpec("P")
R = TypeVar("R")


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
    return hashlib.sha256(key.encode("utf-8")).digest()


def owner_of(key: str) -> str:
    return "key-" + _digest(key).hex()[:16]


@dataclass(frozen=True)
class KeyRing:
    entries: tuple[tuple[bytes, Principal], ...]

    @classmethod
    def from_keys(cls, keys: tuple[ApiKey, ...]) -> KeyRing:
        return cls(tuple((_digest(k.key), Principal(owner_of(k.key), k.role)) for k in keys))

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


def _tokens(settings: Settings) -> TokenVerifier | None:
    config = settings.auth
    if not config.attendee_tokens or config.jwt_jwks_url is None:
        return None
    return TokenVerifier(config, Jwks(config.jwt_jwks_url))


def init_app(app: Flask, settings: Settings) -> None:
    if settings.auth_enabled and not settings.api_keys:
        raise ConfigError(
            "no API keys: set TESSERA_API_KEYS=key:admin,... or TESSERA_AUTH=off for development"
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
            "TESSERA_AUTH_FAILURE_LIMIT must be a rate such as 20/minute, or off"
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
        if request.method == "OPTIONS" or request.endpoint in PUBLIC_ENDPOINTS:
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


def admin_only(view: Callable[P, R]) -> Callable[P, R]:
    """For views that create, change or delete users and events."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not current_principal().is_admin:
            raise ApiError(403, "FORBIDDEN", "This operation needs an admin key.")
        return view(*args, **kwargs)

    return wrapper
