"""What `duban bench` reads back from the database: when each inbox row was written."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

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
