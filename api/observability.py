"""Request logs and Prometheus metrics for the API, plus the workers' counters and queue lag.

Under gunicorn the API is several processes: with PROMETHEUS_MULTIPROC_DIR set (`tessera api`
sets it) request metrics are aggregated across them. Worker counters (tickets applied, webhook
attempts) come from Redis, and the queue lag (age of the oldest pending ticket) and the webhook
backlog from PostgreSQL, at scrape time.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api.context import ctx
from api.routes import Access, Reply, Resource, route
from models.storage import outbox, tickets
from tessera.telemetry import (
    BATCH_SIZE_BUCKETS,
    BATCH_SIZE_FIELD,
    SETTLE_BUCKETS,
    SETTLE_FIELD,
    WEBHOOK_OUTCOMES,
    cumulative_buckets,
    live_workers,
    read_worker_metrics,
    write_json_line,
)

log = logging.getLogger("tessera.api")

bp = Resource("observability", __name__, tag="operations")
_SOURCES = "tessera.metrics"


class _WorkerAndQueueCollector(Collector):
    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        with self.app.app_context():
            try:
                counters = read_worker_metrics(ctx().redis)
            except Exception:  # Redis down: the rest of the scrape still answers
                counters = {}
            applied = CounterMetricFamily(
                "tessera_tickets_applied",
                "Tickets applied by the workers, by result",
                labels=["result"],
            )
            for key, value in sorted(counters.items()):
                if key.startswith("applied:"):
                    applied.add_metric([key.split(":", 1)[1]], value)
            yield applied
            buckets = cumulative_buckets(
                counters, BATCH_SIZE_FIELD, BATCH_SIZE_BUCKETS, counters.get("batch_count", 0)
            )
            yield HistogramMetricFamily(
                "tessera_apply_batch_size",
                "Tickets per apply transaction",
                buckets=buckets,
                sum_value=counters.get("batch_sum", 0),
            )
            settle = cumulative_buckets(
                counters, SETTLE_FIELD, SETTLE_BUCKETS, counters.get("settle_count", 0)
            )
            yield HistogramMetricFamily(
                "tessera_ticket_settle_seconds",
                "Time from a ticket's acceptance (its 202) to its completion",
                buckets=settle,
                sum_value=counters.get("settle_sum_ms", 0) / 1000,
            )
            yield CounterMetricFamily(
                "tessera_offers_expired",
                "Offers that ran out unanswered and were ended by an applier",
                value=counters.get("offers_expired", 0),
            )
            yield from _workers()
            attempts = CounterMetricFamily(
                "tessera_webhook_attempts",
                "Webhook delivery attempts by outcome: delivered, retrying (failed, retried "
                "later) or failed (failed, given up)",
                labels=["outcome"],
            )
            for outcome in WEBHOOK_OUTCOMES:
                attempts.add_metric([outcome], counters.get(f"webhook:{outcome}", 0))
            yield attempts
            try:
                with ctx().sessions.begin() as session:
                    backlog = tickets.backlog(session)
                    deliveries = outbox.backlog(session)
            except Exception:  # the database away: say so, and still answer the scrape
                log.warning("metrics: the database does not answer")
                yield _database_ready(0)
                return
            yield _database_ready(1)
            yield GaugeMetricFamily(
                "tessera_webhook_deliveries_pending",
                "Webhook deliveries not yet delivered or failed",
                value=deliveries.pending,
            )
            yield GaugeMetricFamily(
                "tessera_webhook_oldest_due_seconds",
                "How long the oldest due webhook delivery (not being sent) has waited",
                value=deliveries.oldest_due_age_seconds,
            )
            lag = backlog.oldest_age_seconds
            yield GaugeMetricFamily(
                "tessera_queue_lag_seconds", "Age of the oldest pending ticket", value=lag
            )
            yield GaugeMetricFamily(
                "tessera_tickets_pending", "Pending tickets", value=backlog.pending
            )


def _database_ready(ready: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "tessera_database_ready",
        "1 if PostgreSQL answered this scrape's queries, else 0",
        value=ready,
    )


def _workers() -> Iterator[GaugeMetricFamily]:
    try:
        alive = live_workers(ctx().redis, time.time())
    except Exception:  # Redis down: no heartbeat can be read, so none is shown
        return
    workers = GaugeMetricFamily(
        "tessera_workers",
        "Celery workers with a heartbeat in the last 10 s, by kind (apply, webhooks)",
        labels=["kind"],
    )
    for kind, count in sorted(alive.items()):
        workers.add_metric([kind], count)
    yield workers


def init_app(app: Flask, json_lines: bool = True) -> None:
    registry = CollectorRegistry()
    requests_total = Counter(
        "tessera_http_requests",
        "HTTP requests by route and status",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "tessera_http_request_duration_seconds",
        "HTTP request latency by route",
        ["method", "route"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30),
    )
    accepted = Counter(
        "tessera_tickets_accepted", "Tickets accepted (202) by the API", registry=registry
    )
    worker_collector = _WorkerAndQueueCollector(app)

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        requests_total.labels(request.method, route, str(response.status_code)).inc()
        latency.labels(request.method, route).observe(elapsed)
        if response.status_code == 202 and request.method in {"POST", "DELETE"}:
            accepted.inc(int(g.get("accepted_tickets", 1)))
        if log.isEnabledFor(logging.INFO):
            fields = {
                "requestId": g.get("request_id"),
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status_code,
                "durationMs": round(elapsed * 1000, 2),
                "ticketId": g.get("ticket_id"),
                "eventId": (request.view_args or {}).get("event_id"),
            }
            if json_lines:
                write_json_line(log.name, "request", fields)
            else:
                log.info("request", extra=fields)
        return response

    app.extensions[_SOURCES] = _Sources(registry, worker_collector)


@dataclass(frozen=True)
class _Sources:
    """What a scrape reads: this process's request metrics, the workers' and the queue's."""

    requests: CollectorRegistry
    workers: _WorkerAndQueueCollector


@route(
    bp,
    "GET",
    "/metrics",
    operation_id="getMetrics",
    access=Access.CLIENT,
    summary="Prometheus metrics (API requests, worker counters, queue lag)",
    replies=(Reply(200, "Prometheus text exposition format.", media="text/plain"),),
)
def metrics() -> Response:
    sources: _Sources = current_app.extensions[_SOURCES]
    scrape = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
    else:
        scrape.register(_Forward(sources.requests))
    scrape.register(sources.workers)
    return Response(generate_latest(scrape), mimetype=CONTENT_TYPE_LATEST)


class _Forward(Collector):
    """Expose one registry's metrics through another."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield from self.source.collect()  # type: ignore[misc]
