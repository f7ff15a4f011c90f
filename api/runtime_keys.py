"""Keys made at run time, as each API process sees them: every key's digest in memory, so a
request is authenticated without reading the database.

The table is reloaded once a second and at once when any process publishes a change on
`CHANNEL` (a key made or revoked), so a revoked key is refused everywhere within about a second
(the contract allows two), even without Redis. Uses are remembered in memory and written as
`lastUsedAt` every `FLUSH_SECONDS`, one statement for all keys, never a write per request.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

import redis
from sqlalchemy.orm import Session, sessionmaker

from models.storage import api_keys

log = logging.getLogger("tessera.api.keys")

CHANNEL = "tessera:keys"
RELOAD_SECONDS = 1.0
FLUSH_SECONDS = 5.0


class RuntimeKeys:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        make_redis: Callable[[], redis.Redis],
        *,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.make_redis = make_redis
        self.flush_seconds = flush_seconds
        self._known: dict[bytes, api_keys.KnownKey] = {}
        self._used: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._started = False

    def find(self, secret: str) -> api_keys.KnownKey | None:
        if not secret.startswith(api_keys.SECRET_PREFIX):
            return None  # not one of ours: no digest to compute
        self._start()
        found = self._known.get(api_keys.digest(secret))
        if found is not None:
            self._used[found.key_id] = dt.datetime.now(dt.UTC)
        return found

    def changed(self, publisher: redis.Redis) -> None:
        """A key was made or revoked here: reload now, and tell every other process."""
        self._safely(self.reload)
        try:
            publisher.publish(CHANNEL, "changed")
        except redis.RedisError as error:  # the others still reload within a second
            log.warning("cannot announce a key change (%s)", type(error).__name__)

    def reload(self) -> None:
        with self.sessions.begin() as session:
            self._known = api_keys.known(session)

    def flush(self) -> None:
        with self._lock:
            used, self._used = self._used, {}
        if not used:
            return
        try:
            with self.sessions.begin() as session:
                api_keys.record_use(session, used)
        except Exception:
            with self._lock:  # keep them for the next flush, unless newer uses came meanwhile
                for key_id, at in used.items():
                    self._used.setdefault(key_id, at)
            raise

    def close(self) -> None:
        self._closed.set()
        if self._started:
            self._safely(self.flush)

    # --- behind the scenes ----------------------------------------------------------------

    def _start(self) -> None:
        """On first use, in the serving process (after gunicorn forked it)."""
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
        self._safely(self.reload)
        threading.Thread(target=self._watch, name="api-keys", daemon=True).start()

    def _watch(self) -> None:
        client: redis.Redis | None = None
        pubsub = None
        last_flush = time.monotonic()
        while not self._closed.is_set():
            try:
                if pubsub is None:
                    client = self.make_redis()
                    pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                    pubsub.subscribe(CHANNEL)
                # Returns at once on a change, else after a second: reload either way.
                pubsub.get_message(timeout=RELOAD_SECONDS)
            except redis.RedisError:
                pubsub = None
                if client is not None:
                    with contextlib.suppress(redis.RedisError):
                        client.close()
                self._closed.wait(RELOAD_SECONDS)
            if self._closed.is_set():
                break
            self._safely(self.reload)
            if time.monotonic() - last_flush >= self.flush_seconds:
                last_flush = time.monotonic()
                self._safely(self.flush)
        if client is not None:
            with contextlib.suppress(redis.RedisError):
                client.close()

    @staticmethod
    def _safely(work: Callable[[], None]) -> None:
        try:
            work()
        except Exception as error:  # the database may be down: the keys known still answer
            log.warning("API key table: %s failed (%s)", work.__name__, type(error).__name__)
