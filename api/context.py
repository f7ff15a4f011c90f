"""What the views use, built once per app by the factory: settings, sessions (which announce
what they commit through Redis), the group commit of accepts, and the process's listener for
the requests that wait."""

from __future__ import annotations

import threading
from dataclasses import dataclass

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

    def close(self) -> None:
        """Stop the background work and give back connections (tests build many apps)."""
        self.accepts.close()
        self.listener.close()
        self.sessions.kw["bind"].dispose()
        self.redis.close()


def ctx() -> ApiContext:
    context: ApiContext = current_app.extensions["tessera"]
    return context
