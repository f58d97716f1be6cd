"""`rules.arming.next_acting` and `catch_up`: a unit that sleeps through the instants at which its
firings would act on nothing, and catches them up before its obligations change, acts exactly as
one that wakes at every instant: the same actions at the same instants, the same state after.

Both units below are driven the way `UnitWorkflow` drives itself: a pass fires what is due, then
plays the agency's moves of that instant (their events fire at the next pass); moves are either
known ahead (a rehearsal's simulated agency: the sleeping unit wakes for them) or arrive unseen
(a live agency's Updates: the sleeping unit catches up in the handler, then wakes)."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.obligation import Obligation, ObligationState
from models.payloads import CampaignContext, CampaignInput, FiredAction
from models.ruleset import Event
from rules.arming import Look, ahead, armable, catch_up, next_acting
from rules.calendar import WorkCalendar
from rules.engine import Engine, Firing, act_on
from rules.obligations import expand
from services.plans import load_plan, prepare

DEBOUNCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Move:
    at: datetime
    obligation_id: str
    verb: str  # acknowledge | progress | complete
    percent: int = 0


def moves_for(obs: list[Obligation], firings: dict[str, list[Firing]], seed: int) -> list[Move]:
    """Each obligation signed for, reported on and completed (or not) at random instants, some
    of them exactly at a firing's instant."""
    rng = random.Random(seed)
    instants = sorted({f.at for fs in firings.values() for f in fs})
    out = []
    for o in obs:
        times = sorted(
            rng.choice(instants) + (timedelta(0) if rng.random() < 0.3 else timedelta(hours=rng.randint(1, 60)))
            for _ in range(3)
        )
        out.append(Move(times[0], o.id, "acknowledge"))
        if rng.random() < 0.7:
            out.append(Move(times[1], o.id, "progress", rng.choice([20, 40, 60])))
        if rng.random() < 0.6:
            out.append(Move(times[2], o.id, "complete"))
    return sorted(out, key=lambda m: (m.at, m.obligation_id, m.verb))


class Unit:
    """The loop's bookkeeping over plain obligations: what it delivered, at which instant."""

    def __init__(self, engine: Engine, obs: list[Obligation], firings: dict[str, list[Firing]], ctx: object) -> None:
        self.engine = engine
        self.obs = {o.id: o.model_copy(deep=True) for o in obs}
        self.firings = firings
        self.ctx = ctx
        self.events: list[tuple[Obligation, Firing]] = []
        self.delivered: list[tuple[datetime, list[str]]] = []
        self.quiet: list[datetime] = []
        self.late: list[FiredAction] = []
        self.slept = 0
        self.looked = 0

    def _kw(self) -> dict[str, object]:
        c = self.ctx
        return {"clock": c.clock, "office": c.office, "convener": c.convener}  # type: ignore[attr-defined]

    def fire(self, now: datetime) -> None:
        due, self.events = self.events, []
        due += [
            (o, f)
            for o in self.obs.values()
            if o.live
            for f in self.firings[o.id]
            if f.at <= now and f.occurrence not in o.fired
        ]
        actions, self.late = self.late, []
        actions += act_on(self.engine, due, **self._kw())  # type: ignore[arg-type]
        if actions:
            self.delivered.append((now, [a.key for a in actions]))

    def catch_up(self, now: datetime) -> None:
        quiet, self.quiet = self.quiet, []
        passed = [t for t in quiet if t < now]
        if passed:
            self.late += catch_up(self.engine, self.obs.values(), self.firings, passed, **self._kw())  # type: ignore[arg-type]

    def play(self, m: Move) -> None:
        o = self.obs[m.obligation_id]
        if o.done:
            return
        event = None
        if m.verb == "acknowledge" and o.state is ObligationState.assigned:
            o.state, o.acknowledged_at, event = ObligationState.acknowledged, m.at, Event.acknowledged
        elif m.verb == "progress" and m.percent >= o.progress:
            o.state, o.progress, event = ObligationState.in_progress, m.percent, Event.progress_reported
            o.acknowledged_at = o.acknowledged_at or m.at
        elif m.verb == "complete":
            o.state, o.progress, o.completed_at = ObligationState.completed, 100, m.at
            o.acknowledged_at = o.acknowledged_at or m.at
        if event is not None:
            self.events += [(o, f) for f in self.engine.on_event(event, m.at, f"{m.obligation_id}:{m.verb}")]

    def pending(self, after: datetime) -> list[datetime]:
        return sorted({f.at for o in self.obs.values() if o.live for f in self.firings[o.id] if f.at > after})


