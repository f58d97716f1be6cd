"""月度对账, 通报 and 台账: the obligations as records, the month's orders, the documents drawn from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.documents.bulletin import title
from activities.documents.layout import cn_date
from activities.paperwork.facts import RESOLVED_ORDER_STATES, CampaignFacts
from activities.store.tables import obligations
from activities.store.tables import rectification_orders as orders_t
from models.documents import (
    Bulletin,
    Ledger,
    LedgerRow,
    OrderState,
    RectificationEntry,
    UnitRow,
    bulletin_code,
    first_bulletin_month,
)
from models.obligation import ObligationState
from models.plan import UnitKind
from models.reconciliation import ObligationRecord, Reconciliation
from models.time import CST

log = structlog.get_logger()


def _record(r: Any) -> ObligationRecord:
    return ObligationRecord(
        id=r.id,
        unit_id=r.unit_id,
        unit_name=r.unit_name,
        unit_kind=UnitKind(r.unit_kind),
        title=r.title,
        task_no=r.task_no,
        lead=r.lead,
        assigned=r.assigned,
        due=r.due,
        state=ObligationState(r.state),
        progress=r.progress,
        completed_on=r.completed_at.astimezone(CST).date() if r.completed_at is not None else None,
        reminders=r.reminders,
        escalation_level=r.escalation_level,
    )


def records_query(campaign_id: str) -> Select[Any]:
    """The 对账's one read of the obligations (`duban bench` explains it at province size)."""
    return (
        select(obligations)
        .where(obligations.c.campaign_id == campaign_id, obligations.c.state != ObligationState.withdrawn.value)
        .order_by(obligations.c.id)
    )


async def records(conn: AsyncConnection, campaign_id: str) -> list[ObligationRecord]:
    """Every obligation of the campaign as the table has it now, in id order (not those a plan
    amendment withdrew: they are owed by no one)."""
    return [_record(r) for r in (await conn.execute(records_query(campaign_id))).all()]


@dataclass(frozen=True)
class Orders:
    issued: list[dict[str, Any]]
    """Orders of the bulletin month (the cycle's own and any a rule fired that month)."""
    unresolved: list[dict[str, Any]]
    """Orders from earlier months whose state is not resolved or accepted."""


async def orders_for(conn: AsyncConnection, facts: CampaignFacts, month: date) -> Orders:
    issued, unresolved = [], []
    for r in (await conn.execute(orders_query(facts.campaign_id, month))).all():
        entry = {
            "unit_id": r.unit_id,
            "unit_name": facts.name(r.unit_id),
            "month": r.month.isoformat(),
            "overdue": r.overdue,
            "due": r.due.isoformat(),
            "state": r.state,
            "level": r.level,
            "measure": r.measure or "责令整改",
            "items": list(r.listed or []),
        }
        if r.month == month:
            issued.append(entry)
        elif r.state not in RESOLVED_ORDER_STATES:
            unresolved.append(entry)
    return Orders(issued=issued, unresolved=unresolved)


def orders_query(campaign_id: str, month: date) -> Select[Any]:
    """The bulletin's read of the rectification orders up to its month."""
    return (
        select(orders_t)
        .where(orders_t.c.campaign_id == campaign_id, orders_t.c.month <= month)
        .order_by(orders_t.c.month, orders_t.c.unit_id, orders_t.c.id)
    )


def _entry(o: dict[str, Any]) -> RectificationEntry:
    return RectificationEntry(
        unit_name=o["unit_name"],
        month=date.fromisoformat(o["month"]),
        overdue=o["overdue"],
        due=date.fromisoformat(o["due"]),
        state=OrderState.resolved if o["state"] in RESOLVED_ORDER_STATES else OrderState(o["state"]),
    )


