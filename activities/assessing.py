"""Assessments (考核): 达标验收 at each milestone and its re-check, 年度总评, and the comprehensive
evaluation (总结评价) with its final report; in rehearsals, the simulated assessors.

Each activity is one transaction. Milestones are judged on the stored scores (activities.store.
scores) against the score book the campaign pinned at launch; a campaign launched without one is
judged on its obligations, as before score sheets existed. Everything the evaluation weighs is
read here from the database, never carried through workflow inputs: at province scale it is large.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from activities.campaign.common import LOCAL_KINDS, _on_time
from activities.delivery import InboxItem, Outbox, write_inbox
from activities.documents.final_report import render_final_report
from activities.documents.layout import RenderedFile
from activities.store import audit
from activities.store import documents as stored_documents
from activities.store import scores as stored_scores
from activities.store.tables import assessments, campaigns, obligations, rectification_orders
from models.assessment import (
    EvaluationInput,
    EvaluationRecord,
    ScoreBook,
    ScoreSheet,
    SheetScore,
    UnitFacts,
)
from models.calendar import CalendarData
from models.documents import CarriedItem, FinalReport, ScorePart, TownScore
from models.obligation import ObligationState
from models.payloads import (
    Act,
    AssessResult,
    AssessRun,
    EvaluateRun,
    EvaluationSummary,
    SimulateScores,
    SimulateScoresResult,
)
from models.plan import AssessmentKind, Plan
from models.time import at
from rules.calendar import WorkCalendar
from rules.scoring import evaluate, recheck_day, score
from rules.simulation import simulated_scores

log = structlog.get_logger()

FINAL_REPORT = "final_report"
"""The `documents` kind of the rendered 总结评价 report (docx, pdf, xlsx)."""
LONG_TERM_REVIEW_WORKING_DAYS = 60
"""长效管理 items are reviewed about three months after the evaluation."""


def order_key(campaign_id: str, milestone: str, unit_id: str) -> str:
    """A failed acceptance's 责令整改 order: one per town and milestone."""
    return f"{campaign_id}#rectify#{milestone}#{unit_id}"


def assess_key(campaign_id: str, kind: str, milestone: str | None, unit_id: str, attempt: int = 1) -> str:
    base = f"{campaign_id}#assess#{kind}#{milestone or ''}#{unit_id}"
    return base if attempt == 1 else f"{base}#{attempt}"


