"""How units answered their 督办通知 and 责令整改, read from the record (a rehearsal's summary states it).

A notice is answered when the unit has reported (进展上报 or 办结) on every item it lists that was
still open, after the notice was issued: in time if by its reply-by date, late if after it;
otherwise never. An order ends in its row's state.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.tables import audit_events, rectification_orders
from models.time import CST

_ANSWERS = ("obligation.in_progress", "obligation.completed")


async def answers(conn: AsyncConnection, campaign_id: str) -> dict[str, Any]:
    """{"notices": {"in_time", "late", "never"}, "orders": {state: count}, "orders_sent_back": n}:
    `orders_sent_back` counts the orders whose report the office sent back at least once."""
    a = audit_events.c
    reports: dict[str, list[datetime]] = {}
    q = select(a.obligation_id, a.plan_time).where(a.campaign_id == campaign_id, a.kind.in_(_ANSWERS))
    for ob, t in (await conn.execute(q)).all():
        reports.setdefault(ob, []).append(t)
    notices = {"in_time": 0, "late": 0, "never": 0}
    q = select(a.plan_time, a.payload).where(a.campaign_id == campaign_id, a.kind == "notice")
    for issued, raw in (await conn.execute(q)).all():
        payload = json.loads(raw)
        if "code" not in payload:
            continue  # an action's row naming its unit's notice, not the notice
        reply_by = date.fromisoformat(payload["reply_by"]) if "reply_by" in payload else None
        firsts = [min((t for t in reports.get(i, []) if t > issued), default=None) for i in payload.get("overdue", [])]
        if not firsts or any(t is None for t in firsts):
            notices["never"] += 1
            continue
        last = max(t for t in firsts if t is not None).astimezone(CST).date()
        notices["in_time" if reply_by is None or last <= reply_by else "late"] += 1
    orders: dict[str, int] = {}
    sent_back = 0
    o = rectification_orders.c
    for state, rounds in (await conn.execute(select(o.state, o.round).where(o.campaign_id == campaign_id))).all():
        orders[state] = orders.get(state, 0) + 1
        sent_back += rounds > 0
    return {"notices": notices, "orders": dict(sorted(orders.items())), "orders_sent_back": sent_back}
