"""The worker's crash on a Redis outage, reproduced without a worker: what Celery 5.7.0 does with
a broken broker connection (collect it, then close it), on a connection like a worker's (a task
channel holding an unacknowledged message with a BRPOP outstanding, and a broadcast channel with
an auto-delete queue), right after Redis was SIGKILLed. See docs/RELIABILITY.md."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.common import ignore_errors
from kombu.message import Message

from tessera.tools.servers import EmbeddedRedis

pytestmark = pytest.mark.integration

GUARDED = "tessera.broker:Transport"


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop(sig=signal.SIGKILL)


def _connection_like_a_workers(url: str, transport: str | None) -> tuple[Connection, list[Message]]:
    connection = Connection(url, transport=transport, transport_options={"polling_interval": 30})
    connection.connect()
    tasks = Queue("crash-repro")
    Producer(connection.default_channel).publish({"n": 1}, routing_key=tasks.name, declare=[tasks])
    received: list[Message] = []  # never acknowledged, as a late-acked task still running
    Consumer(connection, queues=[tasks], accept=["json"], callbacks=[_keep(received)]).consume()
    fanout = Exchange("crash-repro.bcast", "fanout")
    broadcast = Queue("crash-repro.bcast", fanout, auto_delete=True)
    Consumer(connection.channel(), queues=[broadcast], accept=["json"]).consume()
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            connection.drain_events(timeout=0.2)
    assert received, "the message was not delivered"
    with contextlib.suppress(TimeoutError):
        connection.drain_events(timeout=0.2)  # leaves a BRPOP outstanding
    assert connection.default_channel._in_poll, "no BRPOP outstanding: inconclusive"
    return connection, received


def _keep(into: list[Message]) -> object:
    def callback(_body: object, message: Message) -> None:
        into.append(message)

    return callback


def _lose_redis_and_clean_up_as_celery_does(connection: Connection, redis: EmbeddedRedis) -> None:
    redis.stop(sig=signal.SIGKILL)
    # celery.worker.consumer.Consumer.on_connection_error_after_connected
    with contextlib.suppress(Exception):
        connection.collect(socket_timeout=5)
    ignore_errors(connection, connection.close)


def test_kombus_own_redis_transport_still_crashes_this_way(redis: EmbeddedRedis) -> None:
    """The upstream bug (kombu 5.7.0 with Celery 5.7.0). When this fails, an upgrade fixed it
    and tessera.broker's guards can go."""
    connection, received = _connection_like_a_workers(redis.url(), transport=None)
    assert len(received) == 1

    with pytest.raises(AttributeError, match="hostname"):
        _lose_redis_and_clean_up_as_celery_does(connection, redis)


def test_the_guarded_transport_closes_a_broken_connection_without_crashing(
    redis: EmbeddedRedis,
) -> None:
    connection, received = _connection_like_a_workers(redis.url(), transport=GUARDED)
    task_channel = connection.default_channel
    assert len(received) == 1

    _lose_redis_and_clean_up_as_celery_does(connection, redis)

    assert task_channel.closed
