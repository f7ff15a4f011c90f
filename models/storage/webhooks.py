"""Webhook subscriptions and their delivery logs: the units of work behind `/webhooks`.

A delivery is written by `models.storage.event_log.append`, in the transaction of the change it
reports, for every subscription that is not disabled and whose `events` name the update's type
(or `*`); the workers send it (`models.storage.outbox`). Deleting a subscription deletes its log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, delete, insert, select, text, update
from sqlalchemy.orm import Session

from models.domain.errors import WebhookNotFound
from models.storage.db import after_commit
from models.storage.event_log import (
    OFFER_ACCEPTED,
    OFFER_DECLINED,
    OFFER_EXPIRED,
    OFFER_MADE,
    REGISTRATION_DRAWN,
    REGISTRATION_PROMOTED,
    TICKET_COMPLETED,
)
from models.storage.tables import Webhook, WebhookDelivery

WILDCARD = "*"
# The SSE message types a subscription may name.
MESSAGE_TYPES = (
    TICKET_COMPLETED,
    REGISTRATION_PROMOTED,
    OFFER_MADE,
    OFFER_ACCEPTED,
    OFFER_DECLINED,
    OFFER_EXPIRED,
    REGISTRATION_DRAWN,  # the on-sale draw (#24)
)


@dataclass(frozen=True)
class WebhookView:
    webhook_id: str
    url: str
    events: list[str]
    description: str | None
    disabled: bool
    created_at: dt.datetime


@dataclass(frozen=True)
class DeliveryView:
    delivery_id: int
    message_id: str
    type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime


_WEBHOOK_COLUMNS = (
    Webhook.webhook_id,
    Webhook.url,
    Webhook.events,
    Webhook.description,
    Webhook.disabled,
    Webhook.created_at,
)
_DELIVERY_COLUMNS = (
    WebhookDelivery.id.label("delivery_id"),
    WebhookDelivery.message_id,
    WebhookDelivery.kind.label("type"),
    WebhookDelivery.status,
    WebhookDelivery.attempts,
    WebhookDelivery.last_status_code,
    WebhookDelivery.last_error,
    WebhookDelivery.next_attempt_at,
    WebhookDelivery.created_at,
)


def _webhook(row: RowMapping | Any) -> WebhookView:
    return WebhookView(
        row.webhook_id, row.url, list(row.events), row.description, row.disabled, row.created_at
    )


def _delivery(row: Any) -> DeliveryView:
    return DeliveryView(**row._mapping)


def create(
    session: Session,
    *,
    webhook_id: str,
    url: str,
    events: Sequence[str],
    description: str | None,
    secret_sealed: bytes,
) -> WebhookView:
    row = session.execute(
        insert(Webhook)
        .values(
            webhook_id=webhook_id,
            url=url,
            events=list(events),
            description=description,
            secret_sealed=secret_sealed,
        )
        .returning(*_WEBHOOK_COLUMNS)
    ).one()
    return _webhook(row)


def list_all(session: Session) -> list[WebhookView]:
    rows = session.execute(
        select(*_WEBHOOK_COLUMNS).order_by(Webhook.created_at, Webhook.webhook_id)
    )
    return [_webhook(row) for row in rows]


def get(session: Session, webhook_id: str) -> WebhookView:
    row = session.execute(
        select(*_WEBHOOK_COLUMNS).where(Webhook.webhook_id == webhook_id)
    ).one_or_none()
    if row is None:
        raise WebhookNotFound(webhook_id)
    return _webhook(row)


def remove(session: Session, webhook_id: str) -> None:
    """Delete the subscription and its delivery log. A delivery an apply transaction writes
    for it at the same moment is dropped by the sender (`models.storage.outbox.claim`)."""
    gone = session.execute(
        delete(Webhook).where(Webhook.webhook_id == webhook_id).returning(Webhook.webhook_id)
    ).first()
    if gone is None:
        raise WebhookNotFound(webhook_id)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))


def deliveries(
    session: Session, webhook_id: str, before: int | None, limit: int
) -> list[DeliveryView]:
    """Up to `limit` deliveries of the subscription, newest first, older than `before`."""
    get(session, webhook_id)
    query = select(*_DELIVERY_COLUMNS).where(WebhookDelivery.webhook_id == webhook_id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    rows = session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit))
    return [_delivery(row) for row in rows]


_RETRY = text(
    """
    UPDATE webhook_deliveries
       SET status = 'pending',
           next_attempt_at = now(),
           schedule_from = attempts
     WHERE id = :delivery_id AND webhook_id = :webhook_id
    RETURNING id AS delivery_id, message_id, kind AS type, status, attempts, last_status_code,
              last_error, next_attempt_at, created_at
    """
)


def retry(session: Session, webhook_id: str, delivery_id: int) -> DeliveryView:
    """Send the delivery again as soon as a sender is free, with the same message id, and with
    the whole retry schedule ahead of it, whatever its status. Retrying is also how a disabled
    subscription is switched back on: the operator says its receiver is back."""
    # Under the subscription's row lock, like the senders' claims.
    found = session.execute(
        select(Webhook.webhook_id).where(Webhook.webhook_id == webhook_id).with_for_update()
    ).first()
    if found is None:
        raise WebhookNotFound(webhook_id)
    row = session.execute(_RETRY, {"delivery_id": delivery_id, "webhook_id": webhook_id}).first()
    if row is None:
        raise WebhookNotFound(webhook_id, str(delivery_id))
    session.execute(
        update(Webhook)
        .where(Webhook.webhook_id == webhook_id, Webhook.disabled)
        .values(disabled=False, disabled_at=None, failing_since=None)
    )
    after_commit(session, lambda messenger: messenger.deliver([webhook_id]))
    return _delivery(row)
