"""Evidence an Update cites, checked against the stored files before the Update is admitted."""

from __future__ import annotations

from temporalio import workflow

from models.payloads import Act, CheckEvidence, Evidence, EvidenceChecked
from workflows.common import DB_ACTIVITY

EVIDENCE_PATCH = "evidence-checked-against-store"


async def check_evidence(evidence: list[Evidence]) -> str | None:
    """Why the cited files do not hold, or None (an activity: it reads and hashes the store)."""
    done: EvidenceChecked = await workflow.execute_activity(
        Act.check_evidence, CheckEvidence(evidence=evidence), result_type=EvidenceChecked, **DB_ACTIVITY
    )
    return done.problem
