"""Traces from the API to the apply pass and on to the webhook sender, through the SDK's
in-memory exporter: the ticket carries its request's trace context, the pass links to each
request's trace, a delivery is traced in the trace of the pass that queued it, and PostgreSQL
and Redis show as spans of the instrumentation libraries, under recording spans only. Real
PostgreSQL and Redis."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from opentelemetry import context, propagate
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.storage.tables import Ticket
from tessera import tracing
from tessera.config import Settings
from tessera.messaging import DELIVER_TASK
from tessera.tools.servers import ServerUrls
from tests.integration.conftest import AppFactory
from tests.integration.test_seats_persistence import make_event, make_users
from tests.webhook_receiver import receiving
from workers import app as worker_app
from workers import apply, deliverer, runtime

pytestmark = pytest.mark.integration


def installed(provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.uninstall()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every trace sampled (the SDK's default sampler, parent-based always-on)."""
    yield from installed(TracerProvider())


@pytest.fixture
def unsampled() -> Iterator[InMemorySpanExporter]:
    """Tracing on, no trace sampled: what 99 % of requests are at 1 %."""
    yield from installed(TracerProvider(sampler=ParentBased(ALWAYS_OFF)))


@pytest.fixture
def traced_app(
    spans: InMemorySpanExporter, api_app: AppFactory, settings: Settings, db: sessionmaker[Session]
) -> Flask:
    """Built after tracing is installed, as `create_app` is in a process that traces."""
    app = api_app(dataclasses.replace(settings, auth_enabled=False))
    tracing.instrument_app(app)
    make_event(db, "e1", capacity=5)
    make_users(db, "ann", "bob", "cy")
    return app


def request_span(spans: InMemorySpanExporter, route: str) -> ReadableSpan:
    found = [s for s in spans.get_finished_spans() if s.name == f"POST {route}"]
    assert len(found) == 1, [s.name for s in spans.get_finished_spans()]
    return found[0]


def test_a_pass_links_to_the_trace_of_each_request_whose_tickets_it_applies(
    traced_app: Flask, spans: InMemorySpanExporter, worker: runtime.Runtime
) -> None:
    http: FlaskClient = traced_app.test_client()
    assert http.post("/events/e1/registrations", json={"userId": "ann"}).status_code == 202
    single = request_span(spans, "/events/<event_id>/registrations")
    items = [{"type": "register", "userId": u, "eventId": "e1"} for u in ("bob", "cy")]
    assert http.post("/batches", json={"items": items}).status_code == 202
    batch = request_span(spans, "/batches")
    spans.clear()

    state, applied = apply.apply_pass(worker, 100)

    assert (state, applied) == (apply.PassState.APPLIED, 3)
    [applying] = [s for s in spans.get_finished_spans() if s.name == "tessera.apply_pass"]
    linked = {(link.context.trace_id, link.context.span_id) for link in applying.links}
    assert linked == {
        (single.context.trace_id, single.context.span_id),
        (batch.context.trace_id, batch.context.span_id),
    }  # the batch's two tickets share one link
    assert applying.attributes is not None
    assert applying.attributes["tessera.tickets"] == 3
    inside = [s for s in spans.get_finished_spans() if s.parent == applying.context]
    systems = {(s.attributes or {}).get("db.system") for s in inside}
    assert "postgresql" in systems  # the pass's statements, from the psycopg instrumentation
    everywhere = {(s.attributes or {}).get("db.system") for s in spans.get_finished_spans()}
    assert "redis" in everywhere  # the publishing after commit, from the redis instrumentation


def test_without_tracing_tickets_carry_no_trace_context(
    api_app: AppFactory, settings: Settings, db: sessionmaker[Session]
) -> None:
    assert not tracing.enabled()
    assert tracing.current_trace_context() is None
    app = api_app(dataclasses.replace(settings, auth_enabled=False))
    make_event(db, "e1", capacity=5)
    make_users(db, "ann", "bob")
    http = app.test_client()
    assert http.post("/events/e1/registrations", json={"userId": "ann"}).status_code == 202
    items = [{"type": "register", "userId": "bob", "eventId": "e1"}]
    assert http.post("/batches", json={"items": items}).status_code == 202

    with db.begin() as session:
        assert session.scalars(select(Ticket.trace_context)).all() == [None, None]


