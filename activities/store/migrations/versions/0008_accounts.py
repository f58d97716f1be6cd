"""accounts, web sessions and calendar-feed tokens (the web door)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.Text(), server_default="", nullable=False),
        sa.Column("role", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_accounts")),
    )
    for table in ("web_sessions", "ics_tokens"):
        extra = (
            [
                sa.Column("csrf", sa.String(length=64), nullable=False),
                sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
                sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            ]
            if table == "web_sessions"
            else [
                sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
                sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
            ]
        )
        op.create_table(
            table,
            sa.Column("token_sha256", sa.String(length=64), nullable=False),
            sa.Column("account", sa.String(length=100), nullable=False),
            *extra,
            sa.ForeignKeyConstraint(
                ["account"], ["accounts.name"], name=op.f(f"fk_{table}_account_accounts"), ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint("token_sha256", name=op.f(f"pk_{table}")),
        )
        op.create_index(f"ix_{table}_account", table, ["account"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ics_tokens_account", table_name="ics_tokens")
    op.drop_table("ics_tokens")
    op.drop_index("ix_web_sessions_account", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("accounts")
