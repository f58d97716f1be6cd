"""What `duban bench` reads back from the database: when each inbox row was written."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.paperwork.monthly import orders_query, records_query
from activities.store.tables import inbox


async def inbox_lags(engine: AsyncEngine, campaign_id: str, rule_id: str) -> list[float]:
    """Seconds from each of a rule's firings falling due (its server time) to its inbox row's
    writing (the transaction's start, PostgreSQL's `now()`): one per row."""
    lag = (inbox.c.created_at - inbox.c.server_time).label("lag")
    q = select(lag).where(inbox.c.campaign_id == campaign_id, inbox.c.rule_id == rule_id)
    async with engine.connect() as conn:
        return [r.lag.total_seconds() for r in await conn.execute(q)]


async def inbox_rows(engine: AsyncEngine, campaign_id: str, rule_id: str) -> int:
    """How many inbox rows a rule has written in a campaign."""
    q = select(func.count()).select_from(inbox).where(inbox.c.campaign_id == campaign_id, inbox.c.rule_id == rule_id)
    async with engine.connect() as conn:
        return int((await conn.execute(q)).scalar_one())


async def bulletin_plans(engine: AsyncEngine, campaign_id: str, month: date) -> dict[str, list[str]]:
    """How PostgreSQL reads a month's 通报 at this size: for each of its queries (the 对账's read
    of every obligation, the orders up to the month), the indexes it scans, or the tables it
    reads whole ("seq:TABLE"), from `EXPLAIN (FORMAT JSON)` on the data as it stands."""
    out: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        for name, q in (("records", records_query(campaign_id)), ("orders", orders_query(campaign_id, month))):
            sql = q.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            plan = (await conn.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"))).scalar_one()
            out[name] = sorted(set(_scans(plan[0]["Plan"])))
    return out


def _scans(node: dict[str, Any]) -> list[str]:
    found = []
    if "Index Name" in node:
        found.append(str(node["Index Name"]))
    elif node.get("Node Type") == "Seq Scan":
        found.append(f"seq:{node.get('Relation Name')}")
    for child in node.get("Plans", []):
        found += _scans(child)
    return found
