"""A 督办通知's papers rendered when first asked for, when the worker that issued it left them
for later (a rehearsal: `Settings.rehearsal_papers`).

The notice's audit row holds the document's whole input, so rendering it now gives the same
bytes as rendering it at issue would have; the files are stored once (their SHA-256 beside
them, as at issue) and read back checked like any other.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.documents import RenderedSet, render_notice
from activities.store import documents
from activities.store.tables import audit_events, supervision_notices
from models.documents import SupervisionNotice


async def unfiled_notice(conn: AsyncConnection, campaign_id: str, key: str) -> tuple[Any, dict[str, Any]] | None:
    """The notice row and its audit record when its papers are still to be rendered, else None
    (no such notice, already stored, or issued before notices carried their document input)."""
    row = (
        await conn.execute(
            select(audit_events.c.payload).where(
                audit_events.c.campaign_id == campaign_id, audit_events.c.event_key == key
            )
        )
    ).first()
    # Locked, so two first requests at once render and store it once.
    q = select(supervision_notices).where(supervision_notices.c.idempotency_key == key).with_for_update()
    notice = (await conn.execute(q)).mappings().first()
    if row is None or notice is None:
        return None
    if await documents.exists(conn, campaign_id, "notice", notice["code"]):
        return None
    record: dict[str, Any] = json.loads(row.payload)
    if "document" not in record:
        return None
    return notice, record


async def render_unfiled(record: dict[str, Any]) -> RenderedSet:
    doc = SupervisionNotice.model_validate(record["document"])
    # CPU-bound (about 0.1 s): off the event loop, so a worker's heartbeats go on meanwhile.
    return await asyncio.to_thread(render_notice, doc)


async def store_notice(conn: AsyncConnection, notice: Any, files: RenderedSet) -> None:
    await documents.store(
        conn, campaign_id=notice["campaign_id"], kind="notice", ref=notice["code"], files=dict(files),
        plan_time=notice["plan_time"], server_time=notice["server_time"],
    )  # fmt: skip


async def file_on_request(conn: AsyncConnection, campaign_id: str, key: str) -> bool:
    """Render and store a notice's papers in the caller's transaction if they are not stored yet."""
    found = await unfiled_notice(conn, campaign_id, key)
    if found is None:
        return False
    notice, record = found
    await store_notice(conn, notice, await render_unfiled(record))
    return True
