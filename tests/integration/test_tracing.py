"""Traces from the API to the apply pass, through the SDK's in-memory exporter: the ticket
carries its request's trace context, the pass links to each request's trace, and PostgreSQL
and Redis show as spans of the instrumentation libraries. Real PostgreSQL and Redis."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.storage.tables import Ticket
from tessera import tracing
from tessera.config import Settings
from tests.integration.conftest import AppFactory
from tests.integration.test_seats_persistence import make_event, make_users
from workers import apply, runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.uninstall()


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
