"""gunicorn settings for `tessera api` (environment-overridable).

Request handling is I/O-bound (PostgreSQL round trips, Redis, long-polls that sleep on a
pub/sub socket), so threads, not processes, carry the concurrency: `gthread` with a few
workers and many threads each."""

from __future__ import annotations

import os

bind = os.environ.get("TESSERA_API_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("TESSERA_API_WORKERS", "2"))
threads = int(os.environ.get("TESSERA_API_THREADS", "16"))
# Long-polls (?wait= up to 30 s) and SSE streams hold a thread; the timeout only fires on a
# worker that stops answering its heartbeat, so it must exceed neither's natural length.
timeout = int(os.environ.get("TESSERA_API_TIMEOUT", "60"))
graceful_timeout = 5
keepalive = 5
accesslog = None  # the app writes its own structured request log
errorlog = "-"
loglevel = os.environ.get("TESSERA_API_LOG_LEVEL", "info")
