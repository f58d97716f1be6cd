"""Evidence files (佐证材料), stored by their SHA-256 before the Update that cites them is sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.tables import evidence_files


async def store(conn: AsyncConnection, files: Sequence[dict[str, Any]]) -> None:
    """Insert each file (sha256, size, media_type, name, content) once: a file already stored,
    under any name, is left as it is."""
    if files:
        await conn.execute(insert(evidence_files).values(list(files)).on_conflict_do_nothing())
