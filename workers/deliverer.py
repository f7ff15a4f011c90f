"""The webhook sender: one subscription's due deliveries, claimed a few at a time (a lease,
`models.storage.outbox`), signed, posted at once, and their outcomes recorded.

A task keeps the subscription's sender key set while it works (see tessera.messaging), so
the deliveries committed meanwhile queue no further tasks; when nothing is due it clears the
key and looks once more, so none is stranded. After `TIME_SLICE_SECONDS` it hands the
subscription to a fresh task at the back of the queue, so one busy subscription cannot keep
a sender thread from the others.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.orm import Session

from models.domain.results import rfc3339
from models.storage import outbox
from models.storage.db import run
from tessera import tracing
from tessera.messaging import mark_delivering, stop_delivering
from tessera.telemetry import count_webhook_attempts
from tessera.webhook_secrets import SecretBox, SecretUnavailable, sign, signing_key
from workers import webhook_client
from workers.runtime import Runtime

log = logging.getLogger("tessera.webhooks")

# At most this many deliveries of one subscription are on the wire at once, across workers.
MAX_IN_FLIGHT = 8
TIME_SLICE_SECONDS = 10.0


@dataclass
class DeliverReport:
    attempts: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    handed_over: bool = False


def body_of(delivery: outbox.Claimed) -> bytes:
    """What is POSTed: `{type, timestamp, data}`, the same bytes on every attempt."""
    message = {
        "type": delivery.kind,
        "timestamp": rfc3339(delivery.message_at),
        "data": delivery.payload,
    }
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def headers_of(key: bytes, delivery: outbox.Claimed, body: bytes, now: float) -> dict[str, str]:
    """The Standard Webhooks headers: the message id (the same on every retry), the attempt's
    time, and the signature over both and the body."""
    timestamp = int(now)
    return {
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, delivery.message_id, timestamp, body),
    }


def deliver(
    runtime: Runtime,
    webhook_id: str,
    *,
    max_in_flight: int = MAX_IN_FLIGHT,
    time_slice: float = TIME_SLICE_SECONDS,
) -> DeliverReport:
    """Send the subscription's due deliveries until none is due (or the time slice is over)."""
    connections = webhook_client.Connections(max_in_flight)
    # A child of the task's span: of the pass whose commit queued the task, when it was traced
    # (Celery's instrumentation carries the context in the task's headers).
    with tracing.span("tessera.deliver", **{"tessera.webhook_id": webhook_id}) as span:
        try:
            with ThreadPoolExecutor(max_in_flight, thread_name_prefix="webhook") as pool:
                sender = Sender(runtime, pool, connections)
                report = _deliver(runtime, webhook_id, sender, max_in_flight, time_slice)
        finally:
            connections.close()
        if span is not None:
            span.set_attributes(
                {
                    "tessera.attempts": report.attempts,
                    "tessera.delivered": report.delivered,
                    "tessera.failed": report.failed,
                }
            )
        return report


@dataclass
class Sender:
    """What a task sends with: a thread per delivery in flight, and kept connections."""

    runtime: Runtime
    pool: ThreadPoolExecutor
    connections: webhook_client.Connections


def _deliver(
    runtime: Runtime,
    webhook_id: str,
    sender: Sender,
    max_in_flight: int,
    time_slice: float,
) -> DeliverReport:
    report = DeliverReport()
    started = time.monotonic()
    box = SecretBox.for_settings(runtime.settings.webhook_keys, runtime.settings.secret_key)
    released = False
    claim: outbox.Claim | None = run(
        runtime.sessions, lambda s: outbox.claim(s, webhook_id, max_in_flight)
    )
    while True:
        assert claim is not None
        subscription = claim.subscription
        if subscription is None:  # deleted or disabled: nothing to send, ever
            stop_delivering(runtime.redis, webhook_id)
            return report
        if claim.busy:
            # Another sender has as many in flight as allowed; it looks again after them.
            return report
        if not claim.deliveries:
            if released:
                return report
            # Nothing due: from now on a new delivery queues a new task; one last look for
            # those committed before that.
            stop_delivering(runtime.redis, webhook_id)
            released = True
            claim = run(runtime.sessions, lambda s: outbox.claim(s, webhook_id, max_in_flight))
            continue
        released = False
        mark_delivering(runtime.redis, webhook_id)
        outcomes = send(sender, box, subscription, claim.deliveries)
        go_on = time.monotonic() - started <= time_slice
        # The outcomes and the next claim in one transaction: one round of commits per batch.
        recorded, claim = run(
            runtime.sessions,
            functools.partial(
                _record_and_claim, runtime, webhook_id, outcomes, max_in_flight if go_on else 0
            ),
        )
        count_webhook_attempts(
            runtime.redis,
            {
                "delivered": recorded.delivered,
                "retrying": recorded.retrying,
                "failed": recorded.failed,
            },
        )
        report.attempts += len(outcomes)
        report.delivered += recorded.delivered
        report.retrying += recorded.retrying
        report.failed += recorded.failed
        if recorded.disabled:
            log.warning("webhook %s disabled: its deliveries failed for 24 h", webhook_id)
            stop_delivering(runtime.redis, webhook_id)
            return report
        if not go_on:
            # The key stays set: the task queued here inherits it.
            runtime.waker.deliver([webhook_id], force=True)
            report.handed_over = True
            return report


def _record_and_claim(
    runtime: Runtime,
    webhook_id: str,
    outcomes: list[outbox.Outcome],
    max_in_flight: int,
    session: Session,
) -> tuple[outbox.Recorded, outbox.Claim | None]:
    recorded = outbox.record(session, webhook_id, outcomes, runtime.settings.webhook_retry_schedule)
    if recorded.disabled or max_in_flight <= 0:
        return recorded, None
    return recorded, outbox.claim(session, webhook_id, max_in_flight)


def send(
    sender: Sender,
    box: SecretBox,
    subscription: outbox.Subscription,
    deliveries: list[outbox.Claimed],
) -> list[outbox.Outcome]:
    """Post the claimed deliveries at once (the pool has a thread for each); each one's
    outcome, in order."""
    try:
        key = signing_key(box.open(subscription.webhook_id, subscription.secret_sealed))
    except (SecretUnavailable, ValueError) as error:
        log.error("webhook %s: cannot sign: %s", subscription.webhook_id, error)
        return [
            outbox.Outcome(d.delivery_id, False, None, f"not sent: {error}") for d in deliveries
        ]

    def attempt(delivery: outbox.Claimed) -> outbox.Outcome:
        body = body_of(delivery)
        answer = webhook_client.post(
            subscription.url,
            headers_of(key, delivery, body, time.time()),
            body,
            allow_private=sender.runtime.settings.webhook_allow_private,
            connections=sender.connections,
        )
        return outbox.Outcome(
            delivery.delivery_id, answer.delivered, answer.status_code, answer.error
        )

    if len(deliveries) == 1:
        return [attempt(deliveries[0])]
    return list(sender.pool.map(attempt, deliveries))
