"""Evidence files (佐证材料), stored by their SHA-256 before the Update that cites them is sent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.tables import audit_events, campaigns, evidence_files
from models.ruleset import EvidencePolicy


async def store(conn: AsyncConnection, files: Sequence[dict[str, Any]]) -> None:
    """Insert each file (sha256, size, media_type, name, content) once: a file already stored,
    under any name, is left as it is."""
    if files:
        await conn.execute(insert(evidence_files).values(list(files)).on_conflict_do_nothing())


async def policy(conn: AsyncConnection, campaign_id: str) -> EvidencePolicy | None:
    """The evidence policy of the rule set in force on the campaign (the last one installed,
    else the one it launched with), or None for no such campaign."""
    installed = (
        await conn.execute(
            select(audit_events.c.payload)
            .where(audit_events.c.campaign_id == campaign_id, audit_events.c.kind == "rules.installed")
            .order_by(audit_events.c.seq.desc())
            .limit(1)
        )
    ).scalar()
    if installed is not None:
        data = json.loads(installed) if isinstance(installed, str) else installed
        return EvidencePolicy.model_validate(data["ruleset"].get("evidence", {}))
    launched = (await conn.execute(select(campaigns.c.ruleset).where(campaigns.c.id == campaign_id))).scalar()
    if launched is None:
        return None
    return EvidencePolicy.model_validate(launched.get("evidence", {}))
