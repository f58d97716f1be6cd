"""What `duban bench` reads back from the database: when each inbox row was written."""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.paperwork.monthly import orders_query, records_query
from activities.store.tables import INBOX_DELIVERED, inbox


class Lags(NamedTuple):
    shown: list[float]
    """Due instant → the row in its recipient's inbox: written (a transaction's start, PostgreSQL's
    `now()`), or for a row armed ahead its `visible_from` if that is later."""
    confirmed: list[float]
    """Due instant → the engine's delivery at the instant (the chain's record): the row's writing,
    or its confirmation for a row armed ahead."""
    armed: int
    """Rows that were armed ahead."""


async def inbox_lags(engine: AsyncEngine, campaign_id: str, rule_id: str) -> Lags:
    """Seconds from each of a rule's firings falling due (its server time) to its inbox row
    showing, and to the engine delivering it: one each per row."""
    written = inbox.c.created_at
    shown = (func.greatest(written, func.coalesce(inbox.c.visible_from, written)) - inbox.c.server_time).label("s")
    confirmed = (func.coalesce(inbox.c.confirmed_at, written) - inbox.c.server_time).label("c")
    armed = inbox.c.visible_from.is_not(None).label("a")
    q = select(shown, confirmed, armed).where(inbox.c.campaign_id == campaign_id, inbox.c.rule_id == rule_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    return Lags([r.s.total_seconds() for r in rows], [r.c.total_seconds() for r in rows], sum(bool(r.a) for r in rows))


async def inbox_rows(engine: AsyncEngine, campaign_id: str, rule_id: str) -> int:
    """How many inbox rows a rule has delivered in a campaign (those armed ahead once confirmed)."""
    q = (
        select(func.count())
        .select_from(inbox)
        .where(inbox.c.campaign_id == campaign_id, inbox.c.rule_id == rule_id, INBOX_DELIVERED)
    )
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
