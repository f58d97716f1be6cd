"""A reminder written ahead of its instant (armed): it shows from `visible_from`, and the engine
confirms it at its instant (`confirmed_at`), when the chain records it (issue 16's timer storm)

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Both NULL for every row written at its instant (all rows before this revision).
    op.add_column("inbox", sa.Column("visible_from", sa.DateTime(timezone=True)))
    op.add_column("inbox", sa.Column("confirmed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    # Rows still armed were never delivered: without the columns they would show at once.
    op.execute("DELETE FROM inbox WHERE visible_from IS NOT NULL AND confirmed_at IS NULL")
    op.drop_column("inbox", "confirmed_at")
    op.drop_column("inbox", "visible_from")
