"""Redis as a messenger, never as the truth: wake-ups of the appliers and status updates.

Shared by the API (wakes an applier after accepting tickets, publishes promotions it caused) and
the workers (publish results), through `RedisMessenger`, which the models' after-commit hook
calls. Of the project it imports only the worker counters (`tessera.telemetry`) and the event
log's `TICKET_COMPLETED` and `OFFER_EXPIRED` (to count applied tickets, their settle times
and the offers ended as it publishes them). The Celery task names
and the queues are defined here, once, for the tasks, the routes and the senders.

Coalescing wake-ups: the key `tessera:drain` says "an applier is queued or draining, and will
look for pending tickets again before it stops". A sender queues a `tessera.drain` task only
when it sets that key (SET NX), and always leaves a nudge (a one-element list) that a draining
worker waiting for work pops at once. A draining worker keeps the key set while it works and
for a moment after it runs dry (waiting for a nudge), so a stream of accepts is applied by one
long-lived drain, without a Celery round trip each; when nothing comes it deletes the key and
looks once more, so a ticket committed after that last look finds the key gone and queues a
new task: none is stranded. The key expires on its own, and the sweeper re-wakes the appliers
from PostgreSQL, so a lost message, a killed worker or a restarted Redis costs seconds, never
a ticket.

Webhook deliveries are sent by `tessera.deliver` tasks on their own queue (so a slow receiver
never holds up the appliers), one task per subscription at a time, coalesced the same way:
`tessera:deliver:<webhookId>` says "a sender for this subscription is queued or sending".
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from models.storage.event_log import OFFER_EXPIRED, TICKET_COMPLETED
from tessera.redis_urls import KEEPALIVE, is_sentinel_url, parse_sentinel_url
from tessera.telemetry import count_batch, request_headers

log = logging.getLogger("tessera.messaging")

QUEUE = "tessera"
DRAIN_TASK = "tessera.drain"
SWEEP_TASK = "tessera.sweep"
EXPIRE_TASK = "tessera.expire"
TASK_NAMES = (DRAIN_TASK, SWEEP_TASK, EXPIRE_TASK)
WEBHOOK_QUEUE = "tessera.webhooks"
DELIVER_TASK = "tessera.deliver"
DRAIN_KEY = "tessera:drain"
DRAIN_KEY_TTL_SECONDS = 30
NUDGE_KEY = "tessera:drain:nudge"
DELIVER_KEY_TTL_SECONDS = 20
EVENT_CHANNELS = "tessera:event:*"
# Redis must never make the API hang: a call that cannot reach it fails within this.
REDIS_SOCKET_TIMEOUT = 1.0


def redis_retry() -> Retry:
    """Retry a call once, at once, when its connection was refused or reset (a pooled
    connection to a restarted server), never when it timed out: redis-py's default (three
    retries with backoff, timeouts included) turns one unreachable host into 4 s or more."""
    return Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))


def redis_client(url: str) -> redis.Redis:
    """A client of the server `url` names, or of a Sentinel group's current master: its
    connections ask the sentinels where the master is whenever they (re)connect, and one that
    finds its server demoted to a replica is dropped, so a failover costs a reconnect."""
    timeouts = {
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        "retry": redis_retry(),
        **KEEPALIVE,
    }
    if not is_sentinel_url(url):
        return redis.Redis.from_url(url, health_check_interval=30, **timeouts)
    group = parse_sentinel_url(url)
    sentinels = Sentinel(list(group.sentinels), sentinel_kwargs={**timeouts, **group.auth()})  # type: ignore[no-untyped-call]
    master: redis.Redis = sentinels.master_for(  # type: ignore[no-untyped-call]
        group.master, db=group.db, health_check_interval=30, **timeouts, **group.auth()
    )
    return master


def event_channel(event_id: str) -> str:
    return f"tessera:event:{event_id}"


class Update(Protocol):
    """A status update as the event log wrote it (`models.storage.event_log.Update`)."""

    @property
    def event_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def log_id(self) -> int | None: ...


class TaskSender(Protocol):
    def send_task(self, name: str, args: list[Any], **options: Any) -> object: ...


class Waker:
    """Sends coalesced wake-ups; any Redis failure is logged and swallowed (the ticket rows are
    committed, and the sweeper wakes an applier later).

    With `pause_after_failure`, a failed wake-up makes the next ones within that many seconds
    give up without trying: the API's group commit announces its wake-up before it answers, so
    while Redis does not answer (a master's host gone, until the sentinels promote a replica)
    each attempt would hold a whole group's 202s for a socket timeout."""

    def __init__(
        self, client: redis.Redis, sender: TaskSender, *, pause_after_failure: float = 0.0
    ) -> None:
        self.client = client
        self.sender = sender
        self.pause_after_failure = pause_after_failure
        self._paused_until = 0.0

    def wake(self, event_ids: Iterable[str], *, force: bool = False) -> bool:
        """Make sure an applier will look at the events' new tickets: queue a drain unless one
        is queued or draining already (or always, with `force`). True if a task was sent."""
        if not list(event_ids):
            return False
        if time.monotonic() < self._paused_until:
            return False
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(DRAIN_KEY, "1", nx=True, ex=DRAIN_KEY_TTL_SECONDS)
            pipe.rpush(NUDGE_KEY, "1")
            pipe.ltrim(NUDGE_KEY, -1, -1)  # one nudge is as good as many
            queued_here = pipe.execute()[0]
            if force or queued_here:
                self.sender.send_task(DRAIN_TASK, args=[], **request_headers())
                return True
        except Exception:  # broker down or slow: the sweeper is the safety net
            log.warning("wake-up not sent; the sweeper will retry")
            self._paused_until = time.monotonic() + self.pause_after_failure
        return False

    def deliver(self, webhook_ids: Iterable[str], *, force: bool = False) -> list[str]:
        """Make sure a sender will look at each subscription's due deliveries: queue a
        `tessera.deliver` task for each one that has none queued or sending (or for each, with
        `force`). Returns the subscriptions a task was sent for."""
        ids = sorted(set(webhook_ids))
        if not ids:
            return []
        sent: list[str] = []
        try:
            pipe = self.client.pipeline(transaction=False)
            for webhook_id in ids:
                pipe.set(deliver_key(webhook_id), "1", nx=True, ex=DELIVER_KEY_TTL_SECONDS)
            for webhook_id, queued_here in zip(ids, pipe.execute(), strict=True):
                if force or queued_here:
                    self.sender.send_task(DELIVER_TASK, args=[webhook_id])
                    sent.append(webhook_id)
        except Exception:  # broker down or slow: the sweeper is the safety net
            log.warning("webhook wake-up not sent; the sweeper will retry")
        return sent


def deliver_key(webhook_id: str) -> str:
    return f"tessera:deliver:{webhook_id}"


def mark_delivering(client: redis.Redis, webhook_id: str) -> None:
    """A sender works on the subscription: no other task need be queued while the key lives."""
    try:
        client.set(deliver_key(webhook_id), "1", ex=DELIVER_KEY_TTL_SECONDS)
    except redis.RedisError:
        log.warning("could not mark the webhook sender as busy")


def stop_delivering(client: redis.Redis, webhook_id: str) -> None:
    """The sender is about to stop: the next delivery must queue a new task."""
    try:
        client.delete(deliver_key(webhook_id))
    except redis.RedisError:
        log.warning("could not clear the webhook sender's key")


def mark_draining(client: redis.Redis) -> None:
    """A worker is draining: senders need not queue another task while the key lives."""
    try:
        client.set(DRAIN_KEY, "1", ex=DRAIN_KEY_TTL_SECONDS)
    except redis.RedisError:
        log.warning("could not mark the applier as draining")


def wait_for_nudge(client: redis.Redis, seconds: float) -> bool:
    """Wait up to `seconds` for a sender's nudge (new tickets); False if none came, or if Redis
    does not answer (the caller then stops, and the sweeper covers what it missed)."""
    try:
        # Short blocking pops: each must end within the client's socket timeout.
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if client.blpop([NUDGE_KEY], timeout=min(remaining, 0.5)) is not None:
                return True
    except redis.RedisError:
        log.warning("could not wait for a nudge")
    return False


def stop_draining(client: redis.Redis) -> None:
    """The worker is about to stop: the next accepted ticket must queue a new task."""
    try:
        client.delete(DRAIN_KEY)
    except redis.RedisError:
        log.warning("could not clear the drain key")


def queue_depth(client: redis.Redis, queue: str = QUEUE) -> int:
    """Wake-ups waiting in the Celery queue (its Redis list); 0 if Redis does not answer."""
    try:
        return int(client.llen(queue))
    except redis.RedisError:
        return 0


def encode(update: Update) -> str:
    return json.dumps(
        {"id": update.log_id, "event": update.kind, "data": update.payload},
        separators=(",", ":"),
    )


# Many PUBLISHes as one command, in order: redis-py spends ~100 Python calls packing and
# parsing each command, and a backlog pass published 500 (a tenth of its Python).
_PUBLISH_MANY = "for i = 1, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end return 0"
PUBLISH_PER_SCRIPT = 1000  # bounds how long one script holds Redis (~1 ms)


def publish(client: redis.Redis, updates: Iterable[Update]) -> None:
    """Publish after commit, each update on its event's channel, and count the completed
    tickets among them in the worker counters (one round trip for all)."""
    pipe = client.pipeline(transaction=False)
    count = expired = 0
    applied: list[str] = []
    settle: list[float] = []
    messages: list[str] = []
    for update in updates:
        messages += (event_channel(update.event_id), encode(update))
        count += 1
        if update.kind == TICKET_COMPLETED:
            payload = update.payload
            result = payload.get("result")
            applied.append(str(result["status"]) if result else str(payload["status"]))
            settle.append(_settle_seconds(payload))
        elif update.kind == OFFER_EXPIRED:
            expired += 1
    if not count:
        return
    step = 2 * PUBLISH_PER_SCRIPT
    for first in range(0, len(messages), step):
        pipe.eval(_PUBLISH_MANY, 0, *messages[first : first + step])
    count_batch(pipe, applied, settle, expired)
    try:
        pipe.execute()
    except redis.RedisError:
        # Readers fall back to the database; a missed publish delays them, never misleads.
        log.warning("could not publish %d status updates", count)


def _settle_seconds(payload: dict[str, Any]) -> float:
    """A completed ticket's 202-to-done time, from the update that reports it."""
    created = dt.datetime.fromisoformat(payload["createdAt"])
    completed = dt.datetime.fromisoformat(payload["completedAt"])
    return max(0.0, (completed - created).total_seconds())


class RedisMessenger:
    """What committed transactions announce, sent through Redis: status updates published,
    appliers and webhook senders woken (the `models.storage.db.Messenger` of the API and the
    workers)."""

    def __init__(self, client: redis.Redis, waker: Waker) -> None:
        self.client = client
        self.waker = waker

    def publish(self, updates: Sequence[Update]) -> None:
        publish(self.client, updates)

    def wake(self, event_ids: Collection[str]) -> None:
        self.waker.wake(event_ids)

    def deliver(self, webhook_ids: Collection[str]) -> None:
        self.waker.deliver(webhook_ids)
