"""The comprehensive evaluation (总结评价): its record read from the database, and the final report
drawn from it.

Everything the evaluation weighs is read here from the database, never carried through workflow
inputs: at province scale it is large.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.campaign.common import _on_time
from activities.store import scores as stored_scores
from activities.store.nominations import nominations
from activities.store.tables import obligations, rectification_orders
from models.assessment import EvaluationInput, EvaluationRecord, ScoreBook, UnitFacts
from models.documents import CarriedItem, FinalReport, ScorePart, TownScore
from models.obligation import ObligationState
from models.plan import Plan
from models.rectification import OrderState
from models.time import at
from rules.calendar import WorkCalendar
from rules.scoring import evaluate

FINAL_REPORT = "final_report"
"""The `documents` kind of the rendered 总结评价 report (docx, pdf, xlsx)."""
LONG_TERM_REVIEW_WORKING_DAYS = 60
"""长效管理 items are reviewed about three months after the evaluation."""


JSON = "application/json"


def report_stem(campaign_id: str) -> str:
    return f"{campaign_id}-final-report"


async def evaluation_of(
    conn: AsyncConnection, campaign_id: str, *, as_of: date, provisional: bool = False
) -> tuple[EvaluationRecord, FinalReport]:
    """综合评价 of every town in scope from what the database holds as of a date: obligations due
    and done on time, 责令整改 orders received and resolved, and the current scores (dated by
    then) on the campaign's pinned score book; and the final report that presents it.

    Raises:
        stored_scores.Refused: no such campaign, or it has no score book.
    """
    p = await stored_scores.pinned(conn, campaign_id)
    towns = p.scope()
    ids = [u.id for u in towns]
    due: dict[str, int] = defaultdict(int)
    on_time: dict[str, int] = defaultdict(int)
    q = select(obligations.c.unit_id, obligations.c.due, obligations.c.state, obligations.c.completed_at).where(
        obligations.c.campaign_id == campaign_id,
        obligations.c.unit_id.in_(ids),
        obligations.c.due <= as_of,
        obligations.c.state != ObligationState.withdrawn.value,
    )
    for r in (await conn.execute(q)).all():
        due[r.unit_id] += 1
        on_time[r.unit_id] += r.state == ObligationState.completed.value and _on_time(r, as_of)
    received: dict[str, int] = defaultdict(int)
    resolved: dict[str, int] = defaultdict(int)
    orders = select(rectification_orders.c.unit_id, rectification_orders.c.state).where(
        rectification_orders.c.campaign_id == campaign_id, rectification_orders.c.plan_time <= _end_of(as_of)
    )
    for o in (await conn.execute(orders)).all():
        received[o.unit_id] += 1
        # An order closed as rejected (整改不到位) stays against the unit, as an open one does.
        resolved[o.unit_id] += o.state not in (OrderState.open, OrderState.rejected)
    facts = tuple(
        UnitFacts(
            unit_id=u,
            obligations_due=due[u],
            on_time=on_time[u],
            orders_received=received[u],
            orders_resolved=resolved[u],
        )
        for u in ids
    )
    rows = await stored_scores.current(
        conn, campaign_id, sheets=[s.id for s in p.book.sheets], units=ids, on_or_before=as_of
    )
    result = evaluate(
        EvaluationInput(
            sheets=p.book.sheets,
            weights=p.book.evaluation,
            units=facts,
            scores=tuple(stored_scores.as_record(r) for r in rows),
        )
    )
    record = EvaluationRecord(
        campaign_id=campaign_id,
        as_of=as_of,
        scorebook_hash=p.book_hash,
        provisional=provisional,
        names={u.id: u.name for u in towns},
        facts=facts,
        scores=len(rows),
        evaluation=result,
        nominees=tuple(await nominations(conn, campaign_id, as_of=_end_of(as_of))),
    )
    return record, final_report(p.plan, p.book, record, WorkCalendar(p.calendar))


def _end_of(d: date) -> datetime:
    return at(d, "23:59")


PART_NAMES = {"timeliness": "按期办结", "rectification": "整改情况", "assessment": "考核评分"}


def final_report(plan: Plan, book: ScoreBook, record: EvaluationRecord, calendar: WorkCalendar) -> FinalReport:
    """The 总结评价 report (models.documents.FinalReport) presenting an evaluation."""
    w = book.evaluation
    ev = record.evaluation
    units = plan.directory.by_id()
    weights = {k: getattr(w, k) for k in PART_NAMES}
    towns = tuple(
        TownScore(
            unit_id=t.unit_id,
            unit_name=units[t.unit_id].name,
            kind=units[t.unit_id].kind,
            parts=tuple(
                ScorePart(name=PART_NAMES[k], weight=weights[k] / 100, score=getattr(t, k))
                for k in PART_NAMES
                if weights[k] > 0
            ),
            rank=t.rank,
            basic_met="basic" in t.meets,
            model_met="model" in t.meets,
        )
        for t in ev.towns
    )
    office = units[plan.joint_meeting.office].name
    campaign = plan.title.removesuffix("实施方案")
    held = "；".join(f"“{_milestone_name(plan, m)}”达标{len(ok)}个" for m, ok in ev.standards.items())
    carried = []
    for item in ev.long_term:
        sheet = book.sheet(item.sheet_id)
        tasks = sheet.criterion(item.criterion_id).tasks
        owner = units[plan.task(tasks[0]).lead].name if tasks else office
        failing = "、".join(units[u].name for u in item.units[:5]) + ("等" if len(item.units) > 5 else "")
        carried.append(
            CarriedItem(
                title=item.name,
                owner=owner,
                mechanism=f"{sheet.name}中{item.failed}次不达标（{failing}）；纳入日常督导，按月巡查",
                review=calendar.shift(record.as_of, LONG_TERM_REVIEW_WORKING_DAYS),
            )
        )
    return FinalReport(
        campaign_id=record.campaign_id,
        campaign_title=campaign,
        title=f"{campaign}总结评价报告" + ("（预评）" if record.provisional else ""),
        issuer=office,
        period_start=plan.start,
        period_end=record.as_of,
        issued=record.as_of,
        towns=towns,
        laggards=tuple(units[x.unit_id].name for x in ev.laggards),
        commendation=tuple(units[u].name for u in ev.commended),
        people=tuple(
            f"{n.person}（{units[n.unit_id].name if n.unit_id in units else n.unit_id}{n.title}）：{n.reason}"
            for n in record.nominees
        ),
        carried=tuple(carried),
        summary=(
            f"按照《{plan.title}》“日常督导、拉练检查、年度总评、达标验收”的要求，对各镇（场、景区）"
            f"行动开展情况进行综合评价。综合得分由按期办结（{w.timeliness:g}%）、整改情况（{w.rectification:g}%）"
            f"和考核评分（{w.assessment:g}%）三部分构成，共计入评分记录{record.scores}份"
            + (f"；{held}" if held else "")
            + "。",
        ),
        copy_to=(units[plan.joint_meeting.convener].name,),
    )


def _milestone_name(plan: Plan, milestone: str) -> str:
    return next((m.name for p in plan.phases for m in p.milestones if m.id == milestone), milestone)
