"""The read side as the doors ask for it: one query function per question, each answering with
the pydantic views of `models.views` (cosmicpython's `views`).

Read-only. A question about something that does not exist answers None or an empty list; the
services turn that into a refusal. The papers (notices, bulletins) come checked against their
recorded SHA-256 (`activities.paperwork`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.campaign.common import campaign_counts
from activities.paperwork import (
    CampaignPapers,
    bulletin_of,
    notice_by_code,
    notice_record,
    notice_records,
    notices_of,
    stored_files,
)
from activities.paperwork.final_report_request import evaluation_key
from activities.store import deliveries as ledger
from activities.store.audit import payload_of
from activities.store.scores import EVALUATION_KIND, current
from activities.store.tables import (
    INBOX_SHOWN,
    assessment_scores,
    assessments,
    audit_events,
    campaigns,
    documents,
    inbox,
    rectification_orders,
)
from models.delivery import DeliveryStatus
from models.rectification import OPEN_ORDER_STATES
from models.time import CST
from models.views import (
    AssessmentKindCount,
    AssessmentRow,
    AuditLine,
    BulletinPaper,
    CampaignHead,
    CampaignStatus,
    Delivery,
    DeliveryLedger,
    InboxMessage,
    InboxPage,
    Notice,
    NoticePaper,
    Order,
    PaperFile,
    ScoreRow,
)


async def campaign_head(conn: AsyncConnection, campaign_id: str) -> CampaignHead | None:
    office = campaigns.c.plan["joint_meeting"]["office"].astext
    q = select(
        campaigns.c.id, campaigns.c.status, campaigns.c.plan_title, campaigns.c.closed_plan_time, office.label("office")
    ).where(campaigns.c.id == campaign_id)
    row = (await conn.execute(q)).mappings().first()
    return CampaignHead.model_validate(dict(row)) if row is not None else None


async def campaign_status(conn: AsyncConnection, campaign_id: str) -> CampaignStatus | None:
    head = await campaign_head(conn, campaign_id)
    if head is None:
        return None
    counts = await campaign_counts(conn, campaign_id)
    return CampaignStatus(campaign=campaign_id, status=head.status, plan=head.plan_title, counts=counts)


async def inbox_page(conn: AsyncConnection, *, unit: str, campaign: str | None = None, limit: int = 50) -> InboxPage:
    where = [inbox.c.recipient == unit, INBOX_SHOWN]  # a reminder armed ahead shows from its instant
    if campaign:
        where.append(inbox.c.campaign_id == campaign)
    newest = select(inbox).where(*where).order_by(inbox.c.plan_time.desc(), inbox.c.id.desc()).limit(limit)
    rows = (await conn.execute(newest)).mappings().all()
    total = (await conn.execute(select(func.count()).select_from(inbox).where(*where))).scalar_one()
    messages = [
        InboxMessage(plan_time=r["plan_time"], kind=r["kind"], title=r["title"], obligation_id=r["obligation_id"])
        for r in reversed(rows)
    ]
    return InboxPage(unit=unit, campaign=campaign, messages=messages, total=total)


async def delivery_ledger(
    conn: AsyncConnection, campaign_id: str, status: DeliveryStatus | None = None
) -> DeliveryLedger | None:
    if await campaign_head(conn, campaign_id) is None:
        return None
    by_channel: dict[str, dict[str, int]] = {}
    for (channel, state), n in sorted((await ledger.counts(conn, campaign_id)).items()):
        by_channel.setdefault(channel, {})[state] = n
    rows = [
        Delivery.model_validate(
            {**r, "key": r["idempotency_key"], "attachments": r["attachment_rows"], "attempt_log": r["attempt_rows"]}
        )
        for r in await ledger.ledger(conn, campaign_id, status)
    ]
    return DeliveryLedger(campaign=campaign_id, counts=by_channel, deliveries=rows)


async def unit_names(conn: AsyncConnection, campaign_id: str) -> dict[str, str]:
    """Unit names by id, from the campaign's plan (raises paperwork.UnknownCampaign)."""
    return (await CampaignPapers().facts(conn, campaign_id)).names


