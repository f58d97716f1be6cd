"""Milestones judged (达标验收 and 年度总评): the keys of their audit rows and orders, a campaign
launched without a score book judged on its obligations, the audit event of a town's result, and
the days each town is overdue.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.campaign.common import LOCAL_KINDS, _on_time
from activities.store import audit
from activities.store.tables import assessments, obligations
from models.assessment import ScoreSheet, SheetScore
from models.obligation import ObligationState
from models.payloads import (
    AssessRun,
)


def order_key(campaign_id: str, milestone: str, unit_id: str) -> str:
    """A failed acceptance's 责令整改 order: one per town and milestone."""
    return f"{campaign_id}#rectify#{milestone}#{unit_id}"


def assess_key(campaign_id: str, kind: str, milestone: str | None, unit_id: str, attempt: int = 1) -> str:
    base = f"{campaign_id}#assess#{kind}#{milestone or ''}#{unit_id}"
    return base if attempt == 1 else f"{base}#{attempt}"


def why_failed(sheet: ScoreSheet, result: SheetScore | None) -> str:
    if result is None:
        return "无评分记录（未参加验收）"
    failed = "、".join(sheet.criterion(c.criterion_id).name for c in result.criteria if c.failed)
    return f"得分{result.total:g}分，未达到{sheet.pass_mark:g}分的达标要求" + (
        f"（不达标项：{failed}）" if failed else ""
    )


async def judge_by_obligations(conn: AsyncConnection, inp: AssessRun) -> int:
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
        event = await judged_event(conn, inp, unit, score=result, passed=passed, detail=detail)
        if event is None:
            continue
        written += 1
        events.append(event)
    await audit.append(conn, prov, events)
    return written


async def judged_event(
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
                milestone=inp.milestone or inp.round or "",
                unit_id=unit,
                attempt=inp.attempt,
                score=score if score is not None else 0.0,
                passed=passed,
                detail=detail,
                **audit.times(inp),
            )
            .on_conflict_do_nothing()
            .returning(assessments.c.id)
        )
    ).scalar()
    if new is None:
        return None
    return audit.event(
        inp,
        key=assess_key(cid, inp.kind, inp.milestone or inp.round, unit, inp.attempt),
        kind="assessment",
        actor="office",
        unit_id=unit,
        payload={"kind": inp.kind, "milestone": inp.milestone, "score": score, "passed": passed, **detail},
    )


async def overdue_by_unit(conn: AsyncConnection, cid: str, milestone: str | None, as_of: date) -> dict[str, int]:
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
