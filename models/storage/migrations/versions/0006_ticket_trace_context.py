"""tickets carry the trace context of the request that accepted them

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable and without a default: adding it rewrites nothing, and with tracing off it
    # stays NULL (a NULL costs a bit in the row's null bitmap).
    op.add_column("tickets", sa.Column("trace_context", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("tickets", "trace_context")
