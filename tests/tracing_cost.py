"""`python -m tests.tracing_cost`: the API's CPU per register request with tracing off,
sampled at 1 % and always on, in one process through Flask's test client.

In-process and CPU-timed (`time.process_time`, which counts the group-commit thread too), so
it is far less noisy than the HTTP benchmark on a shared machine: what it isolates is the work
the instrumentation adds to a request, sampled or not. The modes alternate round by round on
one embedded PostgreSQL and Redis; spans go to a batch processor whose exporter drops them.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from flask import Flask
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased

from api.app import create_app
from models.storage.db import make_engine, make_sessionmaker, migrate
from models.storage.tables import Event, User
from tessera import tracing
from tessera.config import Settings
from tessera.tools.servers import servers

MODES: dict[str, Sampler | None] = {
    "off": None,
    "1 %": ParentBased(TraceIdRatioBased(0.01)),
    "always_on": ParentBased(ALWAYS_ON),
}


class Dropped(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _seed(database_url: str, users: int) -> None:
    import datetime as dt

    sessions = make_sessionmaker(make_engine(database_url))
    with sessions.begin() as session:
        session.add(
            Event(
                event_id="e1",
                title="Bench",
                description="",
                date=dt.date(2026, 12, 1),
                location="Hall",
                capacity=1_000_000,
                organizer="Org",
                status="active",
                waitlist_enabled=True,
            )
        )
        session.add_all(User(user_id=f"u{i}", name="U") for i in range(users))


class TracingCalls:
    """Counts the Python calls into OpenTelemetry's code, wrapt's and tessera.tracing, in
    every thread started from now on (the group commit's) and this one: unlike CPU time on a
    shared machine, the same figure on every run."""

    PATHS = ("/opentelemetry/", "/wrapt/", "tessera/tracing.py")

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, frame: FrameType, event: str, _arg: object) -> None:
        if event == "call" and any(p in frame.f_code.co_filename for p in self.PATHS):
            self.calls += 1

    def __enter__(self) -> TracingCalls:
        threading.setprofile(self)
        sys.setprofile(self)
        return self

    def __exit__(self, *_: object) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def _round(
    settings: Settings, sampler: Sampler | None, first_user: int, requests: int, calls: bool
) -> float:
    """CPU µs per request over `requests` registrations (or, with `calls`, Python calls into
    tracing code per request), through an app built as a process with this tracing would."""
    if sampler is not None:
        provider = TracerProvider(sampler=sampler)
        provider.add_span_processor(BatchSpanProcessor(Dropped()))
        tracing.install(provider)
    app: Flask = create_app(settings)
    tracing.instrument_app(app)
    try:
        http = app.test_client()
        for _ in range(20):  # warm: connections, caches
            http.get("/health/live")
        counting = TracingCalls() if calls else contextlib.nullcontext()
        started = time.process_time()
        with counting:
            for i in range(first_user, first_user + requests):
                response = http.post("/events/e1/registrations", json={"userId": f"u{i}"})
                assert response.status_code == 202, response.get_json()
        if isinstance(counting, TracingCalls):
            return counting.calls / requests
        return (time.process_time() - started) / requests * 1e6
    finally:
        app.extensions["tessera"].close()
        tracing.uninstall()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.tracing_cost")
    parser.add_argument("--requests", type=int, default=1000, help="per round and mode")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--calls", action="store_true",
        help="count Python calls into tracing code per request instead of timing (one round)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="tessera-tracing-cost-"))
    results: dict[str, list[float]] = {mode: [] for mode in MODES}
    try:
        with servers(data_dir, durable=False) as urls:
            migrate(urls.database_url)
            _seed(urls.database_url, args.requests * args.rounds * len(MODES))
            settings = dataclasses.replace(
                Settings(database_url=urls.database_url, redis_url=urls.redis_url),
                auth_enabled=False,
                rate_limit="off",
            )
            user = 0
            for _ in range(args.rounds):
                for mode, sampler in MODES.items():
                    results[mode].append(_round(settings, sampler, user, args.requests, args.calls))
                    user += args.requests
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    if args.calls:
        for mode, figures in results.items():
            print(f"{mode:>9}: {min(figures):7.1f} calls into tracing code per request")  # noqa: T201
        return 0
    # The least of the rounds is the figure least disturbed by other work on the machine.
    off = min(results["off"])
    for mode, figures in results.items():
        least = min(figures)
        print(  # noqa: T201 - a command-line tool's report
            f"{mode:>9}: {least:5.0f} µs CPU per request (least of {len(figures)} rounds;"
            f" median {statistics.median(figures):.0f}), {least - off:+4.0f} µs against off"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
