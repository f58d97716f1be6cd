"""Rendered documents, stored next to the rows they render: bytes, SHA-256, file name.

Rendering is deterministic (same input, same bytes), so a retried activity re-renders and the
unique key makes the second write a no-op; the checksum then proves the stored file is the one
the record describes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.documents.files import RenderedFile
from activities.store.tables import documents


def document_key(campaign_id: str, kind: str, ref: str, fmt: str) -> str:
    return f"{campaign_id}#{kind}#{ref}#{fmt}"


async def store(
    conn: AsyncConnection,
    *,
    campaign_id: str,
    kind: str,
    ref: str,
    files: dict[str, RenderedFile],
    plan_time: datetime,
    server_time: datetime,
) -> dict[str, str]:
    """Store a document's files (by format) in the caller's transaction; their SHA-256 by format."""
    for fmt, f in files.items():
        await conn.execute(
            insert(documents)
            .values(
                idempotency_key=document_key(campaign_id, kind, ref, fmt),
                campaign_id=campaign_id,
                kind=kind,
                ref=ref,
                format=fmt,
                filename=f.name,
                media_type=f.media_type,
                sha256=f.sha256,
                size=len(f.data),
                content=f.data,
                plan_time=plan_time,
                server_time=server_time,
            )
            .on_conflict_do_nothing()
        )
    return {fmt: f.sha256 for fmt, f in files.items()}


async def exists(conn: AsyncConnection, campaign_id: str, kind: str, ref: str) -> bool:
    """Whether a document has been stored (without reading its bytes)."""
    q = select(documents.c.id).where(
        documents.c.campaign_id == campaign_id, documents.c.kind == kind, documents.c.ref == ref
    )
    return (await conn.execute(q.limit(1))).first() is not None


async def fetch(conn: AsyncConnection, campaign_id: str, kind: str, ref: str) -> list[Any]:
    """A document's stored files (filename, format, media type, sha256, content)."""
    q = (
        select(
            documents.c.format, documents.c.filename, documents.c.media_type, documents.c.sha256, documents.c.content
        )
        .where(documents.c.campaign_id == campaign_id, documents.c.kind == kind, documents.c.ref == ref)
        .order_by(documents.c.format)
    )
    return list((await conn.execute(q)).all())
