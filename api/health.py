"""Liveness, readiness and health: is the process up, do PostgreSQL and Redis answer, and
can the database keep an acknowledged ticket across a failover (models/domain/durability.py).

Each dependency is checked in a worker thread with a deadline, so a server that hangs (rather
than refusing) makes the probe answer 503 in about a second instead of hanging it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, Response, current_app
from sqlalchemy import text

from api.context import ctx
from api.errors import ApiError
from api.render import json_response
from api.routes import Access, Reply, Resource, route
from api.schemas import Check, Checks, Durability, Health, Liveness
from models.storage.replication import durability

bp = Resource("health", __name__, tag="operations")

CHECK_TIMEOUT_SECONDS = 1.5
_EXECUTOR = "tessera.health"


def init_app(app: Flask) -> None:
    # A few threads are enough: probes are rare, and a hung check holds one only until the
    # driver's own timeout ends it.
    app.extensions[_EXECUTOR] = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")


def _postgres() -> None:
    with ctx().sessions() as session, session.begin():
        session.execute(text("SET LOCAL statement_timeout = 1000"))
        session.execute(text("SELECT 1"))


def _durability() -> Durability:
    """What the primary says about synchronous replication (see models/domain/durability.py)."""
    with ctx().sessions() as session, session.begin():
        session.execute(text("SET LOCAL statement_timeout = 1000"))
        verdict = durability(session)
    return Durability(guaranteed=verdict.guaranteed, mode=verdict.mode, detail=verdict.detail)


def _redis() -> None:
    ctx().redis.ping()


CHECKS: dict[str, Callable[[], None]] = {"postgres": _postgres, "redis": _redis}


def _timed(check: Callable[[], None]) -> float:
    started = time.perf_counter()
    check()
    return (time.perf_counter() - started) * 1000


def run_checks() -> Checks:
    """Both checks at once, each with its deadline; any failure counts as "not ok"."""
    executor: ThreadPoolExecutor = current_app.extensions[_EXECUTOR]
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def in_app(check: Callable[[], None]) -> Callable[[], float]:
        def run() -> float:
            with app.app_context():
                return _timed(check)

        return run

    started = time.perf_counter()
    futures = {name: executor.submit(in_app(check)) for name, check in CHECKS.items()}
    results: dict[str, Check] = {}
    for name, future in futures.items():
        remaining = max(0.0, CHECK_TIMEOUT_SECONDS - (time.perf_counter() - started))
        try:
            latency = future.result(timeout=remaining)
            results[name] = Check(ok=True, latency_ms=round(latency, 2))
        except Exception as error:  # a timeout or any other failure is "down"
            # One line, no traceback: a probe fails every few seconds while a server is down.
            reason = (
                type(error).__name__ if str(error) == "" else f"{type(error).__name__}: {error}"
            )
            current_app.logger.warning("health check %s failed (%s)", name, reason[:200])
            elapsed = (time.perf_counter() - started) * 1000
            results[name] = Check(ok=False, latency_ms=round(elapsed, 2))
    return Checks.model_validate(results)


@route(
    bp,
    "GET",
    "/live",
    operation_id="getLiveness",
    access=Access.PUBLIC,
    summary="Liveness",
    replies=(Reply(200, "The process serves requests.", Liveness),),
)
def live() -> Response:
    """The process runs and serves requests; nothing else is checked (restart only if not)."""
    return json_response(Liveness(status="ok"))


@route(
    bp,
    "GET",
    "/ready",
    operation_id="getReadiness",
    access=Access.PUBLIC,
    summary="Readiness",
    replies=(Reply(200, "PostgreSQL and Redis answer.", Liveness),),
    error_notes={503: "NOT_READY."},
)
def ready() -> Response:
    checks = run_checks()
    if not (checks.postgres.ok and checks.redis.ok):
        down = [
            name
            for name, check in (("postgres", checks.postgres), ("redis", checks.redis))
            if not check.ok
        ]
        raise ApiError(
            503,
            "NOT_READY",
            f"Not ready: {', '.join(down)} not answering.",
            headers={"Retry-After": "1"},
        )
    return json_response(Liveness(status="ready"))


@route(
    bp,
    "GET",
    "/health",
    operation_id="getHealth",
    access=Access.PUBLIC,
    summary="Health of the API and its servers",
    replies=(
        Reply(200, "PostgreSQL and Redis answer.", Health),
        Reply(503, "One of them does not.", Health),
    ),
)
def health() -> Response:
    checks = run_checks()
    ok = checks.postgres.ok and checks.redis.ok
    body = Health(
        status="ok" if ok else "unavailable",
        checks=checks,
        durability=_durability_if_answering() if checks.postgres.ok else None,
    )
    return json_response(body, 200 if ok else 503)


def _durability_if_answering() -> Durability | None:
    """Said, not judged: a database without a synchronous standby still serves (a single
    server is a fine choice), so this never turns /health's status to "unavailable"."""
    executor: ThreadPoolExecutor = current_app.extensions[_EXECUTOR]
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def in_app() -> Durability:
        with app.app_context():
            return _durability()

    try:
        return executor.submit(in_app).result(timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # the answer then is "unknown", never a 500
        current_app.logger.warning("durability check failed (%s)", type(error).__name__)
        return None
