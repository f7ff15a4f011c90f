"""Limits by work, not requests: a batch of N items costs N of its caller's budget, and each key
or attendee may hold only so many open update streams.

**Batch items.** A generic cell rate algorithm in Redis, at the rate of `TESSERA_RATE_LIMIT`:
each item pushes the caller's "theoretical arrival time" one interval ahead; a batch is accepted
while the caller is at most one window ahead of the clock. So a 10,000-item batch is accepted
when its caller is idle, and then costs what 10,000 single commands would: at 100/second, no
more batches for that caller for about 100 s. (Single commands keep their per-request budget.)

**Streams.** A sorted set per principal of its open streams, each with a lease longer than a
stream lives, so a process that dies cannot leak a slot for longer than that.

Both fail open: with Redis down, the API keeps answering.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from limits import parse_many

from api.errors import ApiError

log = logging.getLogger("tessera.api.limits")

_CHARGE = """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local now = tonumber(ARGV[1])
if tat < now then tat = now end
local ahead = tat - now
if ahead > tonumber(ARGV[3]) then return tostring(ahead - tonumber(ARGV[3])) end
local new = tat + tonumber(ARGV[2]) * tonumber(ARGV[4])
redis.call('SET', KEYS[1], tostring(new), 'PX', math.ceil((new - now) * 1000) + 1000)
return '0'
"""

_OPEN_STREAM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) - tonumber(ARGV[1])))
return 1
"""


class WorkBudget:
    """Batch items per principal, at the configured rate (None: no limit)."""

    def __init__(self, client: redis.Redis, rate: str | None) -> None:
        self.client = client
        self.rate = rate
        self.interval = 0.0
        self.window = 0.0
        if rate is not None:
            item = parse_many(rate)[0]
            self.window = float(item.get_expiry())
            self.interval = self.window / item.amount
        self._charge: Any = client.register_script(_CHARGE)

    def charge(self, owner: str, items: int) -> None:
        """Take `items` from the owner's budget, or 429 RATE_LIMITED with Retry-After."""
        if self.rate is None:
            return
        try:
            over = float(
                self._charge(
                    keys=[f"tessera:work:{owner}"],
                    args=[time.time(), self.interval, self.window, items],
                )
            )
        except redis.RedisError as error:
            log.warning("cannot count batch items (%s)", type(error).__name__)
            return
        if over > 0:
            raise ApiError(
                429,
                "RATE_LIMITED",
                f"This batch's items exceed the budget for this caller ({self.rate} items); "
                "retry later.",
                headers={"Retry-After": str(max(1, math.ceil(over)))},
            )


class StreamSlots:
    """At most `per_principal` open update streams per key or attendee, over every process."""

    def __init__(self, client: redis.Redis, per_principal: int, lease_seconds: float) -> None:
        self.client = client
        self.per_principal = per_principal
        self.lease_seconds = lease_seconds
        self._open: Any = client.register_script(_OPEN_STREAM)

    def take(self, owner: str) -> Callable[[], None]:
        """A slot for one stream (429 RATE_LIMITED when the owner holds them all); call what
        it returns when the stream ends."""
        key = f"tessera:streams:{owner}"
        member = uuid.uuid4().hex
        now = time.time()
        try:
            taken = self._open(
                keys=[key], args=[now, now + self.lease_seconds, member, self.per_principal]
            )
        except redis.RedisError as error:
            log.warning("cannot count open streams (%s)", type(error).__name__)
            return lambda: None
        if not taken:
            raise ApiError(
                429,
                "RATE_LIMITED",
                f"This caller already holds {self.per_principal} open update streams; "
                "close one or retry later.",
                headers={"Retry-After": "5"},
            )

        def release() -> None:
            with contextlib.suppress(redis.RedisError):  # else the lease ends it
                self.client.zrem(key, member)

        return release
