"""The in-memory reference point: the contract's register/unregister/ticket routes served from
dicts by Flask, under gunicorn with the API's own settings (`api.gunicorn_conf`), driven by the
same load generators as Tessera. Every command is applied at once, by the real capacity,
FIFO-waitlist and promotion rule, so its ticket is already `completed` in the 202: the most any
Flask design can do here, and nothing it promises survives a restart.

`gunicorn --config python:api.gunicorn_conf 'benchmarks.memory_app:create(events={"hot": 2000})'`

What it keeps of the contract: `Authorization: Bearer <key>` checked against the keys of
`TESSERA_API_KEYS` (401 otherwise), a client key sees only its own tickets, `userId` checked for
form, an unknown event → 404 `EVENT_NOT_FOUND`, `?wait=` checked for range, problem+json errors,
`X-Request-ID`, and the ticket in Tessera's JSON shape (camelCase, `createdAt`/`completedAt` in
RFC 3339 with milliseconds). What it leaves out: users (any well-formed `userId` exists),
parties, policies, idempotency, rate limits, the ledger (no `ledgerIndex`/`ledgerHash`), logs
and metrics.

State is per process. The API's gunicorn runs several processes (`TESSERA_API_WORKERS`,
default 2), and the reference runs as many, so that it may use every core as the API does (one
process would cap it at one core and flatter Tessera's ratio). A dict per process would split an
event's state between processes, so the benchmarks keep every event's commands in one process:
- `few-clients` and `sequential` (`benchmarks.loops`): each client owns its events and creates
  them with `PUT /bench/events/{eventId}` over its own keep-alive connection before the clock
  starts; that connection (and so every command and long-poll of the client) stays with the
  process that accepted it. A client that had to reconnect to another process would get 404
  for its events and tickets, which the benchmark counts as a failure.
- `memory-hot`: the hot event is created at boot (`create(events=...)`) in every process, so
  each process seats its own copy. The figure of interest is the cost per request, and a seat,
  a waitlist place and a denial cost the same dict operations.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_WAIT = 30


@dataclass
class MemoryEvent:
    capacity: int
    waitlist_enabled: bool = True
    # dicts as ordered sets: seats in the order taken, the line in FIFO order, O(1) removal
    seated: dict[str, None] = field(default_factory=dict)
    waiting: dict[str, None] = field(default_factory=dict)

    def register(self, user_id: str) -> dict[str, Any]:
        if user_id in self.seated:
            return _result("denied", "already registered", code="ALREADY_REGISTERED")
        if user_id in self.waiting:
            return _result("denied", "already waitlisted", code="ALREADY_WAITLISTED")
        if len(self.seated) < self.capacity:
            self.seated[user_id] = None
            return _result("registered", "registered")
        if not self.waitlist_enabled:
            return _result("denied", "the event is full", code="EVENT_FULL")
        self.waiting[user_id] = None
        position = len(self.waiting)
        return _result("waitlisted", f"waitlisted at position {position}", position=position)

    def unregister(self, user_id: str) -> dict[str, Any]:
        if user_id in self.waiting:
            del self.waiting[user_id]
            return _result("unregistered", "unregistered")
        if user_id not in self.seated:
            return _result("denied", "not registered", code="NOT_REGISTERED")
        del self.seated[user_id]
        promoted: list[str] = []
        # the head of the line takes the freed seat in the same step
        while self.waiting and len(self.seated) < self.capacity:
            head = next(iter(self.waiting))
            del self.waiting[head]
            self.seated[head] = None
            promoted.append(head)
        message = "unregistered" + (f"; {', '.join(promoted)} promoted" if promoted else "")
        return _result("unregistered", message, promoted=promoted)


def _result(
    status: str,
    message: str,
    *,
    code: str | None = None,
    position: int | None = None,
    promoted: list[str] | None = None,
) -> dict[str, Any]:
    promoted = promoted or []
    return {
        "status": status,
        "code": code,
        "message": message,
        "position": position,
        "promotedUserId": promoted[0] if promoted else None,
        "promotedUserIds": promoted,
        "offeredUserIds": [],
        "offers": [],
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(body: Any, status: int, mimetype: str = "application/json") -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype=mimetype)


def _problem(status: int, code: str, detail: str) -> Response:
    body = {
        "type": "about:blank",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
    }
    return _json(body, status, "application/problem+json")


def _configured_keys(value: str) -> dict[str, str]:
    """`key1:admin,key2:client` → {key: role}."""
    keys: dict[str, str] = {}
    for item in value.split(","):
        key, _, role = item.strip().rpartition(":")
        if key:
            keys[key] = role
    return keys


class MemoryStore:
    """One process's events and tickets; one lock, so a gthread worker is as right as gevent."""

    def __init__(self, events: Mapping[str, int]) -> None:
        self.events = {event_id: MemoryEvent(capacity) for event_id, capacity in events.items()}
        self.tickets: dict[str, tuple[str, dict[str, Any]]] = {}  # id → (owner key, ticket)
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self._prefix = f"M{os.getpid() % 10_000_000:07d}"

    def command(self, kind: str, event_id: str, user_id: str, owner: str) -> dict[str, Any] | None:
        """Apply a command at once; None when the event is unknown."""
        now = _now()
        with self.lock:
            event = self.events.get(event_id)
            if event is None:
                return None
            result = event.register(user_id) if kind == "register" else event.unregister(user_id)
            ticket_id = f"{self._prefix}{next(self._ids):018d}"
            ticket = {
                "ticketId": ticket_id,
                "type": kind,
                "userId": user_id,
                "eventId": event_id,
                "seats": 1,
                "batchId": None,
                "status": "completed",
                "result": result,
                "createdAt": now,
                "completedAt": now,
            }
            self.tickets[ticket_id] = (owner, ticket)
        return ticket


