"""The check behind `Act.check_evidence`: each cited file is stored, of the size cited, and its
content hashes to the SHA-256 it is stored under (the client's figures are claims)."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.store.tables import evidence_files
from models.payloads import Act, CheckEvidence, EvidenceChecked


class EvidenceActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.db = engine

    @activity.defn(name=Act.check_evidence)
    async def check_evidence(self, inp: CheckEvidence) -> EvidenceChecked:
        """Read only: retrying it is always safe."""
        for e in inp.evidence:
            async with self.db.connect() as conn:
                row = (
                    await conn.execute(
                        select(evidence_files.c.size, evidence_files.c.content).where(
                            evidence_files.c.sha256 == e.sha256
                        )
                    )
                ).first()
            if row is None:
                return EvidenceChecked(problem=f"evidence {e.name!r} was never stored (sha256 {e.sha256[:12]}…)")
            if row.size != e.size or len(row.content) != e.size:
                return EvidenceChecked(
                    problem=f"evidence {e.name!r} is {len(row.content):,} bytes as stored, not {e.size:,} as cited"
                )
            if hashlib.sha256(row.content).hexdigest() != e.sha256:
                return EvidenceChecked(problem=f"evidence {e.name!r}: the stored file does not match its SHA-256")
        return EvidenceChecked()
