"""A timer storm: every town's 基础型 deadline falling at one instant, beside the raw engine's
plain timers falling at one instant, on the same dev server and worker (issue 16).

The dev server runs in real time, so the instant is made a near-future wall-clock time with the
campaign clock's drill speed (`Clock.speed`, N plan seconds per server second, as
`duban launch --speed` runs a drill): the campaign is launched at plan date `STORM_FROM`, the
day before the 基础型 milestone's 到期前催办 (remind-before-due, 3 working days before 2021-12-31:
2021-12-28 09:00), with a speed that puts that instant `lead` seconds after the launch.

Its rule set is the 随县 default's `remind-before-due` alone, to the in-app inbox only, and no
launch grace (grace would move every deadline within 10 working days of the launch): nothing
but the storm fires between the launch and the instant. Lag is read from the database: each
inbox row's showing less its `server_time` (the firing's due instant on the server's clock) —
its `created_at` (PostgreSQL's `now()`, the writing transaction's start), or for a reminder
armed ahead (`rules.arming`) its `visible_from` if later — and, beside it, the engine's own
delivery at the instant (the row's writing, or the armed row's `confirmed_at`), which is when
the chain records it. The raw engine's lag is each TimerFired event's server time less the due
instant.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities.bulletin_timing import bulletin_steps
from activities.store.bench import bulletin_plans, inbox_lags, inbox_rows
from models.payloads import CampaignInput
from models.plan import PhaseKind, Plan
from models.ruleset import Channel, Launch, RuleSet
from models.time import at
from rules.calendar import WorkCalendar
from rules.engine import Engine
from rules.obligations import expand
from services.bench.engine import median, percentile, raw_storm
from services.plans import DEFAULT_RULES, load_ruleset, prepare

STORM_FROM = date(2021, 12, 27)
STORM_RULE = "remind-before-due"
BULLETIN_MONTH, BULLETIN_AS_OF = date(2021, 12, 1), date(2022, 1, 6)
"""December's 通报, published on January's 3rd working day."""

Launcher = Callable[[Client, CampaignInput, PhaseKind, list[str], float], Awaitable[tuple[float, float]]]


class StormResult(BaseModel):
    """Seconds unless named otherwise."""

    firings: int
    """Inbox rows due at the instant (worked out from the plan and rule set)."""
    rows: int
    """Inbox rows found."""
    speed: int
    lead: float
    """Launch to the instant."""
    ready: float
    """Launch until every rollout unit workflow had set its first timer: must be under `lead`."""
    p50: float
    p99: float
    max: float
    """Due → the row in its recipient's inbox (shown: written, or armed ahead and its instant come)."""
    armed: int = 0
    """Rows armed ahead of the instant (`rules.arming`; `DUBAN_ARM_AHEAD_SECONDS=0`: none)."""
    confirmed_p50: float = 0.0
    confirmed_p99: float = 0.0
    confirmed_max: float = 0.0
    """Due → the engine's delivery at the instant (the chain's record), armed or not."""
    raw_timers: int
    raw_lead: float
    raw_p50: float
    raw_p99: float
    raw_max: float
    bulletin: dict[str, float] = {}
    """December's 通报 of the storm campaign after the storm (every town, its 基础型 work overdue),
    step by step in seconds (`activities.bulletin_timing`), with its obligations and overdue."""
    bulletin_indexes: dict[str, list[str]] = {}
    """The indexes the 通报's queries scan (`activities.store.bench.bulletin_plans`)."""


def storm_rules(plan: Plan) -> RuleSet:
    """The default rule set's remind-before-due alone, inbox only, with no launch grace."""
    rules = load_ruleset(DEFAULT_RULES, plan)
    rule = next(r for r in rules.rules if r.id == STORM_RULE)
    rule = rule.model_copy(update={"action": rule.action.model_copy(update={"channels": (Channel.inbox,)})})
    return rules.model_copy(update={"id": "province-storm", "rules": (rule,), "launch": Launch(grace_working_days=0)})


def storm_plan(plan: Plan) -> Plan:
    """The province with its rollout beginning at the storm's launch: a campaign launched later
    than its plan's start catches up on the monthly cycles it missed, at once (at 200 towns seven
    通报 of ~21 s each, rendering on the worker's CPU until past the instant)."""
    phases = tuple(
        p.model_copy(update={"start": STORM_FROM}) if p.name is PhaseKind.rollout else p for p in plan.phases
    )
    return plan.model_copy(update={"phases": phases})


def busiest_instant(inp: CampaignInput, plan: Plan, after: datetime) -> tuple[datetime, int]:
    """The plan instant after `after` at which most firings fall, and how many."""
    ctx = inp.context
    engine = Engine(ctx.ruleset, WorkCalendar(ctx.calendar), ctx.milestones)
    count = Counter(
        f.at for o in expand(plan, ctx.campaign_id) for f in engine.firings(o, until=ctx.ends) if f.at > after
    )
    instant, n = count.most_common(1)[0]
    return instant, n


async def storm(
    client: Client,
    db: AsyncEngine,
    plan: Plan,
    units: list[str],
    *,
    lead: float,
    raw_lead: float,
    timers: int,
    limit: float,
    launch: Launcher,
    arm_ahead_seconds: int = 0,
) -> StormResult:
    rules = storm_rules(plan)
    plan = storm_plan(plan)
    cid = f"{plan.id}-storm-{uuid.uuid4().hex[:6]}"
    launched = at(STORM_FROM, rules.time_of_day)
    probe = prepare(plan, rules, campaign_id=cid, server_now=datetime.now(UTC), live=False, plan_from=STORM_FROM)
    instant, firings = busiest_instant(probe.input, plan, launched)
    speed = max(1, int((instant - launched).total_seconds() // lead))
    inp = prepare(
        plan,
        rules,
        campaign_id=cid,
        server_now=datetime.now(UTC),
        live=False,
        speed=speed,
        plan_from=STORM_FROM,
        arm_ahead_seconds=arm_ahead_seconds,
    ).input
    due = inp.context.clock.server_time(instant)
    _, ready = await launch(client, inp, PhaseKind.rollout, units, limit)
    await asyncio.sleep(max(0.0, due.timestamp() - time.time()))
    deadline = time.time() + limit
    while True:  # rows are written by the worker, in another process: polled
        rows = await inbox_rows(db, cid, STORM_RULE)
        if rows >= firings or time.time() > deadline:
            break
        await asyncio.sleep(1)
    lags = await inbox_lags(db, cid, STORM_RULE)
    shown, confirmed = lags.shown or [float("nan")], lags.confirmed or [float("nan")]
    raw = await raw_storm(client, workflows=max(1, firings // timers), timers=timers, lead=raw_lead, limit=limit)
    bulletin = await bulletin_steps(db, cid, month=BULLETIN_MONTH, as_of=BULLETIN_AS_OF)
    indexes = await bulletin_plans(db, cid, BULLETIN_MONTH)
    return StormResult(
        firings=firings,
        rows=rows,
        speed=speed,
        lead=due.timestamp() - (inp.context.clock.anchor or due).timestamp(),
        ready=ready,
        p50=median(shown),
        p99=percentile(shown, 99),
        max=max(shown),
        armed=lags.armed,
        confirmed_p50=median(confirmed),
        confirmed_p99=percentile(confirmed, 99),
        confirmed_max=max(confirmed),
        raw_timers=len(raw),
        raw_lead=raw_lead,
        raw_p50=median(raw),
        raw_p99=percentile(raw, 99),
        raw_max=max(raw),
        bulletin=bulletin,
        bulletin_indexes=indexes,
    )
