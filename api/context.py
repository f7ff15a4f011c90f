"""What the views use, built once per app by the factory: settings, sessions, Redis, wake-ups."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app
from sqlalchemy.orm import Session, sessionmaker

from tessera.config import Settings
from tessera.messaging import Waker


@dataclass
class ApiContext:
    settings: Settings
    sessions: sessionmaker[Session]
    redis: redis.Redis
    waker: Waker


def ctx() -> ApiContext:
    context: ApiContext = current_app.extensions["tessera"]
    return context