def every_instant(unit: Unit, moves: list[Move], *, known: bool, end: datetime) -> None:
    """The unit as it was: it wakes at every firing's instant."""
    now = datetime.min.replace(tzinfo=UTC)
    todo = list(moves)
    while True:
        upcoming = unit.pending(now)
        nxt = upcoming[0] if upcoming else None
        if todo and (nxt is None or todo[0].at <= nxt):
            m = todo.pop(0)
            if known:  # a pass at the move's instant: fire, then play; its events at the next pass
                now = m.at
                unit.fire(now)
                unit.play(m)
                while todo and todo[0].at == now:
                    unit.play(todo.pop(0))
                unit.fire(now)
            else:  # an Update: handled at once; the loop wakes a debounce later
                unit.play(m)
                while todo and todo[0].at == m.at:
                    unit.play(todo.pop(0))
                now = m.at + DEBOUNCE
                while todo and todo[0].at <= now:
                    unit.play(todo.pop(0))
                unit.fire(now)
            continue
        if nxt is None or nxt > end:
            return
        now = nxt
        unit.fire(now)


def sleeping_through(unit: Unit, moves: list[Move], *, known: bool, end: datetime) -> None:
    """The unit as it is: it sleeps to the first instant that acts, catching up before changes."""
    now = datetime.min.replace(tzinfo=UTC)
    todo = list(moves)
    while True:
        unit.catch_up(now)
        unit.fire(now)
        before = todo[0].at if known and todo else None
        look = next_acting(unit.engine, unit.obs.values(), unit.firings, before=before, **unit._kw())  # type: ignore[arg-type]
        acting, unit.quiet = look.instant, look.quiet
        if look.actions is not None:  # what it would arm there is what arming alone would find
            assert look.instant is not None
            alone = ahead(unit.engine, unit.obs.values(), unit.firings, look.instant, **unit._kw())  # type: ignore[arg-type]
            assert [a for a in look.actions if armable(a)] == alone
            unit.looked += 1
        unit.slept += len(unit.quiet)
        if todo and (acting is None or todo[0].at <= acting):
            m = todo.pop(0)
            if known:
                now = m.at
                unit.catch_up(now)
                unit.fire(now)
                unit.play(m)
                while todo and todo[0].at == now:
                    unit.play(todo.pop(0))
                continue  # the next pass fires the moves' events at the same instant
            unit.catch_up(m.at)  # the Update's handler, before it changes anything
            unit.play(m)
            while todo and todo[0].at == m.at:
                unit.play(todo.pop(0))
            now = m.at + DEBOUNCE
            while todo and todo[0].at <= now:
                unit.catch_up(todo[0].at)
                unit.play(todo.pop(0))
            continue
        if acting is None or acting > end:
            return
        now = acting


ROOT = Path(__file__).resolve().parents[2]
SUIXIAN = ROOT / "plans" / "suixian-2021.yaml"
DEFAULT_RULES = ROOT / "rules" / "rulesets" / "suixian-default.yaml"


@functools.cache
def _prepared() -> CampaignInput:
    return prepare(
        load_plan(SUIXIAN), DEFAULT_RULES, campaign_id="quiet", server_now=datetime(2021, 4, 30, tzinfo=UTC), live=False
    ).input


def campaign(units: int) -> tuple[Engine, list[Obligation], dict[str, list[Firing]], CampaignContext]:
    """The 随县 plan under its default rules (whose conditions leave many instants quiet: a
    reminder to sign for work signed for, an overdue listing of work not overdue), for a few units."""
    inp = _prepared()
    ctx = inp.context
    engine = Engine(ctx.ruleset, WorkCalendar(ctx.calendar), ctx.milestones)
    obs = [Obligation(spec=s) for s in expand(inp.plan, ctx.campaign_id)]
    keep = sorted({o.spec.unit_id for o in obs})[:units]
    obs = [o for o in obs if o.spec.unit_id in keep]
    return engine, obs, {o.id: engine.firings(o, until=ctx.ends) for o in obs}, ctx


