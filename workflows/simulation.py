"""Rehearsal only: simulated agencies that sign, report and complete through the real Updates."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ChildWorkflowHandle

from models.payloads import (
    Act,
    AgencyDay,
    AgencyInput,
    DeskResult,
    EngineCost,
    SimulateAgency,
    SimulateDesk,
    SimulateResult,
    SimulateScores,
    SimulateScoresResult,
    SimulationInput,
)
from models.time import CST, at
from rules.assessment_schedule import scheduled_rounds
from rules.obligations import expand
from rules.simulation import DESK_TIME, desk_days, never_answering, notice_after, schedule, score_occasions
from workflows.common import AGENCY_IN_UNIT_PATCH, DB_ACTIVITY, engine_for, own_cost, provenance, sleep_until
from workflows.starts import start_all

SIMULATED_SCORES = "simulated-scores"
"""Patch: with the campaign's score sheets, simulated assessors score the towns."""
SCHEDULED_SCORES = "simulated-scheduled-scores"
"""Patch: simulated assessors also score each round the score sheets schedule."""
SIMULATED_ANSWERS = "simulated-answers"
"""Patch: units answer their notices and orders, and the office reviews the orders' reports."""

# The agency's unit workflow may still be starting when its first move comes due: retry
# quickly for a while, then give the move up (a simulated agency that gives up is realistic).
AGENCY: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=60),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=20),
}


@workflow.defn
class AgencyWorkflow:
    @workflow.run
    async def run(self, inp: AgencyInput) -> EngineCost:
        n = 0
        for day in inp.days:
            await sleep_until(inp.context, day.plan_time)
            await workflow.execute_activity(
                Act.simulate_agency,
                SimulateAgency(
                    workflow_id=inp.workflow_id, unit_id=inp.unit_id, moves=day.moves, plan_time=day.plan_time
                ),
                result_type=SimulateResult,
                **AGENCY,
            )
            n += 1
        return own_cost(n)


@workflow.defn
class SimulationWorkflow:
    @workflow.run
    async def run(self, inp: SimulationInput) -> EngineCost:
        ctx = inp.context
        calendar = engine_for(ctx).calendar
        silent = never_answering(inp.plan, inp.seed, inp.never_answering)
        answers = inp.answers and workflow.patched(SIMULATED_ANSWERS)
        # Since AGENCY_IN_UNIT_PATCH a rehearsal's unit workflows act their agencies themselves.
        in_units = ctx.agencies is not None and workflow.patched(AGENCY_IN_UNIT_PATCH)
        days = (
            {}
            if in_units
            else schedule(
                inp.plan,
                expand(inp.plan, ctx.campaign_id, grace_until=ctx.grace_until),
                calendar,
                seed=inp.seed,
                silent=silent,
                until=ctx.ends,
                notice_after=notice_after(ctx.ruleset) if answers else None,
            )
        )

        def agency(wf: str, d: list[AgencyDay]) -> Callable[[], Awaitable[ChildWorkflowHandle[Any, Any]]]:
            return lambda: workflow.start_child_workflow(
                AgencyWorkflow.run,
                AgencyInput(context=ctx, workflow_id=wf, unit_id=wf.split("/")[2], days=d),
                id=f"{wf}/agency",
            )

        # An agency's input holds its whole schedule (up to ~26 KB in the 随县 rehearsal): smaller batches.
        handles = await start_all([agency(wf, d) for wf, d in days.items()], batch=50)
        scoring = []
        if inp.scorebook is not None and workflow.patched(SIMULATED_SCORES):
            scoring.append(self._assessors(inp, silent))
        if answers:
            scoring.append(self._desk(inp, silent))
        cost = own_cost(0)
        for c in await asyncio.gather(*handles, *scoring):
            cost = cost.add(c)
        return cost

    async def _assessors(self, inp: SimulationInput, silent: list[str]) -> EngineCost:
        """Score the towns on each scoring day of the campaign's sheets, through the same store
        as scores entered by hand, before the assessments that read them."""
        ctx = inp.context
        assert inp.scorebook is not None
        n = 0
        calendar = engine_for(ctx).calendar
        # The scheduled rounds' scores (日常督导's sample each month, 拉练检查, each 年度总评).
        rounds = scheduled_rounds(inp.scorebook, inp.plan, calendar) if workflow.patched(SCHEDULED_SCORES) else []
        for o in score_occasions(inp.scorebook, inp.plan, calendar, rounds):
            await sleep_until(ctx, o.plan_time)
            await workflow.execute_activity(
                Act.simulate_scores,
                SimulateScores(
                    provenance=provenance(ctx),
                    sheet_id=o.sheet_id,
                    on=o.on,
                    recheck=o.recheck,
                    seed=inp.seed,
                    silent=silent,
                    misses=inp.misses[o.milestone] if o.milestone is not None and o.milestone in inp.misses else None,
                    plan_time=o.plan_time,
                    server_time=ctx.clock.server_time(o.plan_time),
                    round=o.round,
                ),
                result_type=SimulateScoresResult,
                **DB_ACTIVITY,
            )
            n += 1
        return EngineCost(activities=n)

    async def _desk(self, inp: SimulationInput, silent: list[str]) -> EngineCost:
        """Every few working days (the agencies' rhythm), units report on their 责令整改 and the office
        reviews the reports, as `rules.simulated_answers` has them, through the orders' Updates."""
        ctx = inp.context
        calendar = engine_for(ctx).calendar
        n = 0
        for d in desk_days(calendar, ctx.clock.plan_time(workflow.now()).astimezone(CST).date(), ctx.ends):
            when = at(d, DESK_TIME)
            await sleep_until(ctx, when)
            await workflow.execute_activity(
                Act.simulate_desk,
                SimulateDesk(
                    campaign_id=ctx.campaign_id, office=ctx.office, seed=inp.seed, silent=silent, plan_time=when
                ),
                result_type=DeskResult,
                **AGENCY,
            )
            n += 1
        return EngineCost(activities=n)
