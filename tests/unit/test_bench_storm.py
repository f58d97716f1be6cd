"""The timer storm's set-up (`services.bench.storm`): every town's 基础型 deadlines fall at one
instant after the launch, nothing else fires before it, and the clock puts it `lead` seconds out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.plan import PhaseKind
from models.time import at
from rules.calendar import WorkCalendar
from rules.engine import Engine
from rules.obligations import expand
from services.bench.province import province
from services.bench.storm import STORM_FROM, STORM_RULE, busiest_instant, storm_plan, storm_rules
from services.plans import prepare


def test_every_towns_basic_deadlines_fall_at_one_instant_and_nothing_before() -> None:
    plan = storm_plan(province(20, 15))
    rules = storm_rules(plan)
    assert [r.id for r in rules.rules] == [STORM_RULE] and rules.launch.grace_working_days == 0
    assert plan.phase(PhaseKind.rollout).start == STORM_FROM  # no monthly cycle owed before the instant
    now = datetime(2026, 12, 4, tzinfo=UTC)
    inp = prepare(plan, rules, campaign_id="c", server_now=now, live=False, plan_from=STORM_FROM).input
    launched = at(STORM_FROM, rules.time_of_day)
    instant, n = busiest_instant(inp, plan, launched)
    # 3 working days before the 基础型 milestone (2021-12-31), the day after the launch.
    assert instant == at(STORM_FROM + timedelta(days=1), "09:00")
    assert n >= 20 * 15
    # Nothing fires between the launch and the instant: the storm is alone.
    ctx = inp.context
    engine = Engine(ctx.ruleset, WorkCalendar(ctx.calendar), ctx.milestones)
    after = [f.at for o in expand(plan, "c") for f in engine.firings(o, until=ctx.ends) if f.at > launched]
    assert min(after) == instant and after.count(instant) == n


def test_the_drill_clock_puts_the_instant_lead_seconds_after_the_launch() -> None:
    plan = storm_plan(province(3, 15))
    rules = storm_rules(plan)
    now = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    span = timedelta(days=1).total_seconds()
    speed = int(span // 120)
    inp = prepare(plan, rules, campaign_id="c", server_now=now, live=False, speed=speed, plan_from=STORM_FROM).input
    due = inp.context.clock.server_time(at(STORM_FROM + timedelta(days=1), "09:00"))
    assert due - now == timedelta(seconds=span / speed)