def test_tracing_is_off_unless_an_otlp_endpoint_is_set() -> None:
    assert tracing.configure("tessera-test", env={}) is False
    assert tracing.configure("tessera-test", env={"OTEL_SERVICE_NAME": "x"}) is False
    disabled = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}
    assert tracing.configure("tessera-test", env=disabled) is False
    assert not tracing.enabled()


def test_an_unsampled_request_makes_no_span_and_its_ticket_carries_no_context(
    unsampled: InMemorySpanExporter,
    api_app: AppFactory,
    settings: Settings,
    db: sessionmaker[Session],
    worker: runtime.Runtime,
) -> None:
    app = api_app(dataclasses.replace(settings, auth_enabled=False))
    make_event(db, "e1", capacity=5)
    make_users(db, "ann")
    http = app.test_client()
    assert http.post("/events/e1/registrations", json={"userId": "ann"}).status_code == 202
    assert apply.apply_pass(worker, 100) == (apply.PassState.APPLIED, 1)

    with db.begin() as session:
        assert session.scalars(select(Ticket.trace_context)).all() == [None]
    # nor any PostgreSQL or Redis span of its own: the group commit's statements run outside
    # the request's span, and used to be sampled as traces of their own
    assert unsampled.get_finished_spans() == ()


def test_a_pass_not_sampled_itself_is_recorded_in_the_trace_of_a_sampled_request(
    unsampled: InMemorySpanExporter,
    api_app: AppFactory,
    settings: Settings,
    db: sessionmaker[Session],
    worker: runtime.Runtime,
) -> None:
    """At 1 % a pass's own trace is rarely kept; the pass that applies a kept request's ticket
    shows in that request's trace all the same."""
    app = api_app(dataclasses.replace(settings, auth_enabled=False))
    make_event(db, "e1", capacity=5)
    make_users(db, "ann", "bob")
    http = app.test_client()
    caller = f"00-{'ab' * 16}-{'cd' * 8}-01"  # a caller whose trace is sampled
    route = "/events/e1/registrations"
    assert http.post(route, json={"userId": "ann"}, headers={"traceparent": caller}).status_code
    assert http.post(route, json={"userId": "bob"}).status_code == 202  # not sampled
    request = request_span(unsampled, "/events/<event_id>/registrations")
    assert request.context.trace_id == int("ab" * 16, 16)

    assert apply.apply_pass(worker, 100) == (apply.PassState.APPLIED, 2)

    [applying] = [s for s in unsampled.get_finished_spans() if s.name == "tessera.apply_pass"]
    assert applying.context.trace_id == request.context.trace_id
    assert applying.parent is not None
    assert applying.parent.span_id == request.context.span_id
    assert [(k.context.trace_id, k.context.span_id) for k in applying.links] == [
        (request.context.trace_id, request.context.span_id)
    ]
    assert applying.attributes is not None
    assert applying.attributes["tessera.tickets"] == 2
    inside = [s for s in unsampled.get_finished_spans() if s.parent == applying.context]
    assert "postgresql" in {(s.attributes or {}).get("db.system") for s in inside}


