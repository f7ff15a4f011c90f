"""the on-sale draw: opening, the pre-queue, the commitment and its seed, the draw's due time

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10

Existing events open first come, first served (`opening` 'fifo'), so nothing is due and no
seed exists for them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    columns: list[sa.Column[Any]] = [
        sa.Column("opening", sa.String(length=8), server_default="fifo", nullable=False),
        sa.Column("prequeue_opens_at", Timestamp, nullable=True),
        sa.Column("draw_commitment", sa.String(length=64), nullable=True),
        sa.Column("drawn_at", Timestamp, nullable=True),
        sa.Column("prequeued_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("prequeued_seats", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "draw_due_at",
            Timestamp,
            sa.Computed(
                "CASE WHEN opening = 'draw' AND drawn_at IS NULL THEN registration_opens_at END",
                persisted=True,
            ),
            nullable=True,
        ),
    ]
    for column in columns:
        op.add_column("events", column)
    op.create_check_constraint(
        op.f("ck_events_opening_known"), "events", "opening IN ('fifo', 'draw')"
    )
    op.create_check_constraint(
        op.f("ck_events_draw_committed_and_timed"),
        "events",
        "opening <> 'draw' OR drawn_at IS NOT NULL OR (draw_commitment IS NOT NULL"
        " AND prequeue_opens_at < registration_opens_at)",
    )
    op.create_check_constraint(
        op.f("ck_events_prequeue_counts"),
        "events",
        "prequeued_count >= 0 AND prequeued_seats >= prequeued_count",
    )
    op.create_index(
        "ix_events_draw_due_at",
        "events",
        ["draw_due_at"],
        postgresql_where=sa.text("draw_due_at IS NOT NULL"),
    )
    op.drop_constraint(op.f("ck_registrations_standing_known"), "registrations", type_="check")
    op.create_check_constraint(
        op.f("ck_registrations_standing_known"),
        "registrations",
        "standing IN ('registered', 'waitlisted', 'offered', 'applied', 'prequeued')",
    )
    op.create_table(
        "draw_seeds",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("seed", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("octet_length(seed) = 32", name=op.f("ck_draw_seeds_seed_length")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.event_id"],
            name=op.f("fk_draw_seeds_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_draw_seeds")),
    )


def downgrade() -> None:
    op.drop_table("draw_seeds")
    op.execute("DELETE FROM registrations WHERE standing = 'prequeued'")
    op.drop_constraint(op.f("ck_registrations_standing_known"), "registrations", type_="check")
    op.create_check_constraint(
        op.f("ck_registrations_standing_known"),
        "registrations",
        "standing IN ('registered', 'waitlisted', 'offered', 'applied')",
    )
    op.drop_index("ix_events_draw_due_at", table_name="events")
    for name in ("prequeue_counts", "draw_committed_and_timed", "opening_known"):
        op.drop_constraint(op.f(f"ck_events_{name}"), "events", type_="check")
    for column in (
        "draw_due_at",
        "prequeued_seats",
        "prequeued_count",
        "drawn_at",
        "draw_commitment",
        "prequeue_opens_at",
        "opening",
    ):
        op.drop_column("events", column)
