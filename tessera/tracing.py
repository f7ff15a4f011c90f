"""OpenTelemetry traces: the API's request, the Celery tasks and the apply pass that applied a
ticket, with PostgreSQL and Redis spans from the instrumentation libraries.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set; the other standard
variables (`OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`, headers, ...)
are read by the SDK itself. When off, the SDK is never imported and every function here returns
at its first line: no per-ticket work. A ticket carries the W3C `traceparent` of the request
that accepted it (only when that request is sampled); a pass applies tickets of many requests,
so its span links to each of their traces rather than belonging to one.

At 1 % sampling, 99 % of requests are not recorded, so what an unsampled request costs is
what tracing costs. Hence: the request's span is made by two Flask hooks here that describe it
only once the sampler has kept it (the Flask/WSGI instrumentation formatted a dozen attributes
per request first); and the PostgreSQL and Redis instrumentations run only under a recording
span (`_GATES`): otherwise each statement went through a span, its name parsed from the SQL,
to be dropped by the sampler, and statements outside any span (the API's group commit thread)
were sampled as traces of their own.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextvars import Token

    from flask import Flask, Response
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

_provider: TracerProvider | None = None
# (owner, attribute, what it was before the gate) of each gate installed (see `_gate`)
_gated: list[tuple[type, str, object]] = []
_SPAN_KEY = "tessera.span"  # in the WSGI environ: the request's span and its context token

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
    _gate()


def uninstall() -> None:
    """Stop tracing in this process (tests)."""
    global _provider  # noqa: PLW0603
    if _provider is None:
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    _ungate()
    celery = CeleryInstrumentor()  # type: ignore[no-untyped-call]
    for instrumentor in (PsycopgInstrumentor(), RedisInstrumentor(), celery):
        instrumentor.uninstrument()
    _provider.shutdown()
    _provider = None


def _gate() -> None:
    """Put a gate in front of each per-call entry of the PostgreSQL and Redis
    instrumentations: under a span that records, the instrumented call (its span a child of
    that one); otherwise the plain call, at the cost of one look at the current span."""
    import redis
    import redis.client
    import wrapt
    from opentelemetry import trace
    from opentelemetry.instrumentation.dbapi import CursorTracer

    def plain_call(wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return wrapped.__wrapped__(*args, **kwargs)  # the method the instrumentation wraps

    def plain_query(wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        _cursor, query_method, *query = args  # traced_execution(cursor, query_method, *args)
        return query_method(*query, **kwargs)

    gates: list[tuple[type, str, Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]]] = [
        (redis.Redis, "execute_command", plain_call),
        (redis.client.Pipeline, "execute", plain_call),
        (redis.client.Pipeline, "immediate_execute_command", plain_call),
        (CursorTracer, "traced_execution", plain_query),  # psycopg's statements
    ]
    for owner, name, bypass in gates:

        def gate(
            wrapped: Any,
            _instance: object,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
            bypass: Callable[[Any, tuple[Any, ...], dict[str, Any]], Any] = bypass,
        ) -> Any:
            if trace.get_current_span().is_recording():
                return wrapped(*args, **kwargs)
            return bypass(wrapped, args, kwargs)

        _gated.append((owner, name, owner.__dict__[name]))
        wrapt.wrap_function_wrapper(owner, name, gate)


def _ungate() -> None:
    while _gated:
        owner, name, before = _gated.pop()
        setattr(owner, name, before)


def instrument_app(app: Flask) -> None:
    """A span per request of this Flask app, if tracing is on: a child of the caller's trace
    when the request carries one (`traceparent`, or what OTEL_PROPAGATORS names). Call it
    first thing after making the app, so that the span is current in every other hook."""
    if _provider is None or app.extensions.get(_SPAN_KEY):
        return
    app.extensions[_SPAN_KEY] = True  # once per app: a second call would make two spans
    from flask import request
    from opentelemetry import context, propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    tracer = _provider.get_tracer("tessera.api")
    propagator = propagate.get_global_textmap()
    fields = tuple(propagator.fields)

    def start() -> None:
        headers = request.headers
        parent = propagator.extract(headers) if any(f in headers for f in fields) else None
        rule = request.url_rule
        name = f"{request.method} {rule.rule}" if rule is not None else request.method
        current = tracer.start_span(name, context=parent, kind=SpanKind.SERVER)
        if current.is_recording():  # described only when kept
            current.set_attributes(
                {
                    "http.request.method": request.method,
                    "url.scheme": request.scheme,
                    "url.path": request.path,
                    "server.address": request.host,
                    "client.address": request.remote_addr or "",
                    "user_agent.original": request.user_agent.string,
                }
            )
            if rule is not None:
                current.set_attribute("http.route", rule.rule)
        token = context.attach(trace.set_span_in_context(current, parent))
        request.environ[_SPAN_KEY] = (current, token)

    def status(response: Response) -> Response:
        found = request.environ.get(_SPAN_KEY)
        if found is not None and found[0].is_recording():
            found[0].set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                found[0].set_status(Status(StatusCode.ERROR))
        return response

    def end(error: BaseException | None) -> None:
        found = request.environ.pop(_SPAN_KEY, None)
        if found is None:
            return
        current, token = found
        if error is not None and current.is_recording():
            current.record_exception(error)
            current.set_status(Status(StatusCode.ERROR, type(error).__name__))
        current.end()
        context.detach(token)

    app.before_request(start)
    app.after_request(status)
    app.teardown_request(end)


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
    from opentelemetry import context

    tracer = _provider.get_tracer("tessera")
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        adopted: list[tuple[Span, Token[Context]]] = []
        reset = _ADOPTED.set((name, adopted))
        try:
            yield current
        finally:
            _ADOPTED.reset(reset)
            for began, token in reversed(adopted):
                began.end()
                context.detach(token)


# Inside a `span` block: its name, and the spans `link_to` began in it, for the block to end.
_ADOPTED: contextvars.ContextVar[tuple[str, list[tuple[Span, Token[Context]]]] | None] = (
    contextvars.ContextVar("tessera_tracing_adopted", default=None)
)


def link_to(trace_contexts: Iterable[str | None]) -> None:
    """Link the current span to each trace the `traceparent`s name (once each): the pass to
    the requests whose tickets it applies.

    When the current span is not recorded but one of those traces is (at 1 %, a pass's own
    trace is kept once in a hundred, so a sampled request's pass would almost never show),
    the rest of the enclosing `span` block is recorded in the first such trace instead, under
    the block's name, linked to each of them."""
    if _provider is None:
        return
    from opentelemetry import context, trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    given = list(trace_contexts)
    propagator = TraceContextTextMapPropagator()
    linked = [
        trace.get_current_span(propagator.extract({"traceparent": traceparent}))
        for traceparent in dict.fromkeys(c for c in given if c)
    ]
    contexts = [s.get_span_context() for s in linked if s.get_span_context().is_valid]
    current = trace.get_current_span()
    if current.is_recording():
        for linked_context in contexts:
            current.add_link(linked_context)
        return
    block = _ADOPTED.get()
    kept = [i for i, c in enumerate(contexts) if c.trace_flags.sampled]
    if block is None or not kept:
        return
    name, adopted = block
    began = _provider.get_tracer("tessera").start_span(
        name,
        context=trace.set_span_in_context(linked[kept[0]]),
        links=[trace.Link(c) for c in contexts],
        attributes={"tessera.tickets": len(given)},
    )
    adopted.append((began, context.attach(trace.set_span_in_context(began))))
