"""Papers read back (the CLI): stored files checked against the SHA-256 recorded when they were issued."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.audit import payload_of
from activities.store.tables import audit_events, bulletins, campaigns, documents
from activities.store.tables import supervision_notices as notices_t
from models.time import CST

log = structlog.get_logger()


class PaperNotFound(Exception):
    """No such campaign, notice, bulletin or stored file: the user's input names nothing."""


class ChecksumMismatch(Exception):
    """A stored file whose bytes do not hash to what was recorded when it was issued."""


@dataclass(frozen=True)
class StoredFile:
    format: str
    filename: str
    sha256: str
    content: bytes


async def require_campaign(conn: AsyncConnection, campaign_id: str) -> None:
    if (await conn.scalar(select(campaigns.c.id).where(campaigns.c.id == campaign_id))) is None:
        raise PaperNotFound(f"no campaign {campaign_id!r}")


async def stored_files(
    conn: AsyncConnection, campaign_id: str, kind: str, ref: str, recorded: dict[str, str]
) -> dict[str, StoredFile]:
    """A document's stored files by format, each checked: its bytes hash to the row's SHA-256,
    which is the one recorded with the notice or bulletin (`recorded`, by format)."""
    q = (
        select(documents.c.format, documents.c.filename, documents.c.sha256, documents.c.content)
        .where(documents.c.campaign_id == campaign_id, documents.c.kind == kind, documents.c.ref == ref)
        .order_by(documents.c.format)
    )
    out = {}
    for r in (await conn.execute(q)).all():
        actual = hashlib.sha256(r.content).hexdigest()
        expected = recorded.get(r.format, r.sha256)
        if actual != r.sha256 or actual != expected:
            raise ChecksumMismatch(
                f"{r.filename}: stored bytes hash to {actual}, but {expected} was recorded when it was issued"
            )
        out[r.format] = StoredFile(r.format, r.filename, r.sha256, bytes(r.content))
    return out


async def notices_of(conn: AsyncConnection, campaign_id: str, unit: str | None = None) -> list[dict[str, Any]]:
    """A campaign's notices in number order (per year), optionally one unit's."""
    await require_campaign(conn, campaign_id)
    q = select(notices_t).where(notices_t.c.campaign_id == campaign_id)
    if unit is not None:
        q = q.where(notices_t.c.unit_id == unit)
    q = q.order_by(notices_t.c.year, notices_t.c.number)
    return [_notice_row(r) for r in (await conn.execute(q)).mappings().all()]


def _notice_row(r: Any) -> dict[str, Any]:
    return {
        "campaign": r["campaign_id"],
        "code": r["code"],
        "year": r["year"],
        "number": r["number"],
        "date": r["plan_time"].astimezone(CST).date().isoformat(),
        "unit": r["unit_id"],
        "severity": r["severity"],
        "obligation": r["obligation_id"],
        "level": r["level"],
        "copy_to": r["copy_to"],
        "rule": r["rule_id"],
        "title": r["title"],
        "key": r["idempotency_key"],
    }


async def notice_by_code(conn: AsyncConnection, code: str, campaign_id: str | None = None) -> dict[str, Any]:
    """One notice by its number; `campaign_id` tells apart campaigns that number alike."""
    q = select(notices_t).where(notices_t.c.code == code)
    if campaign_id is not None:
        await require_campaign(conn, campaign_id)
        q = q.where(notices_t.c.campaign_id == campaign_id)
    found = (await conn.execute(q.order_by(notices_t.c.campaign_id))).mappings().all()
    if not found:
        where = f" in campaign {campaign_id!r}" if campaign_id else ""
        raise PaperNotFound(f"no notice {code!r}{where}")
    if len(found) > 1:
        camps = ", ".join(r["campaign_id"] for r in found)
        raise PaperNotFound(f"notice {code!r} is in {len(found)} campaigns ({camps}): name one with --campaign")
    return _notice_row(found[0])


async def notice_record(conn: AsyncConnection, notice: dict[str, Any]) -> dict[str, Any]:
    """The notice's audit payload: what was recorded when it was issued (severity, files' hashes)."""
    q = select(audit_events).where(
        audit_events.c.campaign_id == notice["campaign"], audit_events.c.event_key == notice["key"]
    )
    row = (await conn.execute(q)).mappings().first()
    return payload_of(row) if row is not None else {}


async def notice_records(conn: AsyncConnection, campaign_id: str, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Many notices' audit payloads at once, by notice key."""
    if not keys:
        return {}
    q = select(audit_events).where(audit_events.c.campaign_id == campaign_id, audit_events.c.event_key.in_(keys))
    return {r["event_key"]: payload_of(r) for r in (await conn.execute(q)).mappings()}


async def bulletin_of(conn: AsyncConnection, campaign_id: str, month: date) -> dict[str, Any]:
    await require_campaign(conn, campaign_id)
    q = select(bulletins.c.body).where(bulletins.c.campaign_id == campaign_id, bulletins.c.month == month)
    body = await conn.scalar(q)
    if body is None:
        months = (
            await conn.execute(
                select(bulletins.c.month).where(bulletins.c.campaign_id == campaign_id).order_by(bulletins.c.month)
            )
        ).scalars()
        have = ", ".join(f"{m:%Y-%m}" for m in months) or "none yet"
        raise PaperNotFound(f"no bulletin for {month:%Y-%m} in campaign {campaign_id!r} (bulletins: {have})")
    return dict(body)
