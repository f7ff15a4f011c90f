"""The senders' side of the webhook outbox: claim due deliveries, record what each attempt
gave, find what is due, purge what is old.

A claim is a lease, not a transaction held open over HTTP: it marks up to a few due deliveries
as held until `LEASE` from now and commits; the sender then posts them and records the
outcomes in a second transaction. A sender that dies in between leaves its deliveries to expire
and be claimed again, with the same message id: at least once, never lost. Claims of one
subscription are serialised by its row lock, so at most `max_in_flight` of its deliveries are
being sent at any moment, by any number of workers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

# Longer than an attempt can take (10 s, `workers.webhook_client`), so a live sender's
# delivery is never claimed twice; short enough that a dead sender's is retried soon.
LEASE = dt.timedelta(seconds=15)
DISABLE_AFTER = dt.timedelta(hours=24)
# Delivered and failed deliveries stay in the log this long (pending ones until they end).
RETENTION = dt.timedelta(days=7)
PURGE_BATCH = 10_000
DISABLED_NOTE = "subscription disabled after failing for 24 h"


@dataclass(frozen=True)
class Subscription:
    webhook_id: str
    url: str
    secret_sealed: bytes


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    message_id: str
    kind: str
    payload: dict[str, Any]
    message_at: dt.datetime


@dataclass(frozen=True)
class Claim:
    subscription: Subscription | None  # None: the subscription is gone (or disabled)
    deliveries: list[Claimed]
    busy: bool = False  # as many as allowed are in flight already (another sender has them)


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    delivered: bool
    status_code: int | None
    error: str | None


@dataclass
class Recorded:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    disabled: bool = False


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_due_age_seconds: float


_SUBSCRIPTION = text(
    "SELECT url, secret_sealed, disabled FROM webhooks WHERE webhook_id = :w FOR NO KEY UPDATE"
)
_DROP_ORPHANS = text("DELETE FROM webhook_deliveries WHERE webhook_id = :w")
_IN_FLIGHT = text(
    """
    SELECT count(*) FROM webhook_deliveries
     WHERE webhook_id = :w AND status = 'pending' AND leased_until > now()
    """
)
_CLAIM = text(
    """
    UPDATE webhook_deliveries
       SET leased_until = now() + CAST(:lease AS interval),
           first_attempt_at = coalesce(first_attempt_at, now())
     WHERE id IN (
           SELECT id FROM webhook_deliveries
            WHERE webhook_id = :w AND status = 'pending' AND next_attempt_at <= now()
              AND (leased_until IS NULL OR leased_until <= now())
            ORDER BY next_attempt_at, id
            LIMIT :free)
    RETURNING id, message_id, kind, payload, message_at
    """
)


def claim(session: Session, webhook_id: str, max_in_flight: int) -> Claim:
    """Lease up to `max_in_flight` (less those in flight) of the subscription's due
    deliveries, oldest due first."""
    row = session.execute(_SUBSCRIPTION, {"w": webhook_id}).first()
    if row is None:
        # Deleted: what an apply transaction wrote for it meanwhile has no one to go to.
        session.execute(_DROP_ORPHANS, {"w": webhook_id})
        return Claim(None, [])
    if row.disabled:
        return Claim(None, [])
    subscription = Subscription(webhook_id, row.url, bytes(row.secret_sealed))
    free = max_in_flight - int(session.execute(_IN_FLIGHT, {"w": webhook_id}).scalar_one())
    if free <= 0:
        return Claim(subscription, [], busy=True)
    rows = session.execute(
        _CLAIM, {"w": webhook_id, "lease": f"{LEASE.total_seconds()} seconds", "free": free}
    )
    claimed = [
        Claimed(r.id, r.message_id, r.kind, r.payload, r.message_at)
        for r in sorted(rows, key=lambda r: int(r.id))
    ]
    return Claim(subscription, claimed)


_RECORD = text(
    """
    WITH outcome AS (
        SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:delivered AS boolean[]),
                             CAST(:codes AS integer[]), CAST(:errors AS text[]))
                 AS v(id, delivered, code, error)
    ), judged AS (
        SELECT o.*, d.attempts + 1 - d.schedule_from AS failure_number
          FROM outcome o JOIN webhook_deliveries d ON d.id = o.id
    )
    UPDATE webhook_deliveries d
       SET attempts = d.attempts + 1,
           last_attempt_at = now(),
           last_status_code = j.code,
           last_error = j.error,
           leased_until = NULL,
           status = CASE WHEN j.delivered THEN 'delivered'
                         WHEN j.failure_number > cardinality(CAST(:schedule AS float8[]))
                         THEN 'failed'
                         ELSE 'pending' END,
           next_attempt_at = CASE
               WHEN j.delivered OR j.failure_number > cardinality(CAST(:schedule AS float8[]))
               THEN NULL
               ELSE now() + make_interval(
                   secs => (CAST(:schedule AS float8[]))[j.failure_number])
               END,
           delivered_at = CASE WHEN j.delivered THEN now() ELSE d.delivered_at END
      FROM judged j
     WHERE d.id = j.id AND d.webhook_id = :w AND d.status = 'pending'
    RETURNING d.status
    """
)
_HEALTHY = text(
    "UPDATE webhooks SET failing_since = NULL WHERE webhook_id = :w AND failing_since IS NOT NULL"
)
_FAILING = text(
    """
    UPDATE webhooks SET failing_since = now()
     WHERE webhook_id = :w AND failing_since IS NULL AND NOT disabled
    """
)
_FAILING_TOO_LONG = text(
    """
    SELECT failing_since <= now() - CAST(:after AS interval) FROM webhooks
     WHERE webhook_id = :w AND NOT disabled
    """
)
_DISABLE = text("UPDATE webhooks SET disabled = true, disabled_at = now() WHERE webhook_id = :w")
_FAIL_PENDING = text(
    """
    UPDATE webhook_deliveries
       SET status = 'failed', next_attempt_at = NULL, leased_until = NULL,
           last_error = coalesce(last_error || '; ', '') || :note
     WHERE webhook_id = :w AND status = 'pending'
    """
)


def record(
    session: Session, webhook_id: str, outcomes: Sequence[Outcome], schedule: Sequence[float]
) -> Recorded:
    """Write the attempts' outcomes: delivered; or pending again after the next wait of the
    schedule; or failed once the schedule is used up. Any success makes the subscription
    healthy; a failure starts (or continues) its failing streak, and one that has lasted
    `DISABLE_AFTER` disables it: its pending deliveries fail and it receives nothing more."""
    recorded = Recorded()
    if not outcomes:
        return recorded
    statuses = session.scalars(
        _RECORD,
        {
            "w": webhook_id,
            "ids": [o.delivery_id for o in outcomes],
            "delivered": [o.delivered for o in outcomes],
            "codes": [o.status_code for o in outcomes],
            "errors": [o.error for o in outcomes],
            "schedule": list(schedule),
        },
    ).all()
    recorded.delivered = statuses.count("delivered")
    recorded.retrying = statuses.count("pending")
    recorded.failed = statuses.count("failed")
    if any(o.delivered for o in outcomes):
        session.execute(_HEALTHY, {"w": webhook_id})
        return recorded
    session.execute(_FAILING, {"w": webhook_id})
    too_long = session.execute(
        _FAILING_TOO_LONG, {"w": webhook_id, "after": f"{DISABLE_AFTER.total_seconds()} seconds"}
    ).scalar()
    if too_long:
        session.execute(_DISABLE, {"w": webhook_id})
        session.execute(_FAIL_PENDING, {"w": webhook_id, "note": DISABLED_NOTE})
        recorded.disabled = True
    return recorded


_DUE = text(
    """
    SELECT w.webhook_id FROM webhooks w
     WHERE NOT w.disabled
       AND EXISTS (
           SELECT 1 FROM webhook_deliveries d
            WHERE d.webhook_id = w.webhook_id AND d.status = 'pending'
              AND d.next_attempt_at <= now()
              AND (d.leased_until IS NULL OR d.leased_until <= now()))
     ORDER BY w.webhook_id
    """
)


def due_subscriptions(session: Session) -> list[str]:
    """Subscriptions with a delivery due and not held by a sender: the sweeper wakes them."""
    return list(session.scalars(_DUE))


_PURGE = text(
    """
    DELETE FROM webhook_deliveries WHERE id IN (
        SELECT d.id FROM webhook_deliveries d
         WHERE d.created_at < now() - CAST(:retention AS interval)
           AND (d.status <> 'pending'
                OR NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.webhook_id = d.webhook_id))
         LIMIT :batch)
    """
)


def purge_expired(session: Session) -> int:
    """Delete finished deliveries past the log's retention (a bounded batch per sweep)."""
    deleted = session.execute(
        _PURGE, {"retention": f"{RETENTION.total_seconds()} seconds", "batch": PURGE_BATCH}
    )
    return int(getattr(deleted, "rowcount", 0) or 0)


_BACKLOG = text(
    """
    SELECT count(*) AS pending,
           coalesce(extract(epoch FROM now() - min(next_attempt_at) FILTER (
               WHERE next_attempt_at <= now()
                 AND (leased_until IS NULL OR leased_until <= now()))), 0) AS oldest
      FROM webhook_deliveries WHERE status = 'pending'
    """
)


def backlog(session: Session) -> Backlog:
    """Pending deliveries, and how long the oldest due one (not being sent) has waited."""
    row = session.execute(_BACKLOG).one()
    return Backlog(int(row.pending), float(row.oldest))
