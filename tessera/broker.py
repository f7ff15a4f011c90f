"""The Redis transports every Tessera process uses for Celery: kombu's (and its Sentinel
variant), with the two guards they lack, so that losing Redis is a connection error and never
a crash.

Why (docs/RELIABILITY.md, "The worker and a Redis outage"): on a lost connection Celery 5.7.0
collects, then closes, the broken kombu connection. Collecting closes the channels in turn, and
the first one that fails on the dead server (the broadcast channel deleting its auto-delete
queue) ends the loop, so the task channel stays open although its transport is released. The
close that follows then restores the channel's unacknowledged messages through a new connection
pool built from the released transport's settings (`None`): an AttributeError, which Celery
calls unrecoverable, so the worker exits. Here every channel is closed whatever the others do,
and a channel whose transport is gone fails like any lost connection.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from kombu.transport import redis as kombu_redis

log = logging.getLogger("tessera.broker")


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is None or transport.client is None:
            # A channel of a closed connection (e.g. restoring unacked messages while it is
            # closed a second time): there is no server to talk to, which is a connection
            # error every caller handles, not a programming error that stops the worker.
            raise redis.ConnectionError("the broker connection was already closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel

    def close_connection(self, connection: Any) -> None:
        """Close every channel, even when closing one of them fails on the dead server."""
        if self.cycle is not None:
            self.cycle.close()  # type: ignore[no-untyped-call]
        for channels in self._avail_channels, self.channels:
            while channels:
                channel = channels.pop()
                try:
                    channel.close()
                except self.connection_errors as error:
                    log.debug("closing a broker channel failed: %r", error)


class SentinelChannel(Channel, kombu_redis.SentinelChannel):
    """The guarded channel whose connections ask Sentinel for the master (a `redis+sentinel`
    REDIS_URL; tessera/redis_urls.py)."""


class SentinelTransport(Transport):
    Channel = SentinelChannel
    default_port = 26379  # type: ignore[assignment]  # kombu's stubs say None
