"""parties and fair waitlists: seats per registration and ticket, event policy settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

Existing data keeps working: every registration and ticket is a party of one seat, every event
`strict` with parties of one; the seat counts start equal to the party counts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "events", sa.Column("max_party_size", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column(
        "events",
        sa.Column("waitlist_policy", sa.String(length=8), server_default="strict", nullable=False),
    )
    op.add_column(
        "events", sa.Column("bypass_limit", sa.Integer(), server_default="3", nullable=False)
    )
    op.add_column(
        "events", sa.Column("registered_seats", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "events", sa.Column("waitlist_seats", sa.Integer(), server_default="0", nullable=False)
    )
    op.execute(
        "UPDATE events SET registered_seats = registered_count, waitlist_seats = waitlisted_count"
    )
    op.drop_constraint(op.f("ck_events_not_oversold"), "events", type_="check")
    op.drop_constraint(op.f("ck_events_waitlist_only_when_full"), "events", type_="check")
    op.create_check_constraint(
        op.f("ck_events_seats_within_capacity"),
        "events",
        "registered_seats >= 0 AND registered_seats <= capacity",
    )
    op.create_check_constraint(
        op.f("ck_events_registered_count_within_seats"),
        "events",
        "registered_count >= 0 AND registered_count <= registered_seats",
    )
    op.create_check_constraint(
        op.f("ck_events_waitlist_seats_cover_parties"),
        "events",
        "waitlist_seats >= waitlisted_count",
    )
    op.create_check_constraint(
        op.f("ck_events_party_size_fits"),
        "events",
        "max_party_size BETWEEN 1 AND 50 AND max_party_size <= capacity",
    )
    op.create_check_constraint(
        op.f("ck_events_policy_known"), "events", "waitlist_policy IN ('strict', 'fill')"
    )
    op.create_check_constraint(
        op.f("ck_events_bypass_limit_range"), "events", "bypass_limit BETWEEN 0 AND 100"
    )

    op.add_column(
        "registrations", sa.Column("seats", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column(
        "registrations", sa.Column("passovers", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_registrations_seats_range"), "registrations", "seats BETWEEN 1 AND 50"
    )
    op.create_check_constraint(
        op.f("ck_registrations_passovers_non_negative"), "registrations", "passovers >= 0"
    )

    op.add_column("tickets", sa.Column("seats", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    op.drop_column("tickets", "seats")
    op.drop_constraint(
        op.f("ck_registrations_passovers_non_negative"), "registrations", type_="check"
    )
    op.drop_constraint(op.f("ck_registrations_seats_range"), "registrations", type_="check")
    op.drop_column("registrations", "passovers")
    op.drop_column("registrations", "seats")
    for name in (
        "bypass_limit_range",
        "policy_known",
        "party_size_fits",
        "waitlist_seats_cover_parties",
        "registered_count_within_seats",
        "seats_within_capacity",
    ):
        op.drop_constraint(op.f(f"ck_events_{name}"), "events", type_="check")
    op.create_check_constraint(
        op.f("ck_events_not_oversold"),
        "events",
        "registered_count >= 0 AND registered_count <= capacity",
    )
    op.create_check_constraint(
        op.f("ck_events_waitlist_only_when_full"),
        "events",
        "waitlisted_count = 0 OR registered_count = capacity",
    )
    for column in (
        "waitlist_seats",
        "registered_seats",
        "bypass_limit",
        "waitlist_policy",
        "max_party_size",
    ):
        op.drop_column("events", column)
