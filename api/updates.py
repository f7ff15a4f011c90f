"""`GET /events/{eventId}/updates`: Server-Sent Events of an event's ticket and registration
status changes.

The event log in PostgreSQL is the stream; Redis pub/sub only says "look now". Every writer of
an event's log rows holds that event's row lock, so ids within one event grow in commit order
and `id > cursor` never skips a row. A reconnecting client sends `Last-Event-ID` and gets what
it missed within the event log's retention (`models.event_log.RETENTION`, one hour).

Under gunicorn's gthread workers a stream holds a thread, so streams end after
`STREAM_SECONDS` (the browser's EventSource reconnects by itself, resuming by `Last-Event-ID`)
and each API process serves at most `MAX_STREAMS` at once (503 beyond, with Retry-After), which
leaves threads for ordinary requests.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import redis
from flask import Blueprint, Response, request, stream_with_context

from api.body import checked_id
from api.context import ctx
from api.errors import ApiError, FieldError, validation_error
from models import event_log, queries
from models.errors import EventNotFound
from tessera.messaging import event_channel

bp = Blueprint("updates", __name__)

HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 300.0
POLL_SECONDS = 1.0
MAX_STREAMS = 8
RETRY_MILLISECONDS = 1000

_open_streams = threading.BoundedSemaphore(MAX_STREAMS)


def _last_event_id() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("lastEventId")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise validation_error(
            [FieldError("Last-Event-ID", "must be an event id from this stream")]
        )
    return int(raw)


def _fetch(event_id: str, after: int) -> list[event_log.Update]:
    with ctx().sessions.begin() as session:
        return event_log.entries_after(session, event_id, after)


def _latest_id(event_id: str) -> int:
    with ctx().sessions.begin() as session:
        return event_log.latest_id(session, event_id)


def format_message(log_id: int, kind: str, payload: dict[str, Any]) -> str:
    data = json.dumps(payload, separators=(",", ":"))
    return f"id: {log_id}\nevent: {kind}\ndata: {data}\n\n"


@bp.get("/events/<event_id>/updates")
def stream_updates(event_id: str) -> Response:
    after = _last_event_id()
    checked_id(event_id, EventNotFound)  # e.g. a NUL byte: never sent to PostgreSQL
    with ctx().sessions.begin() as session:
        queries.require_event(session, event_id)
    if after is None:
        after = _latest_id(event_id)  # a new client hears what happens from now on
    if not _open_streams.acquire(blocking=False):
        raise ApiError(
            503,
            "NOT_READY",
            "Too many open update streams on this server; retry shortly.",
            headers={"Retry-After": "2"},
        )
    response = Response(
        stream_with_context(_stream(event_id, after)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.call_on_close(_open_streams.release)
    return response


def _stream(event_id: str, cursor: int) -> Iterator[str]:
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    pubsub: Any = None
    with contextlib.suppress(redis.RedisError):
        pubsub = ctx().redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        pubsub.subscribe(event_channel(event_id))
    started = last_sent = time.monotonic()
    try:
        while time.monotonic() - started < STREAM_SECONDS:
            for entry in _fetch(event_id, cursor):
                cursor = entry.log_id or cursor
                last_sent = time.monotonic()
                yield format_message(cursor, entry.kind, entry.payload)
            if time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
                last_sent = time.monotonic()
                yield ": keep-alive\n\n"
            if pubsub is not None:
                try:
                    if pubsub.get_message(timeout=POLL_SECONDS) is not None:
                        # a burst of wake-ups needs one read of the log, not one each
                        while pubsub.get_message(timeout=0) is not None:
                            pass
                    continue
                except redis.RedisError:
                    pubsub = None
            time.sleep(POLL_SECONDS)
    finally:
        if pubsub is not None:
            with contextlib.suppress(redis.RedisError):
                pubsub.close()
