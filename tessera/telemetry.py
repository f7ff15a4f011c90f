"""Worker telemetry shared through Redis, and structured JSON logging.

Workers are many processes on many machines; their counters go to one Redis hash (HINCRBY is
atomic) and the API's /metrics renders them. Losing them with a Redis restart only resets
counters, which Prometheus handles as a process restart would.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import itertools
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import redis
from redis.client import Pipeline

METRICS_KEY = "tessera:metrics:worker"
BATCH_SIZE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000)
BATCH_SIZE_FIELD = "batch_in:"  # + a bucket's bound: the batches of that size bucket alone
# The 202-to-done time of a ticket (acceptance to completion, both the database's clock).
SETTLE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SETTLE_FIELD = "settle_in:"
# Workers' last heartbeats, by Celery hostname: the API's /metrics counts the live ones.
WORKERS_KEY = "tessera:workers"
WORKER_ALIVE_SECONDS = 10.0  # five of Celery's 2 s heartbeats
WORKER_FORGOTTEN_SECONDS = 3600.0
WEBHOOK_WORKER_PREFIX = "tessera-webhooks-"

log = logging.getLogger("tessera.telemetry")


# Many HINCRBYs of one hash as one command: redis-py spends ~100 Python calls per command it
# packs and parses, and a pass's publish carried seven of them.
_HINCRBY_MANY = (
    "for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end return 0"
)


def count_batch(
    pipe: Pipeline,
    result_statuses: Iterable[str],
    settle_seconds: Iterable[float] = (),
    offers_expired: int = 0,
) -> None:
    """Add one applied batch (its tickets by result, their settle times, the offers it ended)
    to the worker counters, as one command of `pipe`: the publishing of the batch's updates
    carries it, no round trip of its own.

    A histogram's buckets are counted where each value falls, not cumulatively (a value adds to
    one field, not to every bucket above it: a pass of one ticket sent ~25 HINCRBYs), and are
    summed into Prometheus's cumulative `le` buckets when read (`cumulative_buckets`)."""
    increments: dict[str, int] = {}
    if offers_expired:
        increments["offers_expired"] = offers_expired
    _count_settle_times(increments, settle_seconds)
    counts: dict[str, int] = {}
    for status in result_statuses:
        counts[status] = counts.get(status, 0) + 1
    batch_size = sum(counts.values())
    if batch_size:
        for status, count in counts.items():
            increments[f"applied:{status}"] = count
        increments[f"{BATCH_SIZE_FIELD}{_bucket(BATCH_SIZE_BUCKETS, batch_size)}"] = 1
        increments["batch_count"] = 1
        increments["batch_sum"] = batch_size
    if increments:
        arguments: list[str | int] = list(itertools.chain.from_iterable(increments.items()))
        pipe.eval(_HINCRBY_MANY, 1, METRICS_KEY, *arguments)


def _bucket(bounds: Sequence[float], value: float) -> str:
    """The smallest bound that holds `value`, as the counter field names it."""
    for bound in bounds:
        if value <= bound:
            return str(bound)
    return "+Inf"


def cumulative_buckets(
    counters: Mapping[str, int], field: str, bounds: Sequence[float], count: int
) -> list[tuple[str, float]]:
    """Prometheus's cumulative `le` buckets from per-bucket counters, `+Inf` being `count`."""
    buckets: list[tuple[str, float]] = []
    total = 0
    for bound in bounds:
        total += counters.get(f"{field}{bound}", 0)
        buckets.append((str(bound), total))
    buckets.append(("+Inf", count))
    return buckets


def _count_settle_times(increments: dict[str, int], settle_seconds: Iterable[float]) -> None:
    count, total_ms = 0, 0
    for seconds in settle_seconds:
        count += 1
        total_ms += round(seconds * 1000)
        field = f"{SETTLE_FIELD}{_bucket(SETTLE_BUCKETS, seconds)}"
        increments[field] = increments.get(field, 0) + 1
    if count:
        increments["settle_count"] = count
        increments["settle_sum_ms"] = total_ms


WEBHOOK_OUTCOMES = ("delivered", "retrying", "failed")


