"""Assessments (考核): 达标验收 at each milestone and its re-check, 年度总评, and the comprehensive
evaluation (总结评价) with its final report; in rehearsals, the simulated assessors.

Each activity is one transaction. Milestones are judged on the stored scores (activities.store.
scores) against the score book the campaign pinned at launch; a campaign launched without one is
judged on its obligations, as before score sheets existed. Everything the evaluation weighs is
read here from the database, never carried through workflow inputs: at province scale it is large.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from activities.delivery import InboxItem, Outbox, write_inbox
from activities.documents.files import RenderedFile
from activities.documents.final_report import render_final_report
from activities.evaluation import FINAL_REPORT, JSON, evaluation_of, report_stem
from activities.judging import assess_key, judge_by_obligations, judged_event, order_key, overdue_by_unit, why_failed
from activities.paperwork.final_report_request import evaluation_key
from activities.store import audit
from activities.store import documents as stored_documents
from activities.store import scores as stored_scores
from activities.store.tables import assessments, campaigns, rectification_orders
from models.assessment import ScoreBook, ScoreSheet
from models.calendar import CalendarData
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
from rules.assessment_schedule import sampled
from rules.calendar import WorkCalendar
from rules.scoring import recheck_day, score
from rules.simulation import simulated_scores

log = structlog.get_logger()


class AssessmentActivities:
    """The assessment activities over one database; with an `outbox`, rectification orders are
    also pushed to e-mail and webhooks, like every inbox row."""

    def __init__(self, engine: AsyncEngine, outbox: Outbox | None = None, *, papers_on_request: bool = False) -> None:
        self.db = engine
        self.outbox = outbox
        # The final report's papers left for `duban evaluation` to render when first asked for:
        # only where nobody is sent them (a rehearsal), as for notices and bulletins.
        self.papers_on_request = papers_on_request and outbox is None

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
            if book is not None and inp.sheet_id is not None:
                sheet = next((s for s in book.sheets if s.id == inp.sheet_id), None)
            elif book is not None:
                sheet = book.acceptance(inp.milestone) if inp.milestone else book.of_kind(AssessmentKind(inp.kind))
            if book is None or sheet is None:
                return AssessResult(written=await judge_by_obligations(conn, inp))
            return await self._by_scores(conn, inp, row, sheet)

    async def _by_scores(self, conn: AsyncConnection, inp: AssessRun, row: Any, sheet: ScoreSheet) -> AssessResult:
        cid = inp.provenance.campaign_id
        plan = Plan.model_validate(row["plan"])
        book = ScoreBook.model_validate(row["scorebook"])
        calendar = WorkCalendar(CalendarData.model_validate(row["calendar"]))
        held_on = inp.plan_time.date()
        milestone = inp.milestone or inp.round or ""
        acceptance = sheet.kind == AssessmentKind.acceptance
        towns = book.units_in_scope(plan.directory)
        if inp.round is not None:  # a scheduled round looks at its sample of towns
            drawn = set(sampled(sheet, [u.id for u in towns], cid, inp.round))
            towns = tuple(u for u in towns if u.id in drawn)
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
        scored = await stored_scores.current(conn, cid, sheets=[sheet.id], on_or_before=held_on)
        if inp.since is not None:  # a round judges its own period's scores, not last month's
            scored = [r for r in scored if r.assessed_on >= inp.since]
        latest = stored_scores.latest_per_unit(scored)
        events: list[audit.Event] = []
        if inp.attempt == 1 and not latest:
            # Nobody was scored: the acceptance was not held in duban (scored on paper, or late).
            # Nothing is judged and nobody is ordered to rectify on no evidence.
            events.append(
                audit.event(
                    inp,
                    key=f"{assess_key(cid, inp.kind, inp.milestone or inp.round, '')}not-held",
                    kind="assessment.not_held",
                    actor="office",
                    payload={
                        "kind": inp.kind,
                        "milestone": inp.milestone,
                        "round": inp.round,
                        "sheet": sheet.id,
                        "towns": len(towns),
                    },
                )
            )
            await audit.append(conn, inp.provenance, events)
            log.warning("assessment not held: no scores", campaign_id=cid, sheet=sheet.id)
            return AssessResult()
        recheck = recheck_day(calendar, held_on, sheet) if acceptance and inp.attempt == 1 else None
        milestone_name = next((m.name for p in plan.phases for m in p.milestones if m.id == inp.milestone), milestone)
        overdue = await overdue_by_unit(conn, cid, inp.milestone, inp.as_of) if acceptance else {}
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
            if inp.round is not None:
                detail |= {"round": inp.round, "since": inp.since.isoformat() if inp.since else None}
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
            event = await judged_event(
                conn, inp, u.id, score=result.total if result else None, passed=passed, detail=detail
            )
            if event is None:
                continue  # judged by an earlier attempt of this activity
            written += 1
            failed += not passed
            events.append(event)
            if not acceptance:
                continue
            if recheck is not None and not passed:
                reason = why_failed(sheet, result)
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
                **audit.times(inp),
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
            **audit.times(inp),
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
            # On request, the chain records the report's whole input in place of its files' hashes
            # (`activities.paperwork.final_report_request` renders the same bytes from it later).
            files = {} if self.papers_on_request else dict(await asyncio.to_thread(render_final_report, report))
            later = {"document": report.model_dump(mode="json")} if self.papers_on_request else {}
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
                    **audit.times(inp),
                )
            ev = record.evaluation
            await audit.record(
                conn,
                inp,
                key=evaluation_key(cid),
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
                    "nominees": [[n.unit_id, n.person] for n in record.nominees],
                    "documents": hashes,
                    **later,
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
            if inp.round is not None:  # a scheduled round: the towns it samples
                towns = list(sampled(sheet, towns, cid, inp.round))
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
                **audit.times(inp),
            )
        stored = sum(s.new for s in out)
        return SimulateScoresResult(stored=stored, unchanged=len(out) - stored)
