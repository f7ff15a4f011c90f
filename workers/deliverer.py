"""The webhook sender: one subscription's due deliveries, claimed a few at a time (a lease,
`models.outbox`), signed, posted at once, and their outcomes recorded.

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

from models import outbox
from models.db import run
from models.results import rfc3339
from tessera.messaging import mark_delivering, stop_delivering
from tessera.telemetry import count_webhook_attempts
from tessera.webhook_secrets import SecretBox, SecretUnavailable, sign, signing_key
from workers import webhook_client
from workers.runtime import Runtime

log = logging.getLogger("tessera.webhooks")

# At most this many deliveries of one subscription are on the wire at once, across workers.
MAX_IN_FLIGHT = 4
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
    report = DeliverReport()
    started = time.monotonic()
    box = SecretBox(runtime.settings.webhook_keys)
    released = False
    while True:
        claim = run(runtime.sessions, lambda s: outbox.claim(s, webhook_id, max_in_flight))
        if claim.subscription is None:  # deleted or disabled: nothing to send, ever
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
            continue
        released = False
        mark_delivering(runtime.redis, webhook_id)
        outcomes = send(runtime, box, claim.subscription, claim.deliveries)
        recorded = run(runtime.sessions, functools.partial(_record, runtime, webhook_id, outcomes))
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
        if time.monotonic() - started > time_slice:
            # The key stays set: the task queued here inherits it.
            runtime.waker.deliver([webhook_id], force=True)
            report.handed_over = True
            return report


def _record(
    runtime: Runtime, webhook_id: str, outcomes: list[outbox.Outcome], session: Session
) -> outbox.Recorded:
    return outbox.record(session, webhook_id, outcomes, runtime.settings.webhook_retry_schedule)


def send(
    runtime: Runtime,
    box: SecretBox,
    subscription: outbox.Subscription,
    deliveries: list[outbox.Claimed],
) -> list[outbox.Outcome]:
    """Post the claimed deliveries at once; each one's outcome, in order."""
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
            allow_private=runtime.settings.webhook_allow_private,
        )
        return outbox.Outcome(
            delivery.delivery_id, answer.delivered, answer.status_code, answer.error
        )

    if len(deliveries) == 1:
        return [attempt(deliveries[0])]
    with ThreadPoolExecutor(max_workers=len(deliveries)) as pool:
        return list(pool.map(attempt, deliveries))
