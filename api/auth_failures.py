"""Refused credentials are counted per client address (`TESSERA_AUTH_FAILURE_LIMIT`, default
300/minute), so guessing keys is throttled: past the limit the address gets 429 with Retry-After
for the rest of the window, whatever it sends, a right guess included.

The count is shared in Redis; which addresses are over it is kept in each process's memory,
learnt from the count its own refusals return, so a request with a good key costs no Redis
round trip. (A process that has not yet refused the address lets one more guess through per
window.) Redis being down turns the throttle off rather than the API.
"""

from __future__ import annotations

import logging
import math
import time

import redis
from limits import parse

log = logging.getLogger("tessera.api.auth")

OFF = "off"
PREFIX = "tessera:authfail:"
MAX_REMEMBERED = 10_000


class FailureThrottle:
    def __init__(self, client: redis.Redis, limit: str) -> None:
        self.client = client
        self.enabled = limit.strip().lower() != OFF
        item = parse(limit) if self.enabled else None
        self.amount = item.amount if item else 0
        self.window = item.get_expiry() if item else 0
        self._blocked: dict[str, float] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds until the address may try again, if it is throttled now."""
        until = self._blocked.get(address)
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            del self._blocked[address]
            return None
        return max(1, math.ceil(left))

    def refused(self, address: str) -> int | None:
        """Count one refusal; the seconds to wait if this one went over the limit."""
        if not self.enabled:
            return None
        key = PREFIX + address
        try:
            pipe = self.client.pipeline()
            pipe.set(key, 0, ex=self.window, nx=True)  # the window starts at the first refusal
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = pipe.execute()
        except redis.RedisError as error:
            log.warning("cannot count a refused credential (%s)", type(error).__name__)
            return None
        if int(count) <= self.amount:
            return None
        wait = max(1, int(ttl) if int(ttl) > 0 else self.window)
        if len(self._blocked) >= MAX_REMEMBERED:
            self._blocked.clear()
        self._blocked[address] = time.monotonic() + wait
        return wait
