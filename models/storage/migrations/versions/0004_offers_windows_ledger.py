"""offers that hold seats and expire, registration windows, and each event's ledger

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Existing data keeps working: every event promotes automatically with no windows and no open
offers. Events that exist before this revision have no ledger (their history before it was
never recorded): `ledger_length` -1 marks them, and nothing is appended for them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    event_columns: list[sa.Column[Any]] = [
        sa.Column("promotion", sa.String(length=16), server_default="automatic", nullable=False),
        sa.Column("offer_ttl_seconds", sa.Integer(), server_default="3600", nullable=False),
        sa.Column("registration_opens_at", Timestamp, nullable=True),
        sa.Column("registration_closes_at", Timestamp, nullable=True),
        sa.Column("unregister_closes_at", Timestamp, nullable=True),
        sa.Column("offered_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("offered_seats", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_offer_expiry", Timestamp, nullable=True),
        sa.Column("ledger_length", sa.Integer(), server_default="0", nullable=False),
        sa.Column("ledger_head", sa.String(length=64), server_default="0" * 64, nullable=False),
    ]
    for column in event_columns:
        op.add_column("events", column)
    op.execute("UPDATE events SET ledger_length = -1")
    op.create_check_constraint(
        op.f("ck_events_offered_seats_within_capacity"),
        "events",
        "offered_count >= 0 AND offered_seats >= offered_count"
        " AND registered_seats + offered_seats <= capacity",
    )
    op.create_check_constraint(
        op.f("ck_events_promotion_known"), "events", "promotion IN ('automatic', 'offer')"
    )
    op.create_check_constraint(
        op.f("ck_events_offer_ttl_range"), "events", "offer_ttl_seconds BETWEEN 5 AND 604800"
    )
    op.create_check_constraint(
        op.f("ck_events_window_ordered"),
        "events",
        "registration_opens_at IS NULL OR registration_closes_at IS NULL"
        " OR registration_opens_at < registration_closes_at",
    )
    op.create_index(
        "ix_events_next_offer_expiry",
        "events",
        ["next_offer_expiry"],
        postgresql_where=sa.text("next_offer_expiry IS NOT NULL"),
    )

    op.add_column("registrations", sa.Column("offer_expires_at", Timestamp, nullable=True))
    op.drop_constraint(op.f("ck_registrations_standing_known"), "registrations", type_="check")
    op.create_check_constraint(
        op.f("ck_registrations_standing_known"),
        "registrations",
        "standing IN ('registered', 'waitlisted', 'offered')",
    )
    op.create_check_constraint(
        op.f("ck_registrations_offer_has_expiry"),
        "registrations",
        "(standing = 'offered') = (offer_expires_at IS NOT NULL)",
    )

    op.drop_constraint(op.f("ck_tickets_type_known"), "tickets", type_="check")
    op.create_check_constraint(
        op.f("ck_tickets_type_known"),
        "tickets",
        "type IN ('register', 'unregister', 'accept_offer', 'decline_offer')",
    )

    op.create_table(
        "ledger_entries",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.event_id"],
            name=op.f("fk_ledger_entries_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "index", name=op.f("pk_ledger_entries")),
    )


def downgrade() -> None:
    op.drop_table("ledger_entries")
    op.drop_constraint(op.f("ck_tickets_type_known"), "tickets", type_="check")
    op.create_check_constraint(
        op.f("ck_tickets_type_known"), "tickets", "type IN ('register', 'unregister')"
    )
    op.execute("DELETE FROM registrations WHERE standing = 'offered'")
    op.drop_constraint(op.f("ck_registrations_offer_has_expiry"), "registrations", type_="check")
    op.drop_constraint(op.f("ck_registrations_standing_known"), "registrations", type_="check")
    op.create_check_constraint(
        op.f("ck_registrations_standing_known"),
        "registrations",
        "standing IN ('registered', 'waitlisted')",
    )
    op.drop_column("registrations", "offer_expires_at")
    op.drop_index("ix_events_next_offer_expiry", table_name="events")
    for name in (
        "window_ordered",
        "offer_ttl_range",
        "promotion_known",
        "offered_seats_within_capacity",
    ):
        op.drop_constraint(op.f(f"ck_events_{name}"), "events", type_="check")
    for column in (
        "ledger_head",
        "ledger_length",
        "next_offer_expiry",
        "offered_seats",
        "offered_count",
        "unregister_closes_at",
        "registration_closes_at",
        "registration_opens_at",
        "offer_ttl_seconds",
        "promotion",
    ):
        op.drop_column("events", column)