class AssessmentActivities:
    """The assessment activities over one database; with an `outbox`, rectification orders are
    also pushed to e-mail and webhooks, like every inbox row."""

    def __init__(self, engine: AsyncEngine, outbox: Outbox | None = None) -> None:
        self.db = engine
        self.outbox = outbox

    # -- 达标验收 and 年度总评 ----------------------------------------------------------------------

    @activity.defn(name=Act.assess)
    async def assess(self, inp: AssessRun) -> AssessResult:
        """Judge every town in scope (at a re-check, the towns that failed) on its current score
        on the sheet for this assessment; a town failing an acceptance is ordered to rectify by
        the re-check date, and passing the re-check resolves the order."""
        cid = inp.provenance.campaign_id
        async with self.db.begin() as conn:
            row = (await conn.execute(select(campaigns).where(campaigns.c.id == cid))).mappings().one()
            book = ScoreBook.model_validate(row["scorebook"]) if row["scorebook"] else None
            sheet = None
            if book is not None:
                sheet = book.acceptance(inp.milestone) if inp.milestone else book.of_kind(AssessmentKind(inp.kind))
            if book is None or sheet is None:
                return AssessResult(written=await _by_obligations(conn, inp))
            return await self._by_scores(conn, inp, row, sheet)

    async def _by_scores(self, conn: AsyncConnection, inp: AssessRun, row: Any, sheet: ScoreSheet) -> AssessResult:
        cid = inp.provenance.campaign_id
        plan = Plan.model_validate(row["plan"])
        book = ScoreBook.model_validate(row["scorebook"])
        calendar = WorkCalendar(CalendarData.model_validate(row["calendar"]))
        held_on = inp.plan_time.date()
        milestone = inp.milestone or ""
        acceptance = sheet.kind == AssessmentKind.acceptance
        towns = book.units_in_scope(plan.directory)
        if inp.attempt > 1:
            failed_before = set(
                (
                    await conn.execute(
                        select(assessments.c.unit_id).where(
                            assessments.c.campaign_id == cid,
                            assessments.c.kind == inp.kind,
                            assessments.c.milestone == milestone,
                            assessments.c.attempt == inp.attempt - 1,
                            assessments.c.passed.is_(False),
                        )
                    )
                ).scalars()
            )
            towns = tuple(u for u in towns if u.id in failed_before)
        latest = stored_scores.latest_per_unit(
            await stored_scores.current(conn, cid, sheets=[sheet.id], on_or_before=held_on)
        )
        events: list[audit.Event] = []
        if inp.attempt == 1 and not latest:
            # Nobody was scored: the acceptance was not held in duban (scored on paper, or late).
            # Nothing is judged and nobody is ordered to rectify on no evidence.
            events.append(
                audit.event(
                    inp,
                    key=f"{assess_key(cid, inp.kind, inp.milestone, '')}not-held",
                    kind="assessment.not_held",
                    actor="office",
                    payload={"kind": inp.kind, "milestone": inp.milestone, "sheet": sheet.id, "towns": len(towns)},
                )
            )
            await audit.append(conn, inp.provenance, events)
            log.warning("assessment not held: no scores", campaign_id=cid, sheet=sheet.id)
            return AssessResult()
        recheck = recheck_day(calendar, held_on, sheet) if acceptance and inp.attempt == 1 else None
        milestone_name = next((m.name for p in plan.phases for m in p.milestones if m.id == inp.milestone), milestone)
        overdue = await _overdue(conn, cid, inp.milestone, inp.as_of) if acceptance else {}
        written = failed = 0
        for u in towns:
            r = latest.get(u.id)
            result = score(sheet, stored_scores.as_record(r)) if r is not None else None
            passed = bool(result and result.passed)
            detail: dict[str, Any] = {
                "sheet": sheet.id,
                "scorebook_hash": row["scorebook_hash"],
                "as_of": inp.as_of.isoformat(),
                "attempt": inp.attempt,
                "scored": r is not None,
            }
            if r is not None and result is not None:
                detail |= {
                    "score_id": r.id,
                    "assessed_on": r.assessed_on.isoformat(),
                    "assessor": r.assessor,
                    "pass_mark": sheet.pass_mark,
                    "failed_criteria": [c.criterion_id for c in result.criteria if c.failed],
                }
            key = order_key(cid, milestone, u.id)
            if acceptance and not passed and recheck is not None:
                detail |= {"order": key, "recheck_on": recheck.isoformat()}
            event = await _judged(conn, inp, u.id, score=result.total if result else None, passed=passed, detail=detail)
            if event is None:
                continue  # judged by an earlier attempt of this activity
            written += 1
            failed += not passed
            events.append(event)
            if not acceptance:
                continue
            if recheck is not None and not passed:
                reason = _why_failed(sheet, result)
                events.append(
                    await self._order(
                        conn,
                        inp,
                        key=key,
                        unit_id=u.id,
                        unit_name=u.name,
                        month=date(inp.as_of.year, inp.as_of.month, 1),
                        overdue=overdue.get(u.id, 0),
                        due=recheck,
                        title=f"责令整改：{u.name}（“{milestone_name}”达标验收未通过）",
                        body=(
                            f"{u.name}在“{milestone_name}”美丽城镇达标验收中{reason}。现责令于"
                            f"{recheck:%Y年%m月%d日}前整改到位并书面报告，届时复查。"
                        ),
                    )
                )
            elif inp.attempt > 1 and passed:
                resolved = await conn.execute(
                    update(rectification_orders)
                    .where(rectification_orders.c.idempotency_key == key, rectification_orders.c.state == "open")
                    .values(state="resolved")
                )
                if resolved.rowcount:
                    events.append(
                        audit.event(
                            inp,
                            key=f"{key}#resolved",
                            kind="rectification_resolved",
                            actor="office",
                            unit_id=u.id,
                            payload={"order": key, "by": "recheck", "score": result.total if result else None},
                        )
                    )
        await audit.append(conn, inp.provenance, events)
        log.info("assessed", campaign_id=cid, sheet=sheet.id, attempt=inp.attempt, written=written, failed=failed)
        return AssessResult(written=written, failed=failed, recheck_on=recheck if failed else None)

    async def _order(
        self,
        conn: AsyncConnection,
        inp: AssessRun,
        *,
        key: str,
        unit_id: str,
        unit_name: str,
        month: date,
        overdue: int,
        due: date,
        title: str,
        body: str,
    ) -> audit.Event:
        """A 责令整改 order: its row, the town's inbox row (and pushes); the audit event to append."""
        cid = inp.provenance.campaign_id
        await conn.execute(
            insert(rectification_orders)
            .values(
                idempotency_key=key,
                campaign_id=cid,
                unit_id=unit_id,
                month=month,
                overdue=overdue,
                due=due,
                plan_time=inp.plan_time,
                server_time=inp.server_time,
            )
            .on_conflict_do_nothing()
        )
        item = InboxItem(
            key=key,
            campaign_id=cid,
            recipient=unit_id,
            kind="rectification",
            title=title,
            body=body,
            plan_time=inp.plan_time,
            server_time=inp.server_time,
        )
        if await write_inbox(conn, item) and self.outbox is not None:
            await self.outbox.push(conn, item)
        return audit.event(
            inp,
            key=key,
            kind="rectification_order",
            actor="office",
            unit_id=unit_id,
            payload={"milestone": inp.milestone, "overdue": overdue, "due": due.isoformat(), "recheck": True},
        )

    # -- 总结评价 ----------------------------------------------------------------------------------

    @activity.defn(name=Act.evaluate)
    async def evaluate(self, inp: EvaluateRun) -> EvaluationSummary:
        """The comprehensive evaluation from the record, the final report rendered (DOCX, PDF,
        XLSX) and both stored, with an audit event holding the ranking and every file's SHA-256.
        Same record, same bytes: a retried attempt stores nothing twice."""
        cid = inp.provenance.campaign_id
        async with self.db.begin() as conn:
            # Hold the campaign row: a score entered meanwhile waits, then finds the evaluation
            # made and is refused, rather than missing it unnoticed.
            row = (
                (
                    await conn.execute(
                        select(campaigns.c.scorebook).where(campaigns.c.id == cid).with_for_update(key_share=True)
                    )
                )
                .mappings()
                .one()
            )
            if row["scorebook"] is None:
                return EvaluationSummary()
            record, report = await evaluation_of(conn, cid, as_of=inp.as_of)
            files = dict(await asyncio.to_thread(render_final_report, report))
            data = record.model_dump_json(indent=2).encode()
            files_json = {"json": RenderedFile(name=f"{report_stem(cid)}-evaluation.json", media_type=JSON, data=data)}
            ref = inp.as_of.isoformat()
            hashes: dict[str, str] = {}
            for kind, fs in ((FINAL_REPORT, files), (stored_scores.EVALUATION_KIND, files_json)):
                hashes |= await stored_documents.store(
                    conn,
                    campaign_id=cid,
                    kind=kind,
                    ref=ref,
                    files=fs,
                    plan_time=inp.plan_time,
                    server_time=inp.server_time,
                )
            ev = record.evaluation
            await audit.record(
                conn,
                inp,
                key=f"{cid}#evaluation",
                kind="evaluation",
                actor="office",
                payload={
                    "as_of": ref,
                    "scorebook_hash": record.scorebook_hash,
                    "towns": len(ev.towns),
                    "scores": record.scores,
                    "ranking": [[t.unit_id, t.total] for t in ev.towns],
                    "standards": {m: list(u) for m, u in ev.standards.items()},
                    "laggards": [x.unit_id for x in ev.laggards],
                    "commended": list(ev.commended),
                    "documents": hashes,
                },
            )
        log.info("evaluated", campaign_id=cid, towns=len(ev.towns), commended=list(ev.commended))
        return EvaluationSummary(
            evaluated=True,
            towns=len(ev.towns),
            commended=list(ev.commended),
            laggards=[x.unit_id for x in ev.laggards],
            documents=hashes,
        )

    # -- rehearsals ---------------------------------------------------------------------------------

    @activity.defn(name=Act.simulate_scores)
    async def simulate_scores(self, inp: SimulateScores) -> SimulateScoresResult:
        """Simulated assessors' scores for one sheet and day, stored as the CLI stores scores."""
        cid = inp.provenance.campaign_id
        async with self.db.begin() as conn:
            p = await stored_scores.pinned(conn, cid, lock=True)
            sheet = p.book.sheet(inp.sheet_id)
            towns = [u.id for u in p.scope()]
            if inp.recheck:
                latest = stored_scores.latest_per_unit(
                    await stored_scores.current(conn, cid, sheets=[sheet.id], on_or_before=inp.on)
                )
                towns = [t for t in towns if t in latest and not latest[t].passed]
            records = simulated_scores(
                sheet, towns, seed=inp.seed, on=inp.on, recheck=inp.recheck, silent=inp.silent, misses=inp.misses
            )
            out = await stored_scores.store(
                conn,
                p,
                records,
                entered_by="simulation",
                provenance=inp.provenance,
                plan_time=inp.plan_time,
                server_time=inp.server_time,
            )
        stored = sum(s.new for s in out)
        return SimulateScoresResult(stored=stored, unchanged=len(out) - stored)


