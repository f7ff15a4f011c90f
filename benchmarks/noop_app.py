"""The HTTP reference point: a Flask app that does nothing but answer 202, served by gunicorn
with the API's own settings (`api.gunicorn_conf`), and driven by the same load generator.
Its requests per second are the ceiling of what this machine's HTTP stack (client included)
can do; the API's accepted/s is reported as a share of it.

`gunicorn --config python:api.gunicorn_conf 'benchmarks.noop_app:create()'`
"""

from __future__ import annotations

import json

from flask import Flask, Response

# About the size of a real ticket, so the wire cost matches too.
_TICKET = json.dumps(
    {
        "ticketId": "01J00000000000000000000000",
        "type": "register",
        "userId": "u000000",
        "eventId": "hot",
        "batchId": None,
        "status": "pending",
        "result": None,
        "createdAt": "2030-01-01T00:00:00.000Z",
        "completedAt": None,
    }
).encode()


def create() -> Flask:
    app = Flask("tessera-noop")

    @app.post("/events/<event_id>/registrations")
    def register(event_id: str) -> Response:
        return Response(_TICKET, status=202, mimetype="application/json")

    @app.get("/live")
    def live() -> Response:
        return Response(b'{"status":"ok"}', mimetype="application/json")

    return app
