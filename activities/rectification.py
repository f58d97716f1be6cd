"""责令整改's side effects: open an order's row for its workflow, mirror each step, read orders back.

Each activity is one transaction. The order's row (`rectification_orders`) is written by whoever
issued the order (`monthly_cycle`, `deliver`) or, for a parent that did not, by `open`; every step
updates it and appends its audit rows; reminders and escalations about the order go to the inbox
(kind `rectification`: the inbox's reminder/escalation kinds stay about obligations) and, on the
channels their rule names, to the outbox. Everything is keyed, so a retried step writes nothing
twice, and `step_seq` makes the row keep the workflow's latest decision even if two steps' writes
land out of order.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from activities.delivery import InboxItem, Outbox, write_inbox
from activities.store import audit
from activities.store.tables import obligations, rectification_orders
from models.payloads import Act, OpenedHere, OpenOrder, RectificationStep, StepRecorded
from models.rectification import OpenedOrder, OrderState, RectificationOrder, rectification_workflow_id
from models.ruleset import ActionKind
from models.time import CST

log = structlog.get_logger()

INBOX_KIND = "rectification"
UNRESOLVED = tuple(s.value for s in OrderState if s is not OrderState.resolved)


async def monthly_orders(conn: AsyncConnection, campaign_id: str, month: date) -> list[RectificationOrder]:
    """The orders a month's cycle issued, in the order it issued them (its rows' insertion order):
    what `monthly_cycle` returns, the same on its first attempt and on a retry after its commit."""
    prefix = f"{campaign_id}#rectify#{month.isoformat()}#"
    rows = (
        await conn.execute(
            select(rectification_orders)
            .where(
                rectification_orders.c.campaign_id == campaign_id,
                rectification_orders.c.month == month,
                rectification_orders.c.idempotency_key.startswith(prefix, autoescape=True),
            )
            .order_by(rectification_orders.c.id)
        )
    ).all()
    return [
        RectificationOrder(
            key=r.idempotency_key,
            unit_id=r.unit_id,
            due=r.due,
            issued=r.plan_time,
            month=r.month,
            overdue=r.overdue,
            source="monthly",
            reason=f"{r.month:%Y年%m月}通报：{r.overdue}项任务逾期未办结",
            items=list(r.listed or []),
        )
        for r in rows
    ]


async def unresolved_orders(conn: AsyncConnection, campaign_id: str, *, before: datetime) -> list[dict[str, Any]]:
    """Orders issued before `before` and not resolved, for the bulletin: a unit's open, reported,
    rejected or escalated orders are published until the office accepts its report."""
    rows = (
        await conn.execute(
            select(rectification_orders)
            .where(
                rectification_orders.c.campaign_id == campaign_id,
                rectification_orders.c.state.in_(UNRESOLVED),
                rectification_orders.c.plan_time < before,
            )
            .order_by(rectification_orders.c.plan_time, rectification_orders.c.id)
        )
    ).all()
    return [
        {
            "order": r.workflow_id or rectification_workflow_id(campaign_id, r.idempotency_key),
            "unit": r.unit_id,
            "month": r.month.isoformat(),
            "due": r.due.isoformat(),
            "state": r.state,
            "round": r.round,
        }
        for r in rows
    ]


class RectificationActivities:
    """Built by the worker with the campaign activities' outbox (None: inbox only)."""

    def __init__(self, engine: AsyncEngine, outbox: Outbox | None = None) -> None:
        self.db = engine
        self.outbox = outbox

    @activity.defn(name=Act.rectification_open)
    async def rectification_open(self, inp: OpenOrder) -> OpenedOrder:
        """The order's row, now followed by its workflow (written here if its issuer did not)."""
        o, prov = inp.order, inp.provenance
        async with self.db.begin() as conn:
            await conn.execute(
                insert(rectification_orders)
                .values(
                    idempotency_key=o.key,
                    campaign_id=prov.campaign_id,
                    unit_id=o.unit_id,
                    month=o.month or o.issued.astimezone(CST).date().replace(day=1),
                    overdue=o.overdue,
                    due=o.due,
                    plan_time=o.issued,
                    server_time=inp.issued_server_time,
                )
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )
            await conn.execute(
                update(rectification_orders)
                .where(rectification_orders.c.idempotency_key == o.key)
                .values(
                    workflow_id=inp.workflow_id,
                    source=o.source,
                    obligation_id=o.obligation_id,
                    first_due=func.coalesce(rectification_orders.c.first_due, o.due),
                )
            )
            unit = (
                await conn.execute(
                    select(obligations.c.unit_name, obligations.c.unit_kind)
                    .where(obligations.c.campaign_id == prov.campaign_id, obligations.c.unit_id == o.unit_id)
                    .limit(1)
                )
            ).first()
            await audit.record(
                conn,
                inp,
                key=f"{o.key}#opened",
                kind="rectification.opened",
                actor="office",
                obligation_id=o.obligation_id,
                unit_id=o.unit_id,
                payload={
                    "order": o.key,
                    "workflow_id": inp.workflow_id,
                    "source": o.source,
                    "due": o.due.isoformat(),
                    "issued": o.issued.isoformat(),
                },
            )
        return OpenedOrder(
            unit_name=unit.unit_name if unit else o.unit_id, unit_kind=unit.unit_kind if unit else "town"
        )

    @activity.defn(name=Act.rectification_open_here)
    async def rectification_open_here(self, inp: OpenOrder) -> OpenedHere:
        """`rectification_open` as a local activity, the order returned beside its result for the record."""
        return OpenedHere(input=inp, result=await self.rectification_open(inp))

    @activity.defn(name=Act.rectification_step_here)
    async def rectification_step_here(self, inp: RectificationStep) -> StepRecorded:
        """`rectification_step` as a local activity, the step returned beside its result for the record."""
        return StepRecorded(input=inp, result=await self.rectification_step(inp))

    @activity.defn(name=Act.rectification_step)
    async def rectification_step(self, inp: RectificationStep) -> int:
        """Mirror a step to the order's row, write its follow-ups and notices, and record it all."""
        prov = inp.provenance
        cid = prov.campaign_id
        row = rectification_orders.c
        events: list[audit.Event] = []
        async with self.db.begin() as conn:
            # The state the workflow decided last wins, whatever order the writes land in.
            await conn.execute(
                update(rectification_orders)
                .where(row.idempotency_key == inp.order_key, row.step_seq < inp.seq)
                .values(state=inp.state.value, round=inp.round, due=inp.due, step_seq=inp.seq)
            )
            facts = self._facts(inp)
            if facts:
                await conn.execute(
                    update(rectification_orders).where(row.idempotency_key == inp.order_key).values(**facts)
                )
            for a in inp.actions:
                kind = "reminder" if a.kind is ActionKind.remind else "escalation"
                new = await self._inbox(
                    conn,
                    InboxItem(
                        key=a.key, campaign_id=cid, recipient=a.recipient, kind=INBOX_KIND, title=a.title,
                        body=a.body, **audit.times(a), rule_id=a.rule_id,
                        level=a.level, channels=tuple(a.channels), quiet=inp.quiet_hours,
                    ),
                )  # fmt: skip
                if new:
                    log.info("rectification " + kind, campaign_id=cid, order=inp.order_key, recipient=a.recipient)
                events.append(
                    audit.event(
                        a,
                        key=a.key,
                        kind=f"rectification.{kind}",
                        actor=f"rule:{a.rule_id}",
                        unit_id=a.unit_id,
                        rule_id=a.rule_id,
                        payload={"order": inp.order_key, "round": inp.round, **a.audit_payload()},
                    )
                )
            for n in inp.notices:
                await self._inbox(
                    conn,
                    InboxItem(
                        key=n.key, campaign_id=cid, recipient=n.recipient, kind=INBOX_KIND, title=n.title,
                        body=n.body, **audit.times(inp), quiet=inp.quiet_hours,
                    ),
                )  # fmt: skip
            if inp.event_key is not None:
                payload: dict[str, Any] = {
                    "order": inp.order_key,
                    "state": inp.state.value,
                    "round": inp.round,
                    "due": inp.due.isoformat(),
                }
                if inp.text:
                    payload["text"] = inp.text
                if inp.evidence:
                    payload["evidence"] = inp.evidence
                if inp.reason:
                    payload["reason"] = inp.reason
                if inp.actions:
                    payload["actions"] = [a.key for a in inp.actions]
                if inp.level is not None:
                    payload["level"] = inp.level
                payload.update(audit.who(inp.account, inp.role))
                events.append(
                    audit.event(
                        inp,
                        key=inp.event_key,
                        kind=f"rectification.{inp.step}",
                        actor=inp.actor,
                        unit_id=inp.unit_id,
                        payload=payload,
                    )
                )
            written = await audit.append(conn, prov, events)
        log.info("rectification step", campaign_id=cid, order=inp.order_key, step=inp.step, state=inp.state.value)
        return written

    @staticmethod
    def _facts(inp: RectificationStep) -> dict[str, Any]:
        """The columns a step of this kind fills in (beside state, round and due)."""
        t = inp.plan_time
        if inp.step == "reported":
            return {"report_text": inp.text, "evidence": inp.evidence, "reported_at": t}
        if inp.step in ("accepted", "sent_back", "rejected"):
            done = {"resolved_at": t} if inp.step == "accepted" else {}
            return {"reviewer": inp.actor, "review_reason": inp.reason, "reviewed_at": t, **done}
        if inp.step == "overdue":
            return {"escalated_at": func.coalesce(rectification_orders.c.escalated_at, t)}
        return {}

    async def _inbox(self, conn: AsyncConnection, item: InboxItem) -> bool:
        """One inbox row (and its pushes), once; returns whether it is new."""
        new = await write_inbox(conn, item)
        if new and self.outbox is not None:
            await self.outbox.push(conn, item)
        return new