def count_webhook_attempts(client: redis.Redis, outcomes: Mapping[str, int]) -> None:
    """Add recorded delivery attempts by outcome (`WEBHOOK_OUTCOMES`) to the worker counters;
    a Redis outage loses the increment, never the attempt."""
    pipe = client.pipeline(transaction=False)
    for outcome, count in outcomes.items():
        if count:
            pipe.hincrby(METRICS_KEY, f"webhook:{outcome}", count)
    try:
        pipe.execute()
    except redis.RedisError:
        log.warning("could not count webhook attempts")


def read_worker_metrics(client: redis.Redis) -> dict[str, int]:
    raw: Mapping[bytes, bytes] = client.hgetall(METRICS_KEY)  # type: ignore[assignment]
    return {k.decode(): int(v) for k, v in raw.items()}


def worker_heartbeat(client: redis.Redis, hostname: str, now: float) -> None:
    """Record that the worker `hostname` is alive (called on each of Celery's heartbeats)."""
    # Redis away: the worker looks gone until it is back, which is what an alert wants
    with contextlib.suppress(redis.RedisError):
        client.hset(WORKERS_KEY, hostname, str(now))


def live_workers(client: redis.Redis, now: float) -> dict[str, int]:
    """Workers whose last heartbeat is recent, by kind (`apply`, `webhooks`); workers silent
    for an hour are forgotten, so a scaled-down fleet stops being counted as lost."""
    raw: Mapping[bytes, bytes] = client.hgetall(WORKERS_KEY)  # type: ignore[assignment]
    alive = {"apply": 0, "webhooks": 0}
    forgotten: list[bytes] = []
    for host, seen in raw.items():
        age = now - float(seen)
        if age > WORKER_FORGOTTEN_SECONDS:
            forgotten.append(host)
        elif age <= WORKER_ALIVE_SECONDS:
            kind = "webhooks" if host.decode().startswith(WEBHOOK_WORKER_PREFIX) else "apply"
            alive[kind] += 1
    if forgotten:
        client.hdel(WORKERS_KEY, *forgotten)
    return alive


# --- logs ---------------------------------------------------------------------------------

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# The request a log line belongs to: set by the API for each request, carried to the worker in
# the wake-up task's headers (`request_headers`) and set there while the task runs, so the
# task's and its passes' lines name the request that woke them.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tessera_request_id", default=None
)
REQUEST_ID_HEADER = "requestId"


def request_headers() -> dict[str, Any]:
    """Options for `send_task`: the current request id as a message header, if there is one."""
    request_id = REQUEST_ID.get()
    return {"headers": {REQUEST_ID_HEADER: request_id}} if request_id else {}


@contextlib.contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    token = REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields
    (requestId, ticketId, eventId, ...); the current request's id unless a field names one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if "requestId" not in entry and (request_id := REQUEST_ID.get()) is not None:
            entry["requestId"] = request_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """`TESSERA_LOG_FORMAT=text`: the same records for a human, the request id in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "requestId", None) or REQUEST_ID.get()
        return f"{line} [{request_id}]" if request_id else line


def formatter(json_format: bool) -> logging.Formatter:
    return JsonFormatter() if json_format else TextFormatter()


def write_json_line(logger: str, msg: str, fields: dict[str, Any]) -> None:
    """The line `JsonFormatter` would write for an INFO record with these `extra=` fields,
    without the logging machinery: for the log written on every request, where a record,
    its handlers and its formatter cost more than the rest of the line."""
    entry: dict[str, Any] = {
        "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "level": "info",
        "logger": logger,
        "msg": msg,
        **fields,
    }
    sys.stderr.write(json.dumps(entry, default=str, separators=(",", ":")) + "\n")


def configure_logging(json_format: bool = True, level: int | str = logging.INFO) -> None:
    """Every logger of the process (Tessera's, Celery's, the libraries') as one format on
    stderr: the root logger's one handler; Tessera's loggers propagate to it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(json_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logger = logging.getLogger("tessera")
    logger.handlers[:] = []
    logger.setLevel(level)
    logger.propagate = True
