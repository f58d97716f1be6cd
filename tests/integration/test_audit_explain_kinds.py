"""`audit explain` tells the deadline arithmetic of each rule kind as the engine fired it: the day it
counts from (the due date, counting back or forward; the assignment; the milestone; the month's
start) and the working days counted up to the firing, which must end on the rule's N.

Before, every firing after the due date was told as counted from the due date and every other as
"counting back from the due date": a reminder 5 working days after assignment read as counting
back 162 days."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.audit_explain import explain
from models.obligation import Obligation
from models.payloads import DeliverBatch
from models.ruleset import TriggerKind
from rules.calendar import WorkCalendar
from rules.engine import Engine
from rules.obligations import expand
from tests.integration import mini

pytestmark = pytest.mark.integration

RULES = """\
id: kinds
version: 1
time_of_day: "09:00"
rules:
  - {id: sign-for-it, trigger: {kind: not_acknowledged, working_days: 5}, action: {kind: remind, to: unit}}
  - {id: before, trigger: {kind: before_due, working_days: 3}, action: {kind: remind, to: unit}}
  - {id: on-the-day, trigger: {kind: at_due}, action: {kind: remind, to: unit}}
  - {id: after, trigger: {kind: after_due, working_days: 2}, action: {kind: escalate, to: lead, level: 1}}
  - {id: past-basic, trigger: {kind: milestone, milestone: basic, working_days: 4}, action: {kind: remind, to: unit}}
  - {id: each-month, trigger: {kind: monthly, working_days: 3}, action: {kind: remind, to: unit}}
"""
ANCHOR = {
    TriggerKind.not_acknowledged: "counting from the assignment on",
    TriggerKind.before_due: "counting back from the due date",
    TriggerKind.at_due: "counting from the due date",
    TriggerKind.after_due: "counting from the due date",
    TriggerKind.milestone: "counting from the basic milestone 2021-12-31",
    TriggerKind.monthly: "counting from the start of",
}


async def test_each_rule_kind_is_explained_from_the_day_it_counts_from(engine: AsyncEngine, tmp_path: Path) -> None:
    rules_file = tmp_path / "kinds.yaml"
    rules_file.write_text(RULES, encoding="utf-8")
    inp, prov, acts = await mini.registered(engine, rules_file)
    ctx = inp.context
    spec = next(s for s in expand(inp.plan, ctx.campaign_id) if s.unit_id == "west" and s.task_no == 1)
    milestones = {m.id: m.due for p in inp.plan.phases for m in p.milestones}
    rules = Engine(ctx.ruleset, WorkCalendar(ctx.calendar), milestones)
    firings = rules.firings(spec, until=date(2022, 3, 31))
    assert {f.rule.trigger.kind for f in firings} == set(ANCHOR)
    actions = [
        rules.act(Obligation(spec=spec), f, clock=ctx.clock, office=ctx.office, convener=ctx.convener) for f in firings
    ]
    await acts.deliver(
        DeliverBatch(
            provenance=prov.model_copy(update={"workflow_id": f"{ctx.campaign_id}/rollout/west"}),
            notice_prefix=ctx.notice_prefix,
            actions=[a for a in actions if a is not None],
        )
    )
    async with engine.connect() as conn:
        lines = (await explain(conn, spec.id)).lines()
    text = "\n".join(lines)
    assert "⚠" not in text, text
    told = [line for line in lines if re.search(r"fired \d{4}-\d\d-\d\d", line)]
    assert len(told) == len(firings), text
    for f in firings:
        found = [t for t in told if f"fired {f.on.isoformat()}" in t and ANCHOR[f.rule.trigger.kind] in t]
        assert len(found) == 1, f"{f.rule.id} on {f.on}: not told from its anchor\n{text}"
        line = found[0]
        n = f.rule.trigger.working_days
        counts = [int(c) for c in re.findall(r"\((\d+)[,)]", line)]
        # The count ends on the rule's N, on the firing day itself (day 0 for at_due: none counted).
        assert (counts[-1] if counts else 0) == n, line
        if n:
            assert f"{f.on.isoformat()} ({n}" in line or f.rule.trigger.kind is TriggerKind.before_due, line
