"""`duban audit explain`: an obligation's record, with the rule, facts and working days behind it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.audit_explain import Explanation, UnknownObligation, explain
from activities.store.tables import obligations
from models.obligation import Obligation
from models.payloads import DeliverBatch
from models.time import CST
from rules.calendar import WorkCalendar
from rules.engine import Engine
from rules.obligations import expand
from tests.integration import mini

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_DUBAN = Path(sys.executable).parent / "duban"
COMMAND = [str(_DUBAN)] if _DUBAN.is_file() else [sys.executable, "-m", "starter"]


@pytest.fixture(scope="module")
async def campaign(db_url: str) -> AsyncIterator[str]:
    """The mini campaign, run once for this module's tests, as test_campaign.py runs it."""
    async with mini.rehearsed(db_url) as r:
        yield r.campaign_id


async def _explain(engine: AsyncEngine, obligation: str) -> Explanation:
    async with engine.connect() as conn:
        return await explain(conn, obligation)


def _find(lines: list[str], *parts: str, start: int = 0) -> int:
    """The index of the first line from `start` that holds every part."""
    for i in range(start, len(lines)):
        if all(p in lines[i] for p in parts):
            return i
    raise AssertionError(f"no line with {parts} after line {start}:\n" + "\n".join(lines))


async def test_explain_walks_a_silent_town_through_reminder_escalations_and_notice(
    engine: AsyncEngine, campaign: str
) -> None:
    ob = f"{campaign}/rollout/west/T01-basic"
    e = await _explain(engine, ob)
    lines = e.lines()

    assert [s.kind for s in e.steps if s.seq is not None] == [
        "campaign.launched",
        "reminder",
        "escalation",
        "escalation",
        "notice",
    ]
    assert e.warnings == ()  # the stored rule set and calendar match their pinned hashes
    launched = _find(lines, "launched by office")
    reminder = _find(lines, "2021-12-28 09:00", "reminder → west", "remind-before-due", start=launched)
    assert "到期前3个工作日催办责任单位" in lines[reminder]
    assert "saw state=assigned, days_left=3" in lines[reminder + 1]
    _find(lines, "counted 2021-12-30 (1), 2021-12-29 (2), 2021-12-28 (3)", start=reminder)

    to_lead = _find(lines, "2022-01-04 09:00", "escalation → roads (level 1)", "escalate-to-lead", start=reminder)
    assert "逾期1个工作日，向牵头单位督办" in lines[to_lead]
    assert 'when state != "completed"' in lines[to_lead]
    assert "saw state=assigned, days_overdue=1" in lines[to_lead + 1]
    assert "condition true" in lines[to_lead + 1]
    _find(lines, "due 2021-12-31 (Fri)", "not moved", start=to_lead)
    arithmetic = lines[_find(lines, "counted 2022-01-04 (1)", start=to_lead)]
    assert "skipped 2022-01-01 holiday, 2022-01-02 holiday, 2022-01-03 holiday" in arithmetic

    to_office = _find(lines, "2022-01-10 09:00", "escalation → office (level 2)", "escalate-to-office", start=to_lead)
    assert "saw state=assigned, days_overdue=5" in lines[to_office + 1]
    arithmetic = lines[_find(lines, "counted 2022-01-04 (1)", start=to_office)]
    assert "2022-01-10 (5)" in arithmetic
    assert "2022-01-08 weekend, 2022-01-09 weekend" in arithmetic
    _find(lines, "2022-01-10 09:00", "notice 测督〔2022〕1号 to west", start=to_office)
    assert not any("⚠" in line for line in lines), "\n".join(lines)


async def test_explain_shows_a_town_that_answered_and_why_it_was_not_reminded(
    engine: AsyncEngine, campaign: str
) -> None:
    e = await _explain(engine, f"{campaign}/rollout/east/T01-basic")
    recorded = [(s.kind, s.plan_time.astimezone(CST).strftime("%Y-%m-%d %H:%M"), s.actor) for s in e.steps if s.seq]
    assert recorded == [
        ("campaign.launched", "2021-04-30 09:00", "office"),
        ("obligation.acknowledged", "2021-05-10 10:00", "east"),
        ("obligation.completed", "2021-11-01 10:00", "east"),
    ]
    lines = e.lines()
    assert not any("reminder →" in line or "escalation →" in line for line in lines)
    _find(lines, "2021-05-10 10:00", "acknowledged (签收) by east")
    _find(lines, "2021-11-01 10:00", "completed (办结) by east", "100%")
    # The rules scheduled a reminder; the record shows why it did not act.
    skipped = _find(lines, "2021-12-28 09:00", "(no row)", "no reminder", "remind-before-due")
    assert 'state != "completed" was false' in lines[skipped + 1]
    assert "state=completed" in lines[skipped + 1]


