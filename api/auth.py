"""Bearer API keys with `admin` and `client` roles.

Keys are kept only as SHA-256 digests and compared in constant time; a key's public identity
(`owner`, stored on tickets and batches) is an HMAC of the key under a key derived from the
server secret (tessera/server_secret.py), so a copy of the database cannot test key guesses.
Which operations need no key and which need an admin key is read from their declarations (the
`RouteTable` of `api.routes`), not listed here.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from flask import Flask, g, request

from api.errors import ApiError
from api.routes import Access, RouteTable
from tessera import server_secret
from tessera.config import ApiKey, ConfigError, Settings, key_digest

ANONYMOUS_OWNER = "anonymous"


@dataclass(frozen=True)
class Principal:
    owner: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


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


def init_app(app: Flask, settings: Settings, table: RouteTable) -> None:
    """Authenticate every request that needs a key (`g.principal`), or answer 401."""
    if settings.auth_enabled and not settings.api_keys:
        raise ConfigError(
            "no API keys: set TESSERA_API_KEYS=key:admin,... or TESSERA_AUTH=off for development"
        )
    if settings.auth_enabled and settings.secret_key is None:
        raise ConfigError(
            "no server secret: set TESSERA_SECRET_KEY (API keys' owners are derived from it)"
        )
    ring = KeyRing.from_keys(settings.api_keys)

    @app.before_request
    def _authenticate() -> None:
        if not settings.auth_enabled:
            g.principal = Principal(ANONYMOUS_OWNER, "admin")
            return
        if is_public(table):
            return
        if request.routing_exception is not None:
            return  # an unknown route or method answers 404/405 whoever asks
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        principal = ring.find(key.strip()) if scheme.lower() == "bearer" and key else None
        if principal is None:
            raise ApiError(
                401,
                "UNAUTHORIZED",
                "A valid API key is required (Authorization: Bearer <key>).",
                headers={"WWW-Authenticate": 'Bearer realm="tessera"'},
            )
        g.principal = principal


def init_roles(app: Flask, table: RouteTable) -> None:
    """Refuse (403) an operation the principal's role may not call. Call after the rate
    limiter, so such a call is counted like any other."""

    @app.before_request
    def _authorize() -> None:
        if request.routing_exception is not None or is_public(table):
            return
        if not table.access(request.endpoint).admits(current_principal().role):
            raise ApiError(403, "FORBIDDEN", "This operation needs an admin key.")
