"""The PostgreSQL schema as SQLAlchemy 2.x typed models.

The database enforces what a database can: capacity >= 1, seats taken <= capacity, party sizes
within the event's bound, one row per (event, user), and the cascades. (That the line is settled
depends on the policy: `tessera check` verifies it through the rules.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSONB, dt.datetime: Timestamp}


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint(
            "registered_seats >= 0 AND registered_seats <= capacity", name="seats_within_capacity"
        ),
        CheckConstraint(
            "offered_count >= 0 AND offered_seats >= offered_count"
            " AND registered_seats + offered_seats <= capacity",
            name="offered_seats_within_capacity",
        ),
        CheckConstraint("promotion IN ('automatic', 'offer')", name="promotion_known"),
        CheckConstraint("offer_ttl_seconds BETWEEN 5 AND 604800", name="offer_ttl_range"),
        CheckConstraint(
            "registration_opens_at IS NULL OR registration_closes_at IS NULL"
            " OR registration_opens_at < registration_closes_at",
            name="window_ordered",
        ),
        CheckConstraint(
            "registered_count >= 0 AND registered_count <= registered_seats",
            name="registered_count_within_seats",
        ),
        CheckConstraint("waitlisted_count >= 0", name="waitlist_count_non_negative"),
        CheckConstraint("waitlist_seats >= waitlisted_count", name="waitlist_seats_cover_parties"),
        CheckConstraint(
            "max_party_size BETWEEN 1 AND 50 AND max_party_size <= capacity",
            name="party_size_fits",
        ),
        CheckConstraint("waitlist_policy IN ('strict', 'fill')", name="policy_known"),
        CheckConstraint("bypass_limit BETWEEN 0 AND 100", name="bypass_limit_range"),
        # --- approval (#23) ---
        CheckConstraint("admission IN ('open', 'approval')", name="admission_known"),
        CheckConstraint("applied_count >= 0", name="applied_count_non_negative"),
        Index("ix_events_created_at_event_id", "created_at", "event_id"),
        Index("ix_events_status_created_at_event_id", "status", "created_at", "event_id"),
        Index(
            "ix_events_next_offer_expiry",
            "next_offer_expiry",
            postgresql_where=text("next_offer_expiry IS NOT NULL"),
        ),
        # --- the on-sale draw (#24) ---
        CheckConstraint("opening IN ('fifo', 'draw')", name="opening_known"),
        CheckConstraint(
            "opening <> 'draw' OR drawn_at IS NOT NULL OR (draw_commitment IS NOT NULL"
            " AND prequeue_opens_at < registration_opens_at)",
            name="draw_committed_and_timed",
        ),
        CheckConstraint(
            "prequeued_count >= 0 AND prequeued_seats >= prequeued_count",
            name="prequeue_counts",
        ),
        Index(
            "ix_events_draw_due_at",
            "draw_due_at",
            postgresql_where=text("draw_due_at IS NOT NULL"),
        ),
    )

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    date: Mapped[dt.date] = mapped_column(Date)
    location: Mapped[str] = mapped_column(Text)
    capacity: Mapped[int] = mapped_column(Integer)
    organizer: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    waitlist_enabled: Mapped[bool] = mapped_column(server_default=text("false"))
    max_party_size: Mapped[int] = mapped_column(Integer, server_default="1")
    waitlist_policy: Mapped[str] = mapped_column(String(8), server_default="strict")
    bypass_limit: Mapped[int] = mapped_column(Integer, server_default="3")
    promotion: Mapped[str] = mapped_column(String(16), server_default="automatic")
    offer_ttl_seconds: Mapped[int] = mapped_column(Integer, server_default="3600")
    registration_opens_at: Mapped[dt.datetime | None] = mapped_column()
    registration_closes_at: Mapped[dt.datetime | None] = mapped_column()
    unregister_closes_at: Mapped[dt.datetime | None] = mapped_column()
    # --- approval (#23) ---
    admission: Mapped[str] = mapped_column(String(16), server_default="open")
    # Pending applications (`admission: approval`): they hold no seats.
    applied_count: Mapped[int] = mapped_column(Integer, server_default="0")
    # Parties (registrations) and the seats they take, seated and waiting.
    registered_count: Mapped[int] = mapped_column(Integer, server_default="0")
    registered_seats: Mapped[int] = mapped_column(Integer, server_default="0")
    waitlisted_count: Mapped[int] = mapped_column(Integer, server_default="0")
    waitlist_seats: Mapped[int] = mapped_column(Integer, server_default="0")
    offered_count: Mapped[int] = mapped_column(Integer, server_default="0")
    offered_seats: Mapped[int] = mapped_column(Integer, server_default="0")
    # When the event's earliest open offer runs out (null: none): the sweeper's index of work.
    next_offer_expiry: Mapped[dt.datetime | None] = mapped_column()
    # The length and head hash of the event's ledger (`ledger_entries`).
    ledger_length: Mapped[int] = mapped_column(Integer, server_default="0")
    ledger_head: Mapped[str] = mapped_column(String(64), server_default="0" * 64)
    # --- the on-sale draw (#24) ---
    opening: Mapped[str] = mapped_column(String(8), server_default="fifo")
    prequeue_opens_at: Mapped[dt.datetime | None] = mapped_column()
    draw_commitment: Mapped[str | None] = mapped_column(String(64))
    drawn_at: Mapped[dt.datetime | None] = mapped_column()
    prequeued_count: Mapped[int] = mapped_column(Integer, server_default="0")
    prequeued_seats: Mapped[int] = mapped_column(Integer, server_default="0")
    # When the pre-queue must be drawn (null: no draw pending): the expiry check's index of work.
    draw_due_at: Mapped[dt.datetime | None] = mapped_column(
        Computed(
            "CASE WHEN opening = 'draw' AND drawn_at IS NULL THEN registration_opens_at END",
            persisted=True,
        )
    )
    # The rules' order counter: seats and waitlist places are numbered from it.
    next_order: Mapped[int] = mapped_column(BigInteger, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Registration(Base):
    """A user's party at an event: its seats, or its place in the line."""

    __tablename__ = "registrations"
    __table_args__ = (
        CheckConstraint(
            "standing IN ('registered', 'waitlisted', 'offered', 'applied', 'prequeued')",
            name="standing_known",
        ),
        CheckConstraint(
            "(standing = 'offered') = (offer_expires_at IS NOT NULL)", name="offer_has_expiry"
        ),
        CheckConstraint("seats BETWEEN 1 AND 50", name="seats_range"),
        CheckConstraint("passovers >= 0", name="passovers_non_negative"),
        Index("ix_registrations_event_standing_order", "event_id", "standing", "place_order"),
        Index("ix_registrations_user_id", "user_id"),
    )

    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True
    )
    # RESTRICT, not CASCADE: a user's seats must be freed through the rules (which promote
    # the waitlist) before the user row can go.
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.user_id", ondelete="RESTRICT"), primary_key=True
    )
    standing: Mapped[str] = mapped_column(String(16))
    place_order: Mapped[int] = mapped_column(BigInteger)
    seats: Mapped[int] = mapped_column(Integer, server_default="1")
    # later parties seated while this one kept waiting (`fill`)
    passovers: Mapped[int] = mapped_column(Integer, server_default="0")
    since: Mapped[dt.datetime] = mapped_column()
    offer_expires_at: Mapped[dt.datetime | None] = mapped_column()


