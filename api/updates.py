"""`GET /events/{eventId}/updates`: Server-Sent Events of an event's ticket and registration
status changes.

The event log in PostgreSQL is the stream: every writer of an event's log rows holds that
event's row lock, so ids within one event grow in commit order and `id > cursor` never skips a
row. A reconnecting client sends `Last-Event-ID` and gets what it missed within the log's
retention (`models.storage.event_log.RETENTION`, one hour). Streams of one event in one process
share a
`Feed` (`api.waiting`): one read of the log per published batch, however many streams.

Under gunicorn's gevent workers a stream is a greenlet, not a thread. Streams still end after
`STREAM_SECONDS` (EventSource reconnects by itself, resuming by `Last-Event-ID`), and each API
process serves at most `TESSERA_MAX_STREAMS` at once (503 beyond, with Retry-After); each key or
attendee holds at most `TESSERA_MAX_STREAMS_PER_PRINCIPAL` (429 beyond: `api.work_limits`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from flask import Response, request, stream_with_context

from api import ratelimit
from api.body import checked_id
from api.context import ctx
from api.errors import ApiError, FieldError, validation_error
from api.params import EVENT_ID
from api.routes import Access, Param, Reply, Resource, route
from models.domain.errors import EventNotFound
from models.storage import event_log, queries

bp = Resource("updates", __name__, tag="commands")

HEARTBEAT_SECONDS = 15.0
STREAM_SECONDS = 300.0
RETRY_MILLISECONDS = 1000


def _last_event_id() -> int | None:
    # Empty is the same as absent (documented so): a client that kept an empty id, or a proxy
    # that sends the header blank, starts from now rather than getting a 422.
    raw = request.headers.get("Last-Event-ID") or request.args.get("lastEventId")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise validation_error(
            [FieldError("Last-Event-ID", "must be an event id from this stream")]
        )
    return int(raw)


def _latest_id(event_id: str) -> int:
    with ctx().sessions.begin() as session:
        return event_log.latest_id(session, event_id)


def format_message(log_id: int, kind: str, payload: dict[str, Any]) -> str:
    data = json.dumps(payload, separators=(",", ":"))
    return f"id: {log_id}\nevent: {kind}\ndata: {data}\n\n"


@route(
    bp,
    "GET",
    "/events/<event_id>/updates",
    operation_id="streamEventUpdates",
    access=Access.CLIENT,
    summary="Stream of the event's status changes",
    replies=(
        Reply(
            200,
            "Server-sent events: `event:` ticket.completed, registration.promoted, "
            "offer.made, offer.accepted, offer.declined, offer.expired or "
            "registration.drawn, "
            "`data:` one JSON object, `id:` increasing; a comment every 15 s.",
            media="text/event-stream",
        ),
    ),
    params=(
        EVENT_ID,
        Param(
            "Last-Event-ID",
            "header",
            {"type": "string", "pattern": "^(?:[0-9]{1,18})?$"},
            "Resume after this id (updates of the last hour are kept); empty or absent: "
            "from now on.",
        ),
    ),
    errors=(404, 422),
    notes="A stream ends after a few minutes; EventSource reconnects with Last-Event-ID "
    "and misses nothing.",
    error_notes={503: "NOT_READY: too many open streams on this server; retry."},
)
def stream_updates(event_id: str) -> Response:
    after = _last_event_id()
    checked_id(event_id, EventNotFound)  # e.g. a NUL byte: never sent to PostgreSQL
    with ctx().sessions.begin() as session:
        queries.require_event(session, event_id)
    if after is None:
        after = _latest_id(event_id)  # a new client hears what happens from now on
    release_slot = ratelimit.stream_slot()  # 429 when the caller holds its share already
    streams = ctx().streams
    if not streams.acquire(blocking=False):
        release_slot()
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
    response.call_on_close(streams.release)
    response.call_on_close(release_slot)
    return response


def _stream(event_id: str, cursor: int) -> Iterator[str]:
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    started = time.monotonic()
    with ctx().listener.feed(event_id) as feed:
        while time.monotonic() - started < STREAM_SECONDS:
            entries = feed.read(cursor, timeout=HEARTBEAT_SECONDS)
            if not entries:
                yield ": keep-alive\n\n"
            for entry in entries:
                cursor = entry.log_id or cursor
                yield format_message(cursor, entry.kind, entry.payload)