@pytest.mark.parametrize("known", [True, False], ids=["agency-played", "updates"])
def test_sleeping_through_quiet_instants_acts_as_waking_at_every_one(known: bool) -> None:
    engine, obs, firings, ctx = campaign(40)
    slept = looked = 0
    for unit in ("agriculture", "culture-tourism", "water", "huaihe", "tangxian"):
        mine = [o for o in obs if o.spec.unit_id == unit]
        theirs = {o.id: firings[o.id] for o in mine}
        end = max(f.at for fs in theirs.values() for f in fs)
        for seed in (1, 2, 3):
            moves = moves_for(mine, theirs, seed)
            woke, sleeping = Unit(engine, mine, theirs, ctx), Unit(engine, mine, theirs, ctx)
            every_instant(woke, moves, known=known, end=end)
            sleeping_through(sleeping, moves, known=known, end=end)
            assert woke.delivered, (unit, seed)  # the rules acted: not only silence
            assert sleeping.delivered == woke.delivered, (unit, seed)
            assert {k: o.model_dump() for k, o in sleeping.obs.items()} == {
                k: o.model_dump() for k, o in woke.obs.items()
            }, (unit, seed)
            assert sleeping.late == []
            slept += sleeping.slept
            looked += sleeping.looked
    assert slept > 20  # and the sleeping units did sleep through quiet instants
    assert looked > 20


def test_a_look_ahead_finds_quiet_instants_and_leaves_the_obligations_alone() -> None:
    engine, obs, firings, ctx = campaign(40)
    obs = [o for o in obs if o.spec.unit_id == "agriculture"]
    for o in obs:  # everything signed for: the reminders to sign are quiet from now on
        o.state = ObligationState.acknowledged
    before = [o.model_dump() for o in obs]
    look = next_acting(engine, obs, firings, before=None, clock=ctx.clock, office=ctx.office, convener=ctx.convener)  # type: ignore[attr-defined]
    assert [o.model_dump() for o in obs] == before
    acting, quiet = look.instant, look.quiet
    assert quiet and acting is not None and all(t < acting for t in quiet)
    assert look.actions  # what the acting instant does, decided on the way
    # Nothing due at a quiet instant acts; something due at the acting one does.
    for instant, acts in ((quiet[0], False), (acting, True)):
        copies = [o.model_copy(deep=True) for o in obs]
        due = [(o, f) for o in copies for f in firings[o.id] if f.at == instant]
        assert bool(act_on(engine, due, clock=ctx.clock, office=ctx.office, convener=ctx.convener)) is acts  # type: ignore[attr-defined]
    # With a wake-up due earlier anyway, the look stops there.
    assert next_acting(
        engine, obs, firings, before=quiet[0], clock=ctx.clock, office=ctx.office, convener=ctx.convener
    ) == Look(quiet[0], None, [])  # type: ignore[attr-defined]


def test_a_catch_up_on_changed_obligations_returns_their_actions_for_the_loop() -> None:
    """The fallback behind `UnitUpdates._late`: had the obligations changed after a look found an
    instant quiet, catching it up acts on the state as it is and hands back what it did, so the
    loop delivers it rather than losing it."""
    engine, obs, firings, ctx = campaign(40)
    obs = [o for o in obs if o.spec.unit_id == "agriculture"]
    kw = {"clock": ctx.clock, "office": ctx.office, "convener": ctx.convener}
    for o in obs:
        o.state = ObligationState.acknowledged
    look = next_acting(engine, obs, firings, before=None, **kw)  # type: ignore[arg-type]
    assert look.quiet
    for o in obs:  # back to unsigned: the reminders to sign now act at the quiet instants
        o.state = ObligationState.assigned
    late = catch_up(engine, obs, firings, look.quiet, **kw)  # type: ignore[arg-type]
    assert late and {a.rule_id for a in late} >= {"remind-to-acknowledge"}
    # And on the state the look saw, the same catch-up acts on nothing: it only marks them fired.
    for o in obs:
        o.state, o.fired = ObligationState.acknowledged, []
    assert catch_up(engine, obs, firings, look.quiet, **kw) == []  # type: ignore[arg-type]
    assert all(any(f.at in look.quiet and f.occurrence in o.fired for f in firings[o.id]) for o in obs if o.live)