async def test_explain_names_make_up_workdays_and_a_due_date_moved_off_a_holiday(
    engine: AsyncEngine, db_url: str
) -> None:
    """A due date in the 2022 Spring Festival (1-31 … 2-6) moves to Monday 2-7; the reminder 3
    working days before it counts the two 调休 weekend days 1-29 and 1-30."""
    inp, prov, acts = await mini.registered(engine)
    ctx = inp.context
    cid = ctx.campaign_id
    spec = next(s for s in expand(inp.plan, cid) if s.unit_id == "west" and s.task_no == 1)
    spec = spec.model_copy(update={"due": date(2022, 1, 31)})
    async with engine.begin() as conn:
        await conn.execute(update(obligations).where(obligations.c.id == spec.id).values(due=spec.due))
    rules = Engine(ctx.ruleset, WorkCalendar(ctx.calendar))
    ob = Obligation(spec=spec)
    actions = []
    for f in rules.firings(spec, until=date(2022, 3, 31)):
        a = rules.act(ob, f, clock=ctx.clock, office=ctx.office, convener=ctx.convener)
        assert a is not None
        actions.append(a)
    wf = f"{cid}/rollout/west"
    await acts.deliver(
        DeliverBatch(
            provenance=prov.model_copy(update={"workflow_id": wf}), notice_prefix=ctx.notice_prefix, actions=actions
        )
    )

    lines = (await _explain(engine, spec.id)).lines()
    reminder = _find(lines, "2022-01-28 09:00", "reminder → west")
    moved = lines[_find(lines, "due 2022-02-07 (Mon)", start=reminder)]
    assert "planned 2022-01-31 (Mon) is a rest day, moved to the next working day" in moved
    assert "2022-02-06 holiday" in moved
    counted = lines[_find(lines, "counting back from the due date", start=reminder)]
    assert (
        "counted 2022-01-30 (1, 调休 make-up workday), 2022-01-29 (2, 调休 make-up workday), 2022-01-28 (3)" in counted
    )
    assert "2022-01-31 holiday" in counted
    escalation = _find(lines, "2022-02-08 09:00", "escalation → roads")
    assert "counted 2022-02-08 (1)" in lines[_find(lines, "fired 2022-02-08", start=escalation)]
    assert not any("⚠" in line for line in lines), "\n".join(lines)


async def test_explain_of_an_unknown_obligation_raises(engine: AsyncEngine, campaign: str) -> None:
    with pytest.raises(UnknownObligation, match="no record of obligation"):
        await _explain(engine, f"{campaign}/rollout/west/T99-basic")


def _duban(*args: str, db_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return mini.duban(*args, db_url=db_url, var_dir=tmp_path / "var")


async def test_cli_explain_prints_the_timeline_and_refuses_an_unknown_obligation(
    db_url: str, campaign: str, tmp_path: Path
) -> None:
    ok = _duban("audit", "explain", f"{campaign}/rollout/west/T01-basic", db_url=db_url, tmp_path=tmp_path)
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.splitlines()
    _find(lines, "2022-01-04 09:00", "escalation → roads")
    _find(lines, "skipped 2022-01-01 holiday, 2022-01-02 holiday, 2022-01-03 holiday")

    as_json = _duban(
        "audit", "explain", "--json", f"{campaign}/rollout/west/T01-basic", db_url=db_url, tmp_path=tmp_path
    )
    assert as_json.returncode == 0, as_json.stderr
    steps = json.loads(as_json.stdout)["steps"]
    assert [s["rule"] for s in steps if s["kind"] == "escalation"] == ["escalate-to-lead", "escalate-to-office"]
    assert steps[2]["facts"]["days_overdue"] == 1

    missing = _duban("audit", "explain", f"{campaign}/rollout/west/T99-basic", db_url=db_url, tmp_path=tmp_path)
    assert missing.returncode == 1
    assert f"no record of obligation '{campaign}/rollout/west/T99-basic'" in missing.stderr
    assert "Traceback" not in missing.stderr
