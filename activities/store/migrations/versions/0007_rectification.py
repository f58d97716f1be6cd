"""rectification orders followed by workflows: state, report, review, escalation

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("workflow_id", sa.String(length=300), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("obligation_id", sa.String(length=200), nullable=True),
        sa.Column("first_due", sa.Date(), nullable=True),
        sa.Column("round", sa.Integer(), server_default="0", nullable=False),
        sa.Column("report_text", sa.Text(), nullable=True),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewer", sa.String(length=64), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("step_seq", sa.Integer(), server_default="0", nullable=False),
    ]


def upgrade() -> None:
    for column in _columns():
        op.add_column("rectification_orders", column)
    # Rows written before: every order so far was 'open' (the default), which the check admits.
    op.create_check_constraint(
        "ck_rectification_orders_state",
        "rectification_orders",
        "state IN ('open', 'reported', 'resolved', 'rejected', 'escalated')",
    )
    op.create_index("ix_rectification_orders_state", "rectification_orders", ["campaign_id", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_rectification_orders_state", table_name="rectification_orders")
    op.drop_constraint("ck_rectification_orders_state", "rectification_orders", type_="check")
    for column in reversed(_columns()):
        op.drop_column("rectification_orders", column.name)
