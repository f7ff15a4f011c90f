"""Requests per API key or attendee are rate-limited (`TESSERA_RATE_LIMIT`, e.g. `100/second`;
`off`); a batch's items draw on a budget of the same rate, and open update streams are capped
per caller (`api.work_limits`).

The counters live in Redis so that every gunicorn worker and every API host shares one budget
per key. Redis being down must not stop the API from accepting commands (PostgreSQL is the
truth, Redis only an accelerator), so the limiter fails open: it falls back to per-process
in-memory counters, logs a warning, and returns to Redis once it answers again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from limits import parse_many

from api.auth import is_public
from api.errors import ApiError, problem
from api.routes import RouteTable
from api.work_limits import StreamSlots, WorkBudget
from tessera.config import ConfigError, Settings
from tessera.messaging import REDIS_SOCKET_TIMEOUT, redis_retry
from tessera.redis_urls import is_sentinel_url, parse_sentinel_url

OFF = "off"
# Longer than any update stream lives (`api.updates.STREAM_SECONDS`, 300 s): a slot left by a
# process that died is freed by then.
STREAM_LEASE_SECONDS = 330.0


def charge_batch(items: int) -> None:
    """A batch costs its items (`api.work_limits`): 429 RATE_LIMITED when they do not fit."""
    budget: WorkBudget = current_app.extensions["tessera.work"]
    budget.charge(g.principal.owner, items)


def stream_slot() -> Callable[[], None]:
    """One of the caller's open-stream slots; call what it returns when the stream ends."""
    slots: StreamSlots = current_app.extensions["tessera.streams"]
    return slots.take(g.principal.owner)


def _storage(redis_url: str) -> tuple[str, dict[str, Any]]:
    """The limiter's storage URL and options. A Sentinel group's counters are read from its
    master only: a replica's copy lags, and a budget read from it would let a burst through."""
    timeouts: dict[str, Any] = {
        "socket_timeout": math.ceil(REDIS_SOCKET_TIMEOUT),
        "socket_connect_timeout": math.ceil(REDIS_SOCKET_TIMEOUT),
        "retry": redis_retry(),
    }
    if not is_sentinel_url(redis_url):
        return redis_url, timeouts
    group = parse_sentinel_url(redis_url)
    return group.limits_uri(), {
        **timeouts,
        "db": group.db,
        "use_replicas": False,
        "sentinel_kwargs": timeouts,
    }


def init_app(app: Flask, settings: Settings, table: RouteTable) -> None:
    """Install the limiter. Call after `auth.init_app`: the key is the authenticated one."""
    off = settings.rate_limit.strip().lower() == OFF
    try:
        if not off:
            parse_many(settings.rate_limit)
    except ValueError as error:
        raise ConfigError(
            f"TESSERA_RATE_LIMIT={settings.rate_limit!r} is not a rate such as 100/second or off"
        ) from error
    client = app.extensions["tessera"].redis
    app.extensions["tessera.work"] = WorkBudget(client, None if off else settings.rate_limit)
    app.extensions["tessera.streams"] = StreamSlots(
        client, settings.auth.max_streams_per_principal, STREAM_LEASE_SECONDS
    )
    if off:
        return

    def key() -> str:
        # Per key when keys are in use; with auth off there are none, so per client address.
        principal = g.get("principal")
        if settings.auth_enabled and principal is not None:
            return f"key:{principal.owner}"
        return f"addr:{request.remote_addr or 'unknown'}"

    storage_uri, storage_options = _storage(settings.redis_url or "")
    limiter = Limiter(
        key,
        # An application limit is one budget per key across all routes (a default limit
        # would give each route its own).
        application_limits=[settings.rate_limit],
        storage_uri=storage_uri,
        storage_options=storage_options,
        strategy="fixed-window",  # one Redis round trip per request
        key_prefix="tessera",
        in_memory_fallback_enabled=True,
        in_memory_fallback=[settings.rate_limit],
        swallow_errors=True,
        headers_enabled=False,  # Retry-After is set on 429s below, not on every response
    )

    @limiter.request_filter
    def _exempt() -> bool:
        # Probes and docs must answer whoever asks; preflights carry no key.
        return is_public(table)

    limiter.init_app(app)
    app.extensions["tessera.limiter"] = limiter

    @app.errorhandler(RateLimitExceeded)
    def _limited(_error: RateLimitExceeded) -> Response:
        retry_after = 1
        current = limiter.current_limit
        if current is not None:
            try:
                retry_after = max(1, math.ceil(current.window[0] - time.time()))
            except Exception:  # storage gone between the hit and now: 1 s is a fine guess
                retry_after = 1
        return problem(
            ApiError(
                429,
                "RATE_LIMITED",
                f"Too many requests for this key ({settings.rate_limit}); retry later.",
                headers={"Retry-After": str(retry_after)},
            )
        )
