"""The convener's page, its rectification orders: each order with an escalation the rules addressed
to the campaign's convener (audit rows `rectification.escalation` naming it as recipient, the only
place the order a follow-up is about is written), its latest such escalation, and the convener's
answers (`rectification.answered`)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.tables import audit_events, inbox, rectification_orders
from models.convener import Answer, ConvenerOrder
from models.rectification import rectification_workflow_id
from rules.convener import ORDER_INSTRUCTED

ESCALATED = "rectification.escalation"


async def _rows(conn: AsyncConnection, campaign_id: str, kind: str) -> list[tuple[Any, dict[str, Any]]]:
    q = (
        select(audit_events.c.event_key, audit_events.c.plan_time, audit_events.c.payload)
        .where(audit_events.c.campaign_id == campaign_id, audit_events.c.kind == kind)
        .order_by(audit_events.c.seq)
    )
    return [(r, json.loads(r.payload)) for r in (await conn.execute(q))]


async def escalations(conn: AsyncConnection, campaign_id: str, convener: str) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Order key → its latest escalation to the convener (row, payload)."""
    latest: dict[str, tuple[Any, dict[str, Any]]] = {}
    for r, p in await _rows(conn, campaign_id, ESCALATED):
        if p.get("recipient") == convener and p.get("order"):
            latest[p["order"]] = (r, p)
    return latest


async def order_escalated_to_convener(conn: AsyncConnection, campaign_id: str, workflow_id: str, convener: str) -> bool:
    """Whether an escalation of the order its workflow `workflow_id` follows reached the convener."""
    q = select(rectification_orders.c.idempotency_key).where(
        rectification_orders.c.campaign_id == campaign_id, rectification_orders.c.workflow_id == workflow_id
    )
    keys = set((await conn.execute(q)).scalars())
    latest = await escalations(conn, campaign_id, convener)
    return any(k in keys or rectification_workflow_id(campaign_id, k) == workflow_id for k in latest)


async def convener_orders(conn: AsyncConnection, campaign_id: str, convener: str) -> list[ConvenerOrder]:
    latest = await escalations(conn, campaign_id, convener)
    if not latest:
        return []
    answers: dict[str, list[Answer]] = {}
    for r, p in await _rows(conn, campaign_id, ORDER_INSTRUCTED):
        answers.setdefault(p.get("order", ""), []).append(
            Answer(plan_time=r.plan_time, text=p.get("text", ""), account=p.get("account"))
        )
    o = rectification_orders.c
    found = {
        r.idempotency_key: r
        for r in await conn.execute(select(rectification_orders).where(o.idempotency_key.in_(list(latest))))
    }
    said = {
        r.idempotency_key: r.body
        for r in await conn.execute(
            select(inbox.c.idempotency_key, inbox.c.body).where(
                inbox.c.idempotency_key.in_([r.event_key for r, _ in latest.values()])
            )
        )
    }
    out = []
    for key, (r, p) in latest.items():
        row = found.get(key)
        if row is None:
            continue
        out.append(
            ConvenerOrder(
                order_id=row.workflow_id or rectification_workflow_id(campaign_id, key),
                unit_id=row.unit_id,
                title=p.get("title", ""),
                due=row.due,
                state=row.state,
                round=row.round,
                level=int(p.get("level", 0)),
                escalated_at=r.plan_time,
                message=said.get(r.event_key, ""),
                answers=answers.get(key, []),
            )
        )
    return sorted(out, key=lambda x: (-x.escalated_at.timestamp(), x.order_id))
