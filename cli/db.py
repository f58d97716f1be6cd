"""`duban db upgrade`: the database schema (a separate step in production)."""

from __future__ import annotations

import asyncio

import typer

from activities.config import get_settings
from cli.common import out
from services.context import migrate

app = typer.Typer(no_args_is_help=True, help="The database schema.")


@app.command("upgrade")
def upgrade() -> None:
    """Apply the Alembic migrations to the configured database."""
    asyncio.run(migrate(get_settings()))
    out.print("database is at the latest schema")
