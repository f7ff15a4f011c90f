"""Attendee tokens: JWTs signed by an organizer's identity provider, verified with PyJWT
against the provider's JWKS (`TESSERA_JWT_JWKS_URL`, `https://` or `file://`).

Only asymmetric algorithms are accepted (RS256, ES256, EdDSA), each only with a key of its own
kind, so neither `alg: none` nor an HMAC token keyed with a public key can pass. Verified tokens
are remembered until they expire (at most `CACHE_SECONDS`): the hot path checks a signature once
per token, not once per request.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import jwt

from models.domain.identity import ID_PATTERN
from tessera.auth_settings import AuthSettings

log = logging.getLogger("tessera.api.tokens")

ALGORITHMS = frozenset({"RS256", "ES256", "EdDSA"})
CACHE_SECONDS = 60.0
CACHE_ENTRIES = 10_000
LEEWAY_SECONDS = 5  # clock skew between the provider and us
MAX_JWKS_BYTES = 1 << 20
FETCH_TIMEOUT_SECONDS = 5.0
_USER_ID = re.compile(ID_PATTERN)


class InvalidToken(Exception):
    """The token cannot act as anyone: answered 401, never with the reason (it would help a
    forger), which is logged instead."""


def _read(url: str) -> bytes:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        with Path(unquote(parsed.path)).open("rb") as file:
            return file.read(MAX_JWKS_BYTES + 1)
    if parsed.scheme != "https":
        raise ValueError("a JWKS URL is https:// or file://")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as answer:  # noqa: S310
        body: bytes = answer.read(MAX_JWKS_BYTES + 1)
        return body


def parse_jwks(raw: bytes) -> dict[str | None, jwt.PyJWK]:
    """The usable keys of a JWKS by `kid`; keys of other algorithms or kinds are skipped."""
    if len(raw) > MAX_JWKS_BYTES:
        raise ValueError("the JWKS is larger than 1 MiB")
    document = json.loads(raw)
    found: dict[str | None, jwt.PyJWK] = {}
    for data in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(data, dict) or data.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(data)
        except (jwt.PyJWKError, jwt.InvalidKeyError):
            continue
        if key.algorithm_name in ALGORITHMS:
            found[data.get("kid")] = key
    return found


class Jwks:
    """The provider's keys: fetched on first use, again when they are older than `max_age`,
    and again for a `kid` not seen yet, but at most once per `refetch_seconds`, so tokens with
    made-up kids cannot make us hammer the provider."""

    def __init__(
        self,
        url: str,
        *,
        refetch_seconds: float = 10.0,
        max_age: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        read: Callable[[str], bytes] = _read,
    ) -> None:
        self.url = url
        self.refetch_seconds = refetch_seconds
        self.max_age = max_age
        self.clock = clock
        self.read = read
        self.fetches = 0
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str | None) -> jwt.PyJWK | None:
        now = self.clock()
        if self._fetched_at is None or now - self._fetched_at >= self.max_age:
            self._refresh(now)
        found = self._lookup(kid)
        if found is None and now - (self._fetched_at or 0.0) >= self.refetch_seconds:
            self._refresh(now)
            found = self._lookup(kid)
        return found

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))  # a provider with one key may omit kids
        return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        with self._lock:
            if self._fetched_at is not None and self._fetched_at >= now:
                return  # another request fetched meanwhile
            self._fetched_at = self.clock()
            self.fetches += 1
            try:
                self._keys = parse_jwks(self.read(self.url))
            except Exception as error:  # keep the keys we had: the provider may be restarting
                log.warning("cannot fetch the JWKS (%s); keeping the keys known", error)


class TokenVerifier:
    def __init__(
        self,
        settings: AuthSettings,
        jwks: Jwks,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert settings.attendee_tokens, "attendee tokens are not configured"
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.user_claim = settings.jwt_user_claim
        self.jwks = jwks
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._verified: dict[str, tuple[str, float]] = {}

    def user_of(self, token: str) -> str:
        """The userId a valid token names, or InvalidToken."""
        now = self.clock()
        cached = self._verified.get(token)
        if cached is not None and cached[1] > now:
            return cached[0]
        user_id, expires = self._verify(token, now)
        if len(self._verified) >= CACHE_ENTRIES:
            self._verified = {t: v for t, v in self._verified.items() if v[1] > now}
            if len(self._verified) >= CACHE_ENTRIES:
                self._verified = {}
        self._verified[token] = (user_id, min(expires, now + self.cache_seconds))
        return user_id

    def _verify(self, token: str, now: float) -> tuple[str, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidToken(f"not a JWS: {error}") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise InvalidToken(f"algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        key = self.jwks.key(kid if isinstance(kid, str) else None)
        if key is None:
            raise InvalidToken(f"no key {kid!r} in the JWKS")
        if key.algorithm_name != alg:
            raise InvalidToken(f"key {kid!r} is not a {alg} key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None
        user_id = claims.get(self.user_claim)
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            raise InvalidToken(f"claim {self.user_claim!r} is not a userId")
        return user_id, float(claims["exp"])