class DrawSeed(Base):
    """An on-sale draw's secret seed (#24), its own table so that nothing but the applier's
    draw reads it: no view, ledger entry, log or API response selects from here. The seed is
    revealed by the draw's ledger entry; its SHA-256 is the event's `draw_commitment`."""

    __tablename__ = "draw_seeds"
    __table_args__ = (CheckConstraint("octet_length(seed) = 32", name="seed_length"),)

    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True
    )
    seed: Mapped[bytes] = mapped_column(LargeBinary)


class Batch(Base):
    __tablename__ = "batches"

    batch_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    total: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Ticket(Base):
    """A command accepted but not necessarily applied: the row is the truth, the Celery
    message only a wake-up call."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(
            "type IN ('register', 'unregister', 'accept_offer', 'decline_offer',"
            " 'approve', 'reject')",
            name="type_known",
        ),
        CheckConstraint("status IN ('pending', 'completed', 'failed')", name="status_known"),
        # The apply loop's and the sweeper's query: an event's pending tickets in order.
        Index(
            "ix_tickets_pending_event_seq",
            "event_id",
            "seq",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_tickets_batch_id_seq", "batch_id", "seq"),
    )

    ticket_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    seats: Mapped[int] = mapped_column(Integer, server_default="1")
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.batch_id", ondelete="CASCADE"))
    owner: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    result: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[dt.datetime | None] = mapped_column()
    # The W3C traceparent of the accepting request, when it was traced (tessera/tracing.py).
    trace_context: Mapped[str | None] = mapped_column(String(64))


class LedgerEntry(Base):
    """One entry of an event's hash-chained ledger (`models.domain.ledger`), kept as the exact
    canonical JSON that was hashed, so it is served and verified byte for byte."""

    __tablename__ = "ledger_entries"

    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry: Mapped[str] = mapped_column(Text)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    # None while the first request is still being accepted ("in flight").
    resource_id: Mapped[str | None] = mapped_column(String(26))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class EventLogEntry(Base):
    """Status changes of an event's tickets and registrations, for SSE replay
    (`Last-Event-ID`); written in the transaction that made the change."""

    __tablename__ = "event_log"
    __table_args__ = (
        Index("ix_event_log_event_id_id", "event_id", "id"),
        Index("ix_event_log_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Webhook(Base):
    """A subscription: where to POST which status updates, and the secret that signs them
    (sealed: `tessera.webhook_secrets`)."""

    __tablename__ = "webhooks"
    __table_args__ = (CheckConstraint("cardinality(events) >= 1", name="events_not_empty"),)

    webhook_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    description: Mapped[str | None] = mapped_column(Text)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    disabled: Mapped[bool] = mapped_column(server_default=text("false"))
    # Since when every attempt has failed (none succeeded since): 24 h of that disables it.
    failing_since: Mapped[dt.datetime | None] = mapped_column()
    disabled_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class WebhookDelivery(Base):
    """One message for one subscription: the outbox row, written in the transaction of the
    change it reports (`models.storage.event_log.append`), then sent and retried by the workers.

    No foreign key to `webhooks`: every apply transaction writes these rows, and a key would
    make each of them lock its subscription's row; a delivery left behind by a subscription
    deleted meanwhile is dropped by the sender."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="delivery_status_known"
        ),
        # The delivery log of a subscription, newest first.
        Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
        # What is due, per subscription: the sender's claims, the sweeper, the metrics.
        Index(
            "ix_webhook_deliveries_due",
            "webhook_id",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(26))
    message_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column()
    message_at: Mapped[dt.datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # `attempts` when the retry schedule last started over (a manual retry restarts it).
    schedule_from: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    # A sender holds the delivery until then; past it, a dead sender's delivery is due again.
    leased_until: Mapped[dt.datetime | None] = mapped_column()
    first_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    delivered_at: Mapped[dt.datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class ApiKeyRecord(Base):
    """A key made at run time (`POST /keys`, `tessera keys create`). Only the SHA-256 of its
    secret is kept: the secret is 32 random bytes, so no guess can be tested against it."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("role IN ('admin', 'client')", name="role_known"),)

    key_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    digest: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
