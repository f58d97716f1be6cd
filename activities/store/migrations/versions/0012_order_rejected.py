"""责令整改 can end rejected (整改不到位): the sent-back round gets its own state, `sent_back`

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_rectification_orders_state"


def upgrade() -> None:
    op.drop_constraint(CHECK, "rectification_orders", type_="check")
    # Until now 'rejected' named the sent-back round (no order ever ended rejected).
    op.execute("UPDATE rectification_orders SET state = 'sent_back' WHERE state = 'rejected'")
    op.create_check_constraint(
        CHECK, "rectification_orders", "state IN ('open', 'reported', 'resolved', 'sent_back', 'rejected', 'escalated')"
    )


def downgrade() -> None:
    op.drop_constraint(CHECK, "rectification_orders", type_="check")
    # Both become the old "rejected": the old states have no end for a report that failed again.
    op.execute("UPDATE rectification_orders SET state = 'rejected' WHERE state = 'sent_back'")
    op.create_check_constraint(
        CHECK, "rectification_orders", "state IN ('open', 'reported', 'resolved', 'rejected', 'escalated')"
    )
