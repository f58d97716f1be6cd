"""责令整改 per unit: an order's level (责令整改 → 通报批评 → 约谈) and the obligations it lists

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0011"
# The lead gave 0008 and re-chains at merge; 0010 is main's head today, and two heads would stop
# `alembic upgrade head`.
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Orders issued before carry level 1 and no list (they named one obligation, or a count).
    op.add_column("rectification_orders", sa.Column("level", sa.SmallInteger(), nullable=False, server_default="1"))
    op.add_column("rectification_orders", sa.Column("measure", sa.Text()))
    op.add_column("rectification_orders", sa.Column("listed", JSONB()))


def downgrade() -> None:
    op.drop_column("rectification_orders", "listed")
    op.drop_column("rectification_orders", "measure")
    op.drop_column("rectification_orders", "level")
