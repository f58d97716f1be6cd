"""The final report (总结评价) rendered when first asked for, when the worker that made the
evaluation left it for later (a rehearsal: `Settings.rehearsal_papers`).

Such an evaluation's audit row holds the report's whole input (`document`: the
`models.documents.FinalReport` as dumped) beside the evaluation JSON's hash, so rendering it now
gives the bytes rendering at the evaluation would have. The files are stored once, their SHA-256
beside them, and read back checked like any other. Evaluations made with their files (any worker
with an outbox, every campaign before this) are left alone.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.documents.final_report import render_final_report
from activities.evaluation import FINAL_REPORT
from activities.store import documents as stored_documents
from activities.store.scores import EVALUATION_KIND
from activities.store.tables import audit_events, documents
from models.documents import FinalReport


def evaluation_key(campaign_id: str) -> str:
    """The evaluation's audit row (and its idempotency) key."""
    return f"{campaign_id}#evaluation"


async def file_final_report_on_request(conn: AsyncConnection, campaign_id: str) -> bool:
    """Render and store the final report's files in the caller's transaction if the evaluation
    was made without them; False when there is nothing to do (no evaluation, already filed, or
    made with its files)."""
    # The stored evaluation JSON, locked, so two first requests at once render and store it once.
    q = (
        select(documents.c.ref)
        .where(documents.c.campaign_id == campaign_id, documents.c.kind == EVALUATION_KIND)
        .with_for_update()
    )
    ref = (await conn.execute(q)).scalars().first()
    if ref is None or await stored_documents.exists(conn, campaign_id, FINAL_REPORT, ref):
        return False
    row = (
        await conn.execute(
            select(audit_events.c.payload, audit_events.c.plan_time, audit_events.c.server_time).where(
                audit_events.c.campaign_id == campaign_id, audit_events.c.event_key == evaluation_key(campaign_id)
            )
        )
    ).first()
    if row is None:
        return False
    record: dict[str, Any] = json.loads(row.payload)
    if "document" not in record:
        return False
    report = FinalReport.model_validate(record["document"])
    # CPU-bound (about a second for a county): off the event loop.
    files = await asyncio.to_thread(render_final_report, report)
    await stored_documents.store(
        conn, campaign_id=campaign_id, kind=FINAL_REPORT, ref=ref, files=dict(files),
        plan_time=row.plan_time, server_time=row.server_time,
    )  # fmt: skip
    return True
