"""`rules.arming`: what a unit arms ahead is exactly what its wake-up at the instant delivers, and
looking ahead leaves the unit's state alone."""

from __future__ import annotations

from datetime import UTC, datetime

from models.obligation import Obligation
from models.ruleset import ActionKind
from rules.arming import ahead, armable, mark
from rules.calendar import WorkCalendar
from rules.engine import Engine, act_on
from rules.obligations import expand
from services.plans import load_plan
from tests.integration import mini


def test_what_is_armed_ahead_is_what_the_instant_delivers_and_nothing_else() -> None:
    inp = mini.new_campaign(datetime(2021, 4, 30, tzinfo=UTC))
    ctx = inp.context
    engine = Engine(ctx.ruleset, WorkCalendar(ctx.calendar), ctx.milestones)
    obs = [Obligation(spec=s) for s in expand(load_plan(mini.MINI_PLAN), ctx.campaign_id)]
    firings = {o.id: engine.firings(o, until=ctx.ends) for o in obs}
    clock, office, convener = ctx.clock, ctx.office, ctx.convener
    armed_kinds: set[ActionKind] = set()
    delivered_kinds: set[ActionKind] = set()
    for instant in sorted({f.at for fs in firings.values() for f in fs}):
        before = [o.model_dump() for o in obs]
        predicted = ahead(engine, obs, firings, instant, clock=clock, office=office, convener=convener)
        assert [o.model_dump() for o in obs] == before  # looking ahead changes nothing
        # The wake-up at the instant (nobody answered in between): what it does, armable or not.
        due = [(o, f) for o in obs if o.live for f in firings[o.id] if f.at == instant and f.occurrence not in o.fired]
        actions = act_on(engine, due, clock=clock, office=office, convener=convener)
        assert predicted == [a for a in actions if armable(a)], instant
        assert [mark(a) for a in predicted] == [mark(a) for a in actions if armable(a)]
        armed_kinds |= {a.kind for a in predicted}
        delivered_kinds |= {a.kind for a in actions}
    # Reminders are armed; escalations (with their notices) are written at their instant.
    assert armed_kinds == {ActionKind.remind}
    assert ActionKind.escalate in delivered_kinds
