"""supervision_notices.severity: the 三色督办 colour of each 督办通知

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("supervision_notices", sa.Column("severity", sa.String(length=10), nullable=True))


def downgrade() -> None:
    op.drop_column("supervision_notices", "severity")
