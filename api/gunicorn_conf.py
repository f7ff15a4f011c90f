"""gunicorn settings for `tessera api` (environment-overridable).

Request handling is I/O-bound (PostgreSQL round trips, Redis, long-polls and SSE streams that
wait), so an evented worker carries the concurrency: `gevent`, a few processes, each holding
thousands of connections as greenlets. psycopg 3 (>= 3.1.14), redis-py and the Celery client
cooperate with gevent's monkey-patching, which gunicorn applies before it loads the app. Set
`TESSERA_API_WORKER_CLASS=gthread` for plain threads (then streams hold a thread each).
"""

from __future__ import annotations

import os
from typing import Any

bind = os.environ.get("TESSERA_API_BIND", "127.0.0.1:8000")
worker_class = os.environ.get("TESSERA_API_WORKER_CLASS", "gevent")
workers = int(os.environ.get("TESSERA_API_WORKERS", "2"))
worker_connections = int(os.environ.get("TESSERA_API_CONNECTIONS", "5000"))
threads = int(os.environ.get("TESSERA_API_THREADS", "16"))  # gthread only
# Long-polls (?wait= up to 30 s) and SSE streams wait; the timeout only fires on a worker that
# stops answering its heartbeat, so it must exceed neither's natural length.
timeout = int(os.environ.get("TESSERA_API_TIMEOUT", "60"))
graceful_timeout = 5
# Idle keep-alive connections cost a greenlet's nothing; a long timeout makes it unlikely that a
# client reuses one at the very moment the server closes it (a reset POST).
keepalive = int(os.environ.get("TESSERA_API_KEEPALIVE", "75"))
# gunicorn's largest: a longer request line is answered 414 by gunicorn itself (plain text,
# before the app; outside the OpenAPI document). At the default 4,094, query strings a client
# may legitimately build (repeated parameters) met it: Schemathesis found one at 4,384 bytes.
limit_request_line = 8190
accesslog = None  # the app writes its own structured request log
errorlog = "-"
loglevel = os.environ.get("TESSERA_API_LOG_LEVEL", "info")


def on_starting(server: Any) -> None:
    """gunicorn's own messages (booting, workers started and lost) in the same format as the
    app's (`TESSERA_LOG_FORMAT`), and only once: the app's root handler must not repeat them."""
    from tessera.telemetry import formatter

    log_format = formatter(os.environ.get("TESSERA_LOG_FORMAT", "json") == "json")
    for handler in server.log.error_log.handlers:
        handler.setFormatter(log_format)
    server.log.error_log.propagate = False
