"""OpenTelemetry traces: the API's request, the Celery tasks and the apply pass that applied a
ticket, with PostgreSQL and Redis spans from the instrumentation libraries.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set; the other standard
variables (`OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`, headers, ...)
are read by the SDK itself. When off, the SDK is never imported and every function here returns
at its first line: no per-ticket work. A ticket carries the W3C `traceparent` of the request
that accepted it (only when that request is sampled); a pass applies tickets of many requests,
so its span links to each of their traces rather than belonging to one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

_provider: TracerProvider | None = None

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def enabled() -> bool:
    return _provider is not None


def configure(service: str, env: Mapping[str, str] | None = None) -> bool:
    """Trace this process to the OTLP endpoint of the environment (HTTP/protobuf), if one is
    set; True if tracing is on. Call it after forking: the exporter's thread is per process."""
    env = os.environ if env is None else env
    if _provider is not None:
        return True
    if not any(env.get(name) for name in ENDPOINT_VARIABLES):
        return False
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)  # the sampler: OTEL_TRACES_SAMPLER[_ARG]
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)
    return True


def install(provider: TracerProvider) -> None:
    """Trace with `provider` (the tests give one with an in-memory exporter): PostgreSQL,
    Redis and Celery instrumented from now on, in this process."""
    global _provider  # noqa: PLW0603 - one tracer provider per process
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    _provider = provider
    PsycopgInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    RedisInstrumentor().instrument(tracer_provider=provider)
    CeleryInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]


def uninstall() -> None:
    """Stop tracing in this process (tests)."""
    global _provider  # noqa: PLW0603
    if _provider is None:
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    celery = CeleryInstrumentor()  # type: ignore[no-untyped-call]
    for instrumentor in (PsycopgInstrumentor(), RedisInstrumentor(), celery):
        instrumentor.uninstrument()
    _provider.shutdown()
    _provider = None


def instrument_app(app: Flask) -> None:
    """A span per request of this Flask app, if tracing is on."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    FlaskInstrumentor.instrument_app(app, tracer_provider=_provider)  # type: ignore[no-untyped-call]


def current_trace_context() -> str | None:
    """The W3C `traceparent` of the current span, for a ticket to carry; None when tracing is
    off or the span is not sampled (a link to a trace nobody keeps is worth nothing)."""
    if _provider is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not (context.is_valid and context.trace_flags.sampled):
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Span | None]:
    """A span around the block, the current one inside it; nothing when tracing is off."""
    if _provider is None:
        yield None
        return
    tracer = _provider.get_tracer("tessera")
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def link_to(trace_contexts: Iterable[str | None]) -> None:
    """Link the current span to each trace the `traceparent`s name (once each): the pass to
    the requests whose tickets it applies."""
    if _provider is None:
        return
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    current = trace.get_current_span()
    if not current.is_recording():
        return
    propagator = TraceContextTextMapPropagator()
    for traceparent in dict.fromkeys(c for c in trace_contexts if c):
        linked = trace.get_current_span(propagator.extract({"traceparent": traceparent}))
        context = linked.get_span_context()
        if context.is_valid:
            current.add_link(context)
