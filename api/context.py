"""What the views use, built once per app by the factory: settings, sessions (which announce
what they commit through Redis), the group commit of accepts, and the process's listener for
the requests that wait."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from flask import current_app
from sqlalchemy.orm import Session, sessionmaker

from api.accepts import AcceptQueue
from api.waiting import Listener
from tessera.config import Settings


@dataclass
class ApiContext:
    settings: Settings
    sessions: sessionmaker[Session]
    redis: redis.Redis
    accepts: AcceptQueue
    listener: Listener
    streams: threading.BoundedSemaphore
    # More background work to stop at close (e.g. the runtime key table's watcher).
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Stop the background work and give back connections (tests build many apps)."""
        for close in self.closers:
            close()
        self.accepts.close()
        self.listener.close()
        self.sessions.kw["bind"].dispose()
        self.redis.close()


def ctx() -> ApiContext:
    context: ApiContext = current_app.extensions["tessera"]
    return context
