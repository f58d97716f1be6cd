"""indexes for the board at province size: the grid paged by unit, drilled down by task

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_obligations_board_unit_task", "obligations", ["campaign_id", "unit_id", "task_no"])
    op.create_index("ix_obligations_board_task_unit", "obligations", ["campaign_id", "task_no", "unit_id"])


def downgrade() -> None:
    op.drop_index("ix_obligations_board_task_unit", table_name="obligations")
    op.drop_index("ix_obligations_board_unit_task", table_name="obligations")
