"""Bearer API keys with `admin` and `client` roles.

Keys are kept only as SHA-256 digests and compared in constant time; a key's public identity
(`owner`, stored on tickets and batches) is an HMAC of the key under a key derived from the
server secret (tessera/server_secret.py), so a copy of the database cannot test key guesses.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from flask import Flask, g, request

from api.errors import ApiError
from tessera import server_secret
from tessera.config import ApiKey, ConfigError, Settings, key_digest

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

P = ParamSpec("P")
R = TypeVar("R")


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


def init_app(app: Flask, settings: Settings) -> None:
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
        if request.method == "OPTIONS" or request.endpoint in PUBLIC_ENDPOINTS:
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


def admin_only(view: Callable[P, R]) -> Callable[P, R]:
    """For views that create, change or delete users and events."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not current_principal().is_admin:
            raise ApiError(403, "FORBIDDEN", "This operation needs an admin key.")
        return view(*args, **kwargs)

    return wrapper