def create(events: Mapping[str, int] | None = None) -> Flask:
    """The app; `events` ({eventId: capacity}, waitlist on) exist in every process from boot."""
    app = Flask("tessera-memory")
    store = MemoryStore(events or {})
    keys = _configured_keys(os.environ.get("TESSERA_API_KEYS", ""))
    request_ids = itertools.count(1)

    def caller() -> tuple[str, str] | None:
        """(key, role) of the request's bearer key, or None."""
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        role = keys.get(key) if scheme.lower() == "bearer" else None
        return None if role is None else (key, role)

    def accepted(ticket: dict[str, Any] | None, event_id: str) -> Response:
        if ticket is None:
            return _problem(404, "EVENT_NOT_FOUND", f"no event {event_id}")
        response = _json(ticket, 202)
        response.headers["Location"] = f"/tickets/{ticket['ticketId']}"
        return response

    @app.after_request
    def request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = f"m{next(request_ids)}"
        return response

    @app.post("/events/<event_id>/registrations")
    def register(event_id: str) -> Response:
        who = caller()
        if who is None:
            return _problem(401, "UNAUTHORIZED", "a valid bearer key is required")
        body = request.get_json(silent=True)
        user_id = body.get("userId") if isinstance(body, dict) else None
        if not isinstance(user_id, str) or not _ID.fullmatch(user_id):
            return _problem(422, "VALIDATION_ERROR", "userId: 1-64 of A-Z a-z 0-9 _ -")
        return accepted(store.command("register", event_id, user_id, who[0]), event_id)

    @app.delete("/events/<event_id>/registrations/<user_id>")
    def unregister(event_id: str, user_id: str) -> Response:
        who = caller()
        if who is None:
            return _problem(401, "UNAUTHORIZED", "a valid bearer key is required")
        if not _ID.fullmatch(user_id):
            return _problem(422, "VALIDATION_ERROR", "userId: 1-64 of A-Z a-z 0-9 _ -")
        return accepted(store.command("unregister", event_id, user_id, who[0]), event_id)

    @app.get("/tickets/<ticket_id>")
    def ticket(ticket_id: str) -> Response:
        who = caller()
        if who is None:
            return _problem(401, "UNAUTHORIZED", "a valid bearer key is required")
        wait = request.args.get("wait")
        if wait is not None and not (wait.isdigit() and int(wait) <= _MAX_WAIT):
            return _problem(422, "VALIDATION_ERROR", f"wait: an integer 0-{_MAX_WAIT}")
        # Every ticket is completed in its 202, so a long-poll answers at once.
        found = store.tickets.get(ticket_id)
        if found is None or (who[1] != "admin" and found[0] != who[0]):
            return _problem(404, "TICKET_NOT_FOUND", f"no ticket {ticket_id}")
        return _json(found[1], 200)

    @app.put("/bench/events/<event_id>")
    def create_event(event_id: str) -> Response:
        """Benchmark set-up, not the contract: an event in the process that answers."""
        who = caller()
        if who is None or who[1] != "admin":
            return _problem(403, "FORBIDDEN", "an admin key is required")
        body = request.get_json(silent=True)
        capacity = body.get("capacity") if isinstance(body, dict) else None
        if type(capacity) is not int or capacity < 1 or not _ID.fullmatch(event_id):
            return _problem(422, "VALIDATION_ERROR", "capacity: an integer >= 1")
        waitlist = bool(body.get("waitlistEnabled", True)) if isinstance(body, dict) else True
        with store.lock:
            store.events[event_id] = MemoryEvent(capacity, waitlist)
        return _json({"eventId": event_id, "capacity": capacity, "pid": os.getpid()}, 201)

    @app.get("/live")
    def live() -> Response:
        return Response(b'{"status":"ok"}', mimetype="application/json")

    return app