JSON = "application/json"


def _why_failed(sheet: ScoreSheet, result: SheetScore | None) -> str:
    if result is None:
        return "无评分记录（未参加验收）"
    failed = "、".join(sheet.criterion(c.criterion_id).name for c in result.criteria if c.failed)
    return f"得分{result.total:g}分，未达到{sheet.pass_mark:g}分的达标要求" + (
        f"（不达标项：{failed}）" if failed else ""
    )


def report_stem(campaign_id: str) -> str:
    return f"{campaign_id}-final-report"


async def _by_obligations(conn: AsyncConnection, inp: AssessRun) -> int:
    """A campaign launched without score sheets: 达标验收 at a milestone = every obligation of the
    milestone done on time; 年度总评 = the share done on time over the campaign (60 to pass)."""
    prov = inp.provenance
    cid = prov.campaign_id
    q = select(obligations).where(
        obligations.c.campaign_id == cid,
        obligations.c.unit_kind.in_(LOCAL_KINDS),
        obligations.c.state != ObligationState.withdrawn.value,
    )
    if inp.milestone:
        q = q.where(obligations.c.milestone == inp.milestone)
    per: dict[str, list[Any]] = defaultdict(list)
    for r in (await conn.execute(q)).all():
        per[r.unit_id].append(r)
    events = []
    written = 0
    for unit, rows in sorted(per.items()):
        on_time = sum(_on_time(r, inp.as_of) for r in rows)
        result = round(100 * on_time / len(rows), 1)
        passed = on_time == len(rows) if inp.milestone else result >= 60
        detail = {"obligations": len(rows), "on_time": on_time, "as_of": inp.as_of.isoformat()}
        event = await _judged(conn, inp, unit, score=result, passed=passed, detail=detail)
        if event is None:
            continue
        written += 1
        events.append(event)
    await audit.append(conn, prov, events)
    return written


