"""The campaign: registers its obligations, runs its phases and monthly cycle, then closes."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from temporalio import workflow

from models.payloads import (
    Act,
    CampaignInput,
    CampaignResult,
    CloseCampaign,
    CurrentPlanTime,
    EngineCost,
    MilestoneRef,
    MonthlyInput,
    PhaseInput,
    RegisterCampaign,
)
from models.time import at
from rules.obligations import expand, units_by_phase
from workflows.common import DB_ACTIVITY, REPORT_ACTIVITY, own_cost, plan_now, provenance
from workflows.monthly import MonthlyWorkflow
from workflows.phase import PhaseWorkflow


@workflow.defn
class CampaignWorkflow:
    def __init__(self) -> None:
        self._inp: CampaignInput | None = None
        self._phase: str | None = None

    @workflow.run
    async def run(self, inp: CampaignInput) -> CampaignResult:
        self._inp = inp
        ctx, plan = inp.context, inp.plan
        now = plan_now(ctx)
        await workflow.execute_activity(
            Act.register_campaign,
            RegisterCampaign(
                context=ctx, plan=plan, provenance=provenance(ctx), server_time=workflow.now(), plan_time=now
            ),
            **REPORT_ACTIVITY,
        )
        units = units_by_phase(expand(plan, ctx.campaign_id))
        children = [
            workflow.execute_child_workflow(
                PhaseWorkflow.run,
                PhaseInput(
                    context=ctx,
                    phase=p.name,
                    start=p.start,
                    end=p.end,
                    units=units.get(p.name, []),
                    milestones=[MilestoneRef(id=m.id, name=m.name, due=m.due) for m in p.milestones],
                ),
                id=f"{ctx.campaign_id}/{p.name.value}",
            )
            for p in plan.phases
        ]
        first = min((p.start for p in plan.phases if p.tasks_due_at_milestones), default=plan.start)
        children.append(
            workflow.execute_child_workflow(
                MonthlyWorkflow.run,
                MonthlyInput(context=ctx, first_month=date(first.year, first.month, 1)),
                id=f"{ctx.campaign_id}/monthly",
            )
        )
        cost = EngineCost()
        for c in await asyncio.gather(*children):
            cost = cost.add(c)
        end = at(ctx.ends + timedelta(days=1), "00:00")
        cost = cost.add(own_cost(1))
        result: CampaignResult = await workflow.execute_activity(
            Act.close_campaign,
            CloseCampaign(
                provenance=provenance(ctx),
                plan_time=end,
                server_time=ctx.clock.server_time(end),
                cost=cost,
            ),
            result_type=CampaignResult,
            **DB_ACTIVITY,
        )
        return result

    @workflow.query
    def now(self) -> CurrentPlanTime:
        assert self._inp is not None
        return CurrentPlanTime(plan_time=plan_now(self._inp.context))
