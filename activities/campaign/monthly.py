"""The monthly cycle: 月度对账 reconciled, the 通报 issued and filed, 责令整改 ordered on the
3rd working day."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio import activity

from activities import paperwork
from activities.campaign.common import Base
from activities.campaign.order_rounds import Issuer, OrderDraft, place_order
from activities.delivery import InboxItem, write_inbox
from activities.documents import render_bulletin, render_ledger_xlsx
from activities.paperwork import bulletin_request
from activities.rectification import monthly_orders, unresolved_orders
from activities.store import audit, documents
from activities.store.tables import bulletins, rectification_orders
from models.documents import Bulletin, Ledger
from models.obligation import ObligationState
from models.payloads import Act, MonthlyResult, MonthlyRun
from models.reconciliation import ObligationRecord
from models.ruleset import RuleSet
from models.time import CST
from rules.bulletins import open_obligations
from rules.reconcile import reconcile

log = structlog.get_logger()


class Monthly(Base):
    @activity.defn(name=Act.monthly_cycle)
    async def monthly_cycle(self, inp: MonthlyRun) -> MonthlyResult:
        """月度对账 (reconcile every obligation as of today) → 通报 (the month's bulletin: its JSON
        body, DOCX + PDF and the 台账 workbook, all stored) → 责令整改 (an order for each unit with
        too many overdue obligations), in one transaction. In a rehearsal (`papers_on_request`)
        the audit row records both documents' input and their files wait for the first request
        (`paperwork.bulletin_request`): about 1.3 s of rendering a month, off the campaign's path."""
        prov = inp.provenance
        cid = prov.campaign_id
        as_of = inp.plan_time.astimezone(CST).date()
        month = inp.month.isoformat()
        async with self.db.begin() as conn:
            done = await conn.scalar(
                select(bulletins.c.id).where(bulletins.c.campaign_id == cid, bulletins.c.month == inp.month)
            )
            if done is not None:  # a retry after the commit: the same orders, read back
                recs = await paperwork.records(conn, cid)
                return MonthlyResult(
                    bulletin=False,
                    orders=await monthly_orders(conn, cid, inp.month),
                    open_obligations=open_obligations(recs),
                )
            facts = await self.papers.facts(conn, cid)
            recs = await paperwork.records(conn, cid)
            rec = reconcile(recs, as_of, facts.calendar, red_at=inp.rectify_if_overdue_at_least)
            per = {u.unit_id: u for u in rec.units}
            laggards = list(rec.laggards)
            events = []
            if inp.per_unit:
                ruleset = await self.papers.ruleset(conn, cid, prov.ruleset_hash)
                events += await self._orders_per_unit(conn, inp, facts, ruleset, recs, laggards, as_of)
                laggards = []  # written above
            for u in laggards:
                key = f"{cid}#rectify#{month}#{u}"
                await conn.execute(
                    insert(rectification_orders).values(
                        idempotency_key=key,
                        campaign_id=cid,
                        unit_id=u,
                        month=inp.month,
                        overdue=per[u].overdue,
                        due=inp.rectification_due,
                        **audit.times(inp),
                    )
                )
                order = InboxItem(
                    key=key,
                    campaign_id=cid,
                    recipient=u,
                    kind="rectification",
                    title=f"责令整改：{per[u].unit_name}（{inp.month:%Y年%m月}通报）",
                    body=(
                        f"{per[u].unit_name}截至{as_of:%Y年%m月%d日}有{per[u].overdue}项任务逾期未办结，"
                        f"现予通报，责令于{inp.rectification_due:%Y年%m月%d日}前整改到位并书面报告。"
                    ),
                    **audit.times(inp),
                )
                await write_inbox(conn, order)
                await self._push(conn, order)
                events.append(
                    audit.event(
                        inp,
                        key=key,
                        kind="rectification_order",
                        actor="office",
                        unit_id=u,
                        payload={"overdue": per[u].overdue, "due": inp.rectification_due.isoformat()},
                    )
                )
            orders = await paperwork.orders_for(conn, facts, inp.month)
            doc = paperwork.bulletin_document(facts, rec, orders, month=inp.month, issued=as_of)
            ledger = paperwork.ledger_document(facts, recs, rec)
            began = time.perf_counter()
            filed: dict[str, Any]
            if self.papers_on_request:
                # Nobody is sent a rehearsal's bulletin: its papers wait for `duban bulletin`
                # (paperwork.bulletin_request), rendered from the input the chain records here.
                hashes: dict[str, dict[str, str]] = {}
                filed = {"document": bulletin_request.document_input(doc, ledger)}
            else:
                hashes = await self._file(conn, inp, doc, ledger)
                filed = {"documents": hashes}
            rendered_ms = round(1000 * (time.perf_counter() - began))
            body = paperwork.bulletin_body(rec, orders, month=inp.month, doc=doc, hashes=hashes)
            # The rectification workflows' own view of what is still open, by workflow id.
            body["unresolved_orders"] = await unresolved_orders(conn, cid, before=inp.plan_time)
            await conn.execute(
                insert(bulletins).values(campaign_id=cid, month=inp.month, body=body, **audit.times(inp))
            )
            events.insert(
                0,
                audit.event(
                    inp,
                    key=bulletin_request.bulletin_key(cid, inp.month),
                    kind="bulletin",
                    actor="office",
                    payload={
                        "month": month,
                        # All of them, also those ordered per unit above (an empty list then
                        # until 2026-12-04, which `audit explain ORDER` reads as "not recorded").
                        "laggards": list(rec.laggards),
                        "units": len(per),
                        "commended": list(rec.commended),
                        "totals": rec.totals.model_dump(),
                        **filed,
                    },
                ),
            )
            await audit.append(conn, prov, events)
            issued = await monthly_orders(conn, cid, inp.month)
        log.info("monthly bulletin", campaign_id=cid, month=month, orders=len(issued), rendered_ms=rendered_ms)
        return MonthlyResult(
            bulletin=True, rectification_orders=len(issued), orders=issued, open_obligations=open_obligations(recs)
        )

    @staticmethod
    async def _file(conn: AsyncConnection, inp: MonthlyRun, doc: Bulletin, ledger: Ledger) -> dict[str, dict[str, str]]:
        """Render the 通报 (DOCX + PDF) and the 台账 (XLSX) and store them; their SHA-256 by document."""
        cid, ref = inp.provenance.campaign_id, inp.month.strftime("%Y-%m")
        files = await asyncio.to_thread(render_bulletin, doc)
        sheet = await asyncio.to_thread(render_ledger_xlsx, ledger)
        at = audit.times(inp)
        return {
            "bulletin": await documents.store(conn, campaign_id=cid, kind="bulletin", ref=ref, files=dict(files), **at),
            "ledger": await documents.store(conn, campaign_id=cid, kind="ledger", ref=ref, files={"xlsx": sheet}, **at),
        }

    async def _orders_per_unit(
        self,
        conn: AsyncConnection,
        inp: MonthlyRun,
        facts: paperwork.CampaignFacts,
        ruleset: RuleSet,
        recs: list[ObligationRecord],
        laggards: list[str],
        as_of: date,
    ) -> list[audit.Event]:
        """One order per laggard unit listing its overdue obligations, at its measure; to a unit
        whose order is still open, its items added to that order (`order_rounds.place_order`)."""
        cid = inp.provenance.campaign_id
        events = []
        for u in laggards:
            late = [r for r in recs if r.unit_id == u and r.due < as_of]
            items = [r.id for r in late if r.state is not ObligationState.completed]
            draft = OrderDraft(
                key=f"{cid}#rectify#{inp.month.isoformat()}#{u}",
                unit_id=u,
                items=items,
                due=inp.rectification_due,
                month=inp.month,
                why=f"{inp.month:%Y年%m月}通报",
            )
            by = Issuer(at=inp, actor="office", quiet=ruleset.quiet_hours)
            placed = await place_order(conn, facts, ruleset, draft, by)
            if placed is None:
                log.info("order stands", campaign_id=cid, unit_id=u, month=inp.month.isoformat())
                continue
            item, event = placed
            if item is not None:
                await self._push(conn, item)
            events.append(event)
        return events
