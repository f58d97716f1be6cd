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
    EngineCost,
    SimulateAgency,
    SimulateResult,
    SimulateScores,
    SimulateScoresResult,
    SimulationInput,
)
from rules.obligations import expand
from rules.simulation import never_answering, schedule, score_occasions
from workflows.common import DB_ACTIVITY, engine_for, own_cost, provenance, sleep_until
from workflows.starts import start_all

SIMULATED_SCORES = "simulated-scores"
"""Patch: with the campaign's score sheets, simulated assessors score the towns."""

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
        days = schedule(
            inp.plan,
            expand(inp.plan, ctx.campaign_id),
            calendar,
            seed=inp.seed,
            silent=silent,
            until=ctx.ends,
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
        for o in score_occasions(inp.scorebook, inp.plan, engine_for(ctx).calendar):
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
                ),
                result_type=SimulateScoresResult,
                **DB_ACTIVITY,
            )
            n += 1
        return EngineCost(activities=n)