async def _judged(
    conn: AsyncConnection, inp: AssessRun, unit: str, *, score: float | None, passed: bool, detail: dict[str, Any]
) -> audit.Event | None:
    """One unit's assessment row (once per campaign, kind, milestone, unit and attempt) and the
    audit event to append with it; None when an earlier attempt of the activity wrote it."""
    cid = inp.provenance.campaign_id
    new = (
        await conn.execute(
            insert(assessments)
            .values(
                campaign_id=cid,
                kind=inp.kind,
                milestone=inp.milestone or "",
                unit_id=unit,
                attempt=inp.attempt,
                score=score if score is not None else 0.0,
                passed=passed,
                detail=detail,
                plan_time=inp.plan_time,
                server_time=inp.server_time,
            )
            .on_conflict_do_nothing()
            .returning(assessments.c.id)
        )
    ).scalar()
    if new is None:
        return None
    return audit.event(
        inp,
        key=assess_key(cid, inp.kind, inp.milestone, unit, inp.attempt),
        kind="assessment",
        actor="office",
        unit_id=unit,
        payload={"kind": inp.kind, "milestone": inp.milestone, "score": score, "passed": passed, **detail},
    )


async def _overdue(conn: AsyncConnection, cid: str, milestone: str | None, as_of: date) -> dict[str, int]:
    """Per town, its obligations of the milestone not completed on time as of the date."""
    q = select(obligations.c.unit_id, obligations.c.due, obligations.c.completed_at).where(
        obligations.c.campaign_id == cid, obligations.c.milestone == milestone
    )
    out: dict[str, int] = defaultdict(int)
    for r in (await conn.execute(q)).all():
        if r.due <= as_of and not _on_time(r, as_of):
            out[r.unit_id] += 1
    return out


# -- the evaluation from the record -----------------------------------------------------------------


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
        resolved[o.unit_id] += o.state != "open"
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
