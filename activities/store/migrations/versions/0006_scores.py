"""scores: stored assessment scores, the campaign's pinned score book and clock, re-checks

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("scorebook", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("campaigns", sa.Column("scorebook_hash", sa.String(length=80), nullable=True))
    op.add_column("campaigns", sa.Column("clock", postgresql.JSONB(astext_type=sa.Text()), nullable=True))

    # A re-check (复查) is a second assessment of the same town against the same milestone.
    op.add_column("assessments", sa.Column("attempt", sa.SmallInteger(), server_default="1", nullable=False))
    op.drop_constraint("uq_assessment", "assessments", type_="unique")
    op.create_unique_constraint(
        "uq_assessment", "assessments", ["campaign_id", "kind", "milestone", "unit_id", "attempt"]
    )

    op.create_table(
        "assessment_scores",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=400), nullable=False),
        sa.Column("campaign_id", sa.String(length=100), nullable=False),
        sa.Column("sheet_id", sa.String(length=31), nullable=False),
        sa.Column("scorebook_hash", sa.String(length=80), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("assessor", sa.String(length=64), nullable=False),
        sa.Column("points", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("findings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("supersedes", sa.BigInteger(), nullable=True),
        sa.Column("plan_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("server_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_assessment_scores_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes"], ["assessment_scores.id"], name=op.f("fk_assessment_scores_supersedes_assessment_scores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_scores")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_assessment_scores_idempotency_key")),
        sa.UniqueConstraint("supersedes", name=op.f("uq_assessment_scores_supersedes")),
    )
    op.create_index(
        "ix_assessment_scores_unit", "assessment_scores", ["campaign_id", "sheet_id", "unit_id", "assessed_on"]
    )


def downgrade() -> None:
    op.drop_index("ix_assessment_scores_unit", table_name="assessment_scores")
    op.drop_table("assessment_scores")
    op.drop_constraint("uq_assessment", "assessments", type_="unique")
    op.create_unique_constraint("uq_assessment", "assessments", ["campaign_id", "kind", "milestone", "unit_id"])
    op.drop_column("assessments", "attempt")
    op.drop_column("campaigns", "clock")
    op.drop_column("campaigns", "scorebook_hash")
    op.drop_column("campaigns", "scorebook")