def bulletin_document(
    facts: CampaignFacts, rec: Reconciliation, orders: Orders, *, month: date, issued: date
) -> Bulletin:
    names = {t.unit_id: t.unit_name for t in rec.units}
    t = rec.totals
    started = [u for u in rec.units if u.expected_progress or u.actual_progress]
    opening = [
        f"按照《{facts.plan.title}》月度对账要求，{facts.issuer}对截至{cn_date(rec.as_of)}各责任单位任务推进情况"
        f"进行了对账，已到期任务{t.due}项。"
    ]
    if started:
        expected = round(sum(u.expected_progress for u in started) / len(started), 1)
        actual = round(sum(u.actual_progress for u in started) / len(started), 1)
        behind = [u.unit_name for u in rec.units if u.behind]
        lag = f"，{'、'.join(behind)}进度滞后于序时进度" if behind else ""
        opening.append(f"按序时进度各单位平均应完成{expected:.1f}%，实际平均进度{actual:.1f}%{lag}。")
    convener = facts.plan.joint_meeting.convener
    return Bulletin(
        campaign_id=facts.campaign_id,
        campaign_title=facts.campaign_title,
        issuer=facts.issuer,
        code=bulletin_code(facts.plan.notice_prefix, first_month=first_bulletin_month(facts.plan), month=month),
        month=month,
        as_of=rec.as_of,
        issued=issued,
        rows=tuple(
            UnitRow(
                unit_id=u.unit_id,
                unit_name=u.unit_name,
                kind=u.kind,
                total=u.total,
                done=u.done,
                on_time=u.on_time,
                late=u.late,
                overdue=u.overdue,
                colour=u.colour,
                expected_progress=u.expected_progress,
                actual_progress=u.actual_progress,
                rank=u.rank,
            )
            for u in rec.units
        ),
        commended=tuple(names[u] for u in rec.commended),
        criticised=tuple(names[u] for u in rec.laggards),
        orders_issued=tuple(_entry(o) for o in orders.issued),
        orders_unresolved=tuple(_entry(o) for o in orders.unresolved),
        body=tuple(opening),
        copy_to=(facts.name(convener),),
    )


def ledger_document(facts: CampaignFacts, recs: Sequence[ObligationRecord], rec: Reconciliation) -> Ledger:
    return Ledger(
        campaign_id=facts.campaign_id,
        campaign_title=facts.campaign_title,
        as_of=rec.as_of,
        issuer=facts.issuer,
        rows=tuple(
            LedgerRow(
                obligation_id=r.id,
                unit_name=r.unit_name,
                task_no=r.task_no,
                title=r.title,
                lead=facts.name(r.lead),
                due=r.due,
                state=r.state,
                progress=r.progress,
                reminders=r.reminders,
                escalation_level=r.escalation_level,
                overdue_working_days=c.overdue_working_days,
                colour=c.colour,
            )
            for r, c in zip(recs, rec.obligations, strict=True)
        ),
    )


def bulletin_body(
    rec: Reconciliation, orders: Orders, *, month: date, doc: Bulletin, hashes: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """The bulletin's JSON body: the keys it has always had, then the reconciliation's detail."""
    units = {
        u.unit_id: {
            "name": u.unit_name,
            "total": u.total,
            "due": u.due,
            "completed": u.done,
            "on_time": u.on_time,
            "late": u.late,
            "overdue": u.overdue,
            "colour": u.colour.value,
            "rate": u.rate,
            "kind": u.kind.value,
            "expected_progress": u.expected_progress,
            "actual_progress": u.actual_progress,
            "behind": u.behind,
            "rank": u.rank,
        }
        for u in rec.units
    }
    return {
        "month": month.isoformat(),
        "as_of": rec.as_of.isoformat(),
        "units": units,
        "ranking": [u.unit_id for u in rec.units],
        "laggards": list(rec.laggards),
        "commended": list(rec.commended),
        "title": title(doc),
        "issuer": doc.issuer,
        "totals": rec.totals.model_dump(),
        "towns": rec.towns.model_dump(),
        "agencies": rec.agencies.model_dump(),
        "criticised": list(doc.criticised),
        "orders_issued": orders.issued,
        "orders_unresolved": orders.unresolved,
        "documents": hashes,
    }