def _files(found: dict[str, Any]) -> dict[str, PaperFile]:
    return {
        fmt: PaperFile(format=fmt, filename=f.filename, sha256=f.sha256, content=f.content) for fmt, f in found.items()
    }


async def notices(conn: AsyncConnection, campaign_id: str, unit: str | None = None) -> list[Notice]:
    """A campaign's notices in number order (raises paperwork.PaperNotFound for no campaign)."""
    rows = await notices_of(conn, campaign_id, unit)
    names = await unit_names(conn, campaign_id)
    records = await notice_records(conn, campaign_id, [r["key"] for r in rows])
    return [
        Notice.model_validate({**r, "unit_name": names.get(r["unit"], r["unit"]), **_listed(records.get(r["key"]))})
        for r in rows
    ]


def _listed(record: dict[str, Any] | None) -> dict[str, Any]:
    """What a notice lists and whom it copies, from what its audit row recorded."""
    if not record:
        return {}
    doc = record.get("document") or {}
    items = [
        {
            "obligation": i.get("obligation_id"),
            "title": i.get("title"),
            "due": i.get("due"),
            "days_overdue": i.get("overdue_working_days"),
            "state": i.get("state"),
            "progress": i.get("progress"),
            "escalations": i.get("escalations"),
        }
        for i in doc.get("items") or []
    ]
    copies = record.get("copy_to")
    return {"items": items, "copies": copies if isinstance(copies, list) else [copies] if copies else []}


async def notice_paper(conn: AsyncConnection, code: str, campaign_id: str | None = None) -> NoticePaper:
    """One notice as issued, with its record and checked files (raises paperwork.PaperNotFound,
    paperwork.ChecksumMismatch)."""
    row = await notice_by_code(conn, code, campaign_id)
    record = await notice_record(conn, row)
    files = await stored_files(conn, row["campaign"], "notice", row["code"], record.get("documents") or {})
    names = await unit_names(conn, row["campaign"])
    notice = Notice.model_validate({**row, "unit_name": names.get(row["unit"], row["unit"]), **_listed(record)})
    return NoticePaper(notice=notice, record=record, files=_files(files), names=names)


async def bulletin_paper(conn: AsyncConnection, campaign_id: str, month: date) -> BulletinPaper:
    """A month's bulletin as published, with its checked files (the 台账 too)."""
    body = await bulletin_of(conn, campaign_id, month)
    recorded = body.get("documents") or {}
    ref = f"{month:%Y-%m}"
    files = await stored_files(conn, campaign_id, "bulletin", ref, recorded.get("bulletin") or {})
    files.update(await stored_files(conn, campaign_id, "ledger", ref, recorded.get("ledger") or {}))
    return BulletinPaper(campaign=campaign_id, month=month, body=body, files=_files(files))


async def stored_evaluation(
    conn: AsyncConnection, campaign_id: str, *, report_kind: str
) -> tuple[bytes, dict[str, PaperFile]] | None:
    """The stored evaluation (JSON) and its final report's files, each checked against the SHA-256
    recorded on the evaluation's audit row (raises paperwork.ChecksumMismatch), or None before
    the evaluation is made."""
    q = select(documents.c.ref, documents.c.content).where(
        documents.c.campaign_id == campaign_id, documents.c.kind == EVALUATION_KIND
    )
    stored = (await conn.execute(q)).first()
    if stored is None:
        return None
    payload = await conn.scalar(
        select(audit_events.c.payload).where(
            audit_events.c.campaign_id == campaign_id, audit_events.c.event_key == evaluation_key(campaign_id)
        )
    )
    recorded = (json.loads(payload) if payload is not None else {}).get("documents") or {}
    # `recorded` holds every file's hash by format (the JSON's too): the report's formats are its own.
    files = await stored_files(conn, campaign_id, report_kind, stored.ref, recorded)
    return bytes(stored.content), _files(files)


