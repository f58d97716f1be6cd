"""A month's 通报 taken apart and timed, for `duban bench`: the same steps as the monthly cycle
(`activities.campaign.monthly`), nothing stored, each step's wall time on its own."""

from __future__ import annotations

import time
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from activities import paperwork
from activities.documents import render_bulletin, render_ledger_xlsx
from rules.reconcile import reconcile


async def bulletin_steps(engine: AsyncEngine, campaign_id: str, *, month: date, as_of: date) -> dict[str, float]:
    """Seconds of each step of `month`'s 通报 as of `as_of`: the queries (campaign facts, every
    obligation, the orders), the 对账, the bulletin and ledger built, the DOCX + PDF, the XLSX."""
    out: dict[str, float] = {}
    t = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal t
        now = time.perf_counter()
        out[step] = now - t
        t = now

    papers = paperwork.CampaignPapers()
    async with engine.connect() as conn:
        facts = await papers.facts(conn, campaign_id)
        recs = await paperwork.records(conn, campaign_id)
        orders = await paperwork.orders_for(conn, facts, month)
    lap("queries")
    rec = reconcile(recs, as_of, facts.calendar, red_at=3)
    lap("reconcile")
    doc = paperwork.bulletin_document(facts, rec, orders, month=month, issued=as_of)
    ledger = paperwork.ledger_document(facts, recs, rec)
    lap("documents")
    render_bulletin(doc)
    lap("docx_pdf")
    render_ledger_xlsx(ledger)
    lap("xlsx")
    out["obligations"] = float(len(recs))
    out["overdue"] = float(rec.totals.overdue)
    return out
