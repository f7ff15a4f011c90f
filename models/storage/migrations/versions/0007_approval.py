"""approval: the `admission` setting, pending applications and the approve/reject tickets

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10

Existing events keep `admission` open with no applications: nothing about them changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_STANDINGS = "standing IN ('registered', 'waitlisted', 'offered', 'applied')"
_TYPES = "type IN ('register', 'unregister', 'accept_offer', 'decline_offer', 'approve', 'reject')"


def upgrade() -> None:
    op.add_column(
        "events",
        sa.Column("admission", sa.String(length=16), server_default="open", nullable=False),
    )
    op.add_column(
        "events", sa.Column("applied_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_events_admission_known"), "events", "admission IN ('open', 'approval')"
    )
    op.create_check_constraint(
        op.f("ck_events_applied_count_non_negative"), "events", "applied_count >= 0"
    )
    op.drop_constraint(op.f("ck_registrations_standing_known"), "registrations", type_="check")
    op.create_check_constraint(op.f("ck_registrations_standing_known"), "registrations", _STANDINGS)
    op.drop_constraint(op.f("ck_tickets_type_known"), "tickets", type_="check")
    op.create_check_constraint(op.f("ck_tickets_type_known"), "tickets", _TYPES)


def downgrade() -> None:
    op.execute("DELETE FROM registrations WHERE standing = 'applied'")
    op.execute("DELETE FROM tickets WHERE type IN ('approve', 'reject')")
    op.drop_constraint(op.f("ck_tickets_type_known"), "tickets", type_="check")
    op.create_check_constraint(
        op.f("ck_tickets_type_known"),
        "tickets",
        "type IN ('register', 'unregister', 'accept_offer', 'decline_offer')",
    )
    op.drop_constraint(op.f("ck_registrations_standing_known"), "registrations", type_="check")
    op.create_check_constraint(
        op.f("ck_registrations_standing_known"),
        "registrations",
        "standing IN ('registered', 'waitlisted', 'offered')",
    )
    op.drop_constraint(op.f("ck_events_applied_count_non_negative"), "events", type_="check")
    op.drop_constraint(op.f("ck_events_admission_known"), "events", type_="check")
    op.drop_column("events", "applied_count")
    op.drop_column("events", "admission")