async def scores(
    conn: AsyncConnection,
    campaign_id: str,
    *,
    sheet: str | None = None,
    unit: str | None = None,
    everything: bool = False,
) -> list[ScoreRow]:
    """The stored scores, oldest first: the current ones, or with `everything` those corrected since too."""
    if everything:
        s = assessment_scores
        rows: Sequence[Any] = (
            await conn.execute(select(s).where(s.c.campaign_id == campaign_id).order_by(s.c.id))
        ).all()
    else:
        rows = await current(conn, campaign_id)
    return [
        ScoreRow.model_validate(r._asdict() | {"total": float(r.total)})
        for r in rows
        if sheet in (None, r.sheet_id) and unit in (None, r.unit_id)
    ]


async def orders(conn: AsyncConnection, campaign_id: str, *, open_only: bool = False) -> list[Order] | None:
    """A campaign's rectification orders in the order issued, or None for no such campaign."""
    if await campaign_head(conn, campaign_id) is None:
        return None
    t = rectification_orders
    q = select(t).where(t.c.campaign_id == campaign_id).order_by(t.c.plan_time, t.c.id)
    if open_only:
        q = q.where(t.c.state.in_(OPEN_ORDER_STATES))
    return [
        Order.model_validate(
            {
                **r,
                "campaign": campaign_id,
                "key": r["idempotency_key"],
                "evidence": r["evidence"] or [],
                "items": r["listed"] or [],
            }
        )
        for r in (await conn.execute(q)).mappings()
    ]


async def audit_trail(conn: AsyncConnection, campaign_id: str) -> list[AuditLine]:
    q = select(audit_events).where(audit_events.c.campaign_id == campaign_id).order_by(audit_events.c.seq)
    return [
        AuditLine(
            seq=r["seq"],
            kind=r["kind"],
            plan_date=r["plan_time"].astimezone(CST).date().isoformat(),
            plan_time=r["plan_time"].astimezone(CST).isoformat(),
            server_time=r["server_time"].astimezone(UTC).isoformat(),
            obligation=r["obligation_id"],
            unit=r["unit_id"],
            rule=r["rule_id"],
            actor=r["actor"],
            payload=payload_of(r),
            hash=r["hash"],
        )
        for r in (await conn.execute(q)).mappings()
    ]


async def audit_keys(conn: AsyncConnection, campaign_id: str) -> list[tuple[str, str, str, str]]:
    """Every audit row's (event key, kind, workflow id, run id): what the histories are held against."""
    t = audit_events
    q = select(t.c.event_key, t.c.kind, t.c.workflow_id, t.c.run_id).where(t.c.campaign_id == campaign_id)
    return [(r[0], r[1], r[2], r[3]) for r in (await conn.execute(q)).all()]


async def assessments_held(conn: AsyncConnection, campaign_id: str, *, kind: str | None = None) -> list[AssessmentRow]:
    """Every unit judged in every assessment, in the order held."""
    t = assessments
    q = select(t).where(t.c.campaign_id == campaign_id).order_by(t.c.plan_time, t.c.kind, t.c.unit_id, t.c.attempt)
    if kind is not None:
        q = q.where(t.c.kind == kind)
    return [
        AssessmentRow(
            kind=r["kind"],
            round=r["milestone"],
            attempt=r["attempt"],
            unit_id=r["unit_id"],
            held_on=r["plan_time"].astimezone(CST).date(),
            score=r["score"],
            passed=r["passed"],
            scored=bool((r["detail"] or {}).get("scored", True)),
        )
        for r in (await conn.execute(q)).mappings()
    ]


def by_kind(rows: Sequence[AssessmentRow]) -> list[AssessmentKindCount]:
    """Per kind, in the plan's order (日常督导, 拉练检查, 年度总评, 达标验收): rounds held, units judged, passed."""
    order = ("routine", "field_inspection", "annual_review", "acceptance")
    kinds = sorted({r.kind for r in rows}, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [
        AssessmentKindCount(
            kind=k,
            rounds=len({(r.round, r.attempt) for r in rows if r.kind == k}),
            judged=sum(1 for r in rows if r.kind == k),
            passed=sum(1 for r in rows if r.kind == k and r.passed),
        )
        for k in kinds
    ]