class ContextSender:
    """Stands in for Celery's sender, keeping each task's headers as Celery's instrumentation
    writes them when it publishes: the W3C context of the span current then."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any], dict[str, str]]] = []

    def send_task(self, name: str, args: list[Any], **_: Any) -> object:
        headers: dict[str, str] = {}
        propagate.inject(headers)
        self.sent.append((name, list(args), headers))
        return None


def test_a_delivery_is_traced_in_the_trace_of_the_pass_whose_commit_queued_it(
    spans: InMemorySpanExporter,
    api_app: AppFactory,
    settings: Settings,
    db: sessionmaker[Session],
) -> None:
    hooked = dataclasses.replace(settings, auth_enabled=False, webhook_allow_private=True)
    http = api_app(hooked).test_client()
    make_event(db, "e1", capacity=5)
    make_users(db, "ann")
    sender = ContextSender()
    worker = runtime.build(hooked, sender=sender)
    try:
        with receiving() as receiver:
            created = http.post("/webhooks", json={"url": receiver.url, "events": ["*"]})
            assert created.status_code == 201, created.get_json()
            receiver.secret = created.get_json()["secret"]
            assert http.post("/events/e1/registrations", json={"userId": "ann"}).status_code == 202
            spans.clear()
            assert apply.apply_pass(worker, 100) == (apply.PassState.APPLIED, 1)
            [applying] = [s for s in spans.get_finished_spans() if s.name == "tessera.apply_pass"]
            [(webhook_id, headers)] = [(a[0], h) for n, a, h in sender.sent if n == DELIVER_TASK]
            spans.clear()

            # the task's span on the webhook worker continues the context its headers carry
            token = context.attach(propagate.extract(headers))
            try:
                report = deliverer.deliver(worker, webhook_id)
            finally:
                context.detach(token)
            receiver.wait_for(1)
    finally:
        worker.engine.dispose()
        worker.redis.close()

    assert report.delivered == 1
    [delivering] = [s for s in spans.get_finished_spans() if s.name == "tessera.deliver"]
    assert delivering.context.trace_id == applying.context.trace_id
    assert delivering.parent is not None
    assert delivering.parent.span_id == applying.context.span_id
    assert delivering.attributes is not None
    assert delivering.attributes["tessera.webhook_id"] == webhook_id
    assert delivering.attributes["tessera.delivered"] == 1
    inside = [s for s in spans.get_finished_spans() if s.parent == delivering.context]
    assert "postgresql" in {(s.attributes or {}).get("db.system") for s in inside}


def test_the_webhook_worker_and_beat_trace_their_own_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread pool's tasks run in the worker's own process (the webhook worker's), a
    prefork pool's in its children, which trace themselves once forked."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    try:
        worker_app._trace_a_worker_without_children(sender=SimpleNamespace(pool_cls="prefork"))
        assert not tracing.enabled()
        worker_app._trace_a_worker_without_children(sender=SimpleNamespace(pool_cls="threads"))
        assert tracing.enabled()
        tracing.uninstall()
        worker_app._trace_beat(sender=None)
        assert tracing.enabled()
    finally:
        tracing.uninstall()


def test_without_an_endpoint_no_process_loads_the_tracing_sdk_or_any_instrumentation(
    server_urls: ServerUrls,
) -> None:
    """In a fresh interpreter, as the API, a worker child, the webhook worker and beat start.
    (redis-py imports OpenTelemetry's metrics API for its own opt-in metrics: not ours.)"""
    script = textwrap.dedent(
        f"""
        import os, sys
        for name in [n for n in os.environ if n.startswith("OTEL_")]:
            del os.environ[name]
        from types import SimpleNamespace
        import psycopg, redis
        from api.app import create_app
        from tessera.config import Settings
        from workers import app as worker_app
        settings = Settings(database_url={server_urls.database_url!r},
                            redis_url={server_urls.redis_url!r}, auth_enabled=False)
        create_app(settings).extensions["tessera"].close()
        worker_app._fresh_runtime_per_child()
        worker_app._trace_a_worker_without_children(sender=SimpleNamespace(pool_cls="threads"))
        worker_app._trace_beat(sender=None)
        loaded = [n for n in sys.modules if n.startswith(("opentelemetry.sdk.trace",
                  "opentelemetry.instrumentation", "opentelemetry.exporter"))]
        wrapped = [f for f in (psycopg.connect, redis.Redis.execute_command)
                   if hasattr(f, "__wrapped__")]
        print(loaded, wrapped)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[] []"
