"""The read side of the convener's page: the escalations whose recipient was the campaign's
convener (inbox rows the rules wrote), each obligation once with its latest such escalation, and
the convener's answers (批示) from the audit chain; the rectification orders likewise
(`activities.store.convener_orders`)."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store import convener_orders as orders
from activities.store.tables import audit_events, campaigns, inbox, obligations
from models.convener import Answer, ConvenerEscalation, ConvenerPage
from rules.convener import INSTRUCTED


async def convener_of(conn: AsyncConnection, campaign_id: str) -> str | None:
    """The campaign's convener unit (None: no such campaign)."""
    q = select(campaigns.c.plan["joint_meeting"]["convener"].astext).where(campaigns.c.id == campaign_id)
    return (await conn.execute(q)).scalar()


async def escalated_to_convener(conn: AsyncConnection, campaign_id: str, obligation_id: str) -> str | None:
    """The convener unit, if an escalation of this obligation reached it; else None."""
    convener = await convener_of(conn, campaign_id)
    if convener is None:
        return None
    q = select(inbox.c.id).where(
        inbox.c.campaign_id == campaign_id,
        inbox.c.kind == "escalation",
        inbox.c.recipient == convener,
        inbox.c.obligation_id == obligation_id,
    )
    return convener if (await conn.execute(q.limit(1))).first() is not None else None


async def convener_page(conn: AsyncConnection, campaign_id: str) -> ConvenerPage | None:
    convener = await convener_of(conn, campaign_id)
    if convener is None:
        return None
    latest = (
        select(inbox.c.obligation_id, func.max(inbox.c.id).label("id"))
        .where(inbox.c.campaign_id == campaign_id, inbox.c.kind == "escalation", inbox.c.recipient == convener)
        .group_by(inbox.c.obligation_id)
        .subquery()
    )
    q = (
        select(
            obligations.c.id,
            obligations.c.unit_id,
            obligations.c.unit_name,
            obligations.c.title,
            func.coalesce(obligations.c.extended_due, obligations.c.due).label("due"),
            obligations.c.state,
            inbox.c.level,
            inbox.c.plan_time,
            inbox.c.body,
        )
        .join(latest, latest.c.id == inbox.c.id)
        .join(obligations, obligations.c.id == inbox.c.obligation_id)
        .order_by(inbox.c.plan_time.desc(), obligations.c.id)
    )
    rows = (await conn.execute(q)).mappings().all()
    said = select(audit_events.c.obligation_id, audit_events.c.plan_time, audit_events.c.payload).where(
        audit_events.c.campaign_id == campaign_id, audit_events.c.kind == INSTRUCTED
    )
    answers: dict[str, list[Answer]] = {}
    for r in (await conn.execute(said.order_by(audit_events.c.seq))).mappings():
        p = json.loads(r["payload"])
        answers.setdefault(r["obligation_id"], []).append(
            Answer(plan_time=r["plan_time"], text=p.get("text", ""), account=p.get("account"))
        )
    items = [
        ConvenerEscalation(
            obligation_id=r["id"],
            unit_id=r["unit_id"],
            unit_name=r["unit_name"],
            title=r["title"],
            due=r["due"],
            state=r["state"],
            level=r["level"],
            escalated_at=r["plan_time"],
            message=r["body"],
            answers=answers.get(r["id"], []),
        )
        for r in rows
    ]
    return ConvenerPage(
        campaign=campaign_id,
        convener=convener,
        items=items,
        orders=await orders.convener_orders(conn, campaign_id, convener),
    )


async def order_escalated_to_convener(conn: AsyncConnection, campaign_id: str, workflow_id: str) -> str | None:
    """The convener unit, if an escalation of this rectification order reached it; else None."""
    convener = await convener_of(conn, campaign_id)
    if convener is None or not await orders.order_escalated_to_convener(conn, campaign_id, workflow_id, convener):
        return None
    return convener
