"""Redis as a messenger, never as the truth: wake-ups for events and status-update publishing.

Shared by the API (wakes an event after accepting a ticket, publishes promotions it caused) and
the workers (publish results, wake events again), through `RedisMessenger`, which the models'
after-commit hook calls. Imports no other project package. The Celery task names and the queue
are defined here, once, for the tasks, the routes and the senders.

Coalescing wake-ups: a key `tessera:wake:{event}` says "a wake-up for this event is queued and
its worker has not started yet". A sender queues a task only when it sets that key (SET NX);
the task deletes the key *before* it reads the event's pending tickets. So a ticket committed
before the delete is read by that task, and one committed after it finds the key gone and
queues a new task: a burst of 10,000 tickets becomes a handful of tasks and none is stranded.
The key expires on its own, and the sweeper re-wakes events from PostgreSQL, so a lost message
or a restarted Redis costs seconds, never a ticket.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Protocol

import redis

log = logging.getLogger("tessera.messaging")

QUEUE = "tessera"
APPLY_EVENT_TASK = "tessera.apply_event"
WAKE_EVENTS_TASK = "tessera.wake_events"
SWEEP_TASK = "tessera.sweep"
TASK_NAMES = (APPLY_EVENT_TASK, WAKE_EVENTS_TASK, SWEEP_TASK)
WAKE_KEY_TTL_SECONDS = 30
# Redis must never make the API hang: a call that cannot reach it fails within this.
REDIS_SOCKET_TIMEOUT = 1.0


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT,
        health_check_interval=30,
    )


def wake_key(event_id: str) -> str:
    return f"tessera:wake:{event_id}"


def ticket_channel(ticket_id: str) -> str:
    return f"tessera:ticket:{ticket_id}"


def event_channel(event_id: str) -> str:
    return f"tessera:event:{event_id}"


class Update(Protocol):
    """A status update as the event log wrote it (`models.event_log.Update`)."""

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
    """Sends coalesced wake-ups; any Redis failure is logged and swallowed (the ticket row is
    committed, and the sweeper wakes its event later).

    One `SET NX` round trip for all the events of a request (pipelined), then one message:
    `apply_event` for a single event, or one `wake_events` fan-out that a worker turns into
    per-event tasks, so a batch naming thousands of events costs its request one publish."""

    def __init__(self, client: redis.Redis, sender: TaskSender) -> None:
        self.client = client
        self.sender = sender

    def wake(self, event_ids: Iterable[str], *, force: bool = False) -> int:
        wanted = list(dict.fromkeys(event_ids))
        if not wanted:
            return 0
        try:
            if force:
                due = wanted
            else:
                pipe = self.client.pipeline(transaction=False)
                for event_id in wanted:
                    pipe.set(wake_key(event_id), "1", nx=True, ex=WAKE_KEY_TTL_SECONDS)
                due = [e for e, was_set in zip(wanted, pipe.execute(), strict=True) if was_set]
            if len(due) == 1:
                self.sender.send_task(APPLY_EVENT_TASK, args=[due[0]])
            elif due:
                self.sender.send_task(WAKE_EVENTS_TASK, args=[due])
        except Exception:  # broker down or slow: the sweeper is the safety net
            log.warning("wake-up for %d event(s) not sent; the sweeper will retry", len(wanted))
            return 0
        return len(due)


def queue_depth(client: redis.Redis, queue: str = QUEUE) -> int:
    """Wake-ups waiting in the Celery queue (its Redis list); 0 if Redis does not answer."""
    try:
        return int(client.llen(queue))
    except redis.RedisError:
        return 0


def clear_wake(client: redis.Redis, event_id: str) -> None:
    try:
        client.delete(wake_key(event_id))
    except redis.RedisError:
        log.warning("could not clear the wake key of %s", event_id)


def publish(client: redis.Redis, updates: Iterable[Update]) -> None:
    """Publish after commit, on the event's channel and (for tickets) the ticket's."""
    pipe = client.pipeline(transaction=False)
    count = 0
    for update in updates:
        message = json.dumps(
            {"id": update.log_id, "event": update.kind, "data": update.payload},
            separators=(",", ":"),
        )
        pipe.publish(event_channel(update.event_id), message)
        ticket_id = update.payload.get("ticketId")
        if ticket_id:
            pipe.publish(ticket_channel(ticket_id), message)
        count += 1
    if not count:
        return
    try:
        pipe.execute()
    except redis.RedisError:
        # Readers fall back to the database; a missed publish delays them, never misleads.
        log.warning("could not publish %d status updates", count)


class RedisMessenger:
    """What committed transactions announce, sent through Redis: status updates published,
    events woken (the `models.db.Messenger` of the API and the workers)."""

    def __init__(self, client: redis.Redis, waker: Waker) -> None:
        self.client = client
        self.waker = waker

    def publish(self, updates: Sequence[Update]) -> None:
        publish(self.client, updates)

    def wake(self, event_ids: Collection[str]) -> None:
        self.waker.wake(event_ids)
