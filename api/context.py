"""What the views use, built once per app by the factory: settings, sessions (which announce
what they commit through Redis), and the Redis client the waiting views listen on."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app
from sqlalchemy.orm import Session, sessionmaker

from tessera.config import Settings


@dataclass
class ApiContext:
    settings: Settings
    sessions: sessionmaker[Session]
    redis: redis.Redis


def ctx() -> ApiContext:
    context: ApiContext = current_app.extensions["tessera"]
    return context
