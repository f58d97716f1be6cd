"""The campaign: registers its obligations, runs its phases and monthly cycle, then closes."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.workflow import ChildWorkflowHandle

from models.assessment_schedule import Occasion
from models.payloads import (
    Act,
    AmendPlan,
    AssessmentsInput,
    CampaignContext,
    CampaignInput,
    CampaignResult,
    CloseCampaign,
    CurrentPlanTime,
    EngineCost,
    InstallRules,
    MilestoneRef,
    MonthlyInput,
    PhaseAmendment,
    PhaseInput,
    PlanAmended,
    PlanDiff,
    RecordAmendment,
    RecordRules,
    RegisterCampaign,
    RulesChange,
    RulesInstalled,
)
from models.ruleset import RuleSet
from models.time import at
from rules.amend import AmendmentError, diff
from rules.assessment_schedule import scheduled_rounds
from rules.engine import RuleError
from rules.loading import SourceError, parse_ruleset, proven
from rules.obligations import expand, units_by_phase
from workflows.assessments import SCHEDULED_ASSESSMENTS, AssessmentsWorkflow
from workflows.common import DB_ACTIVITY, REPORT_ACTIVITY, engine_for, own_cost, plan_now, provenance
from workflows.dispatch import DISPATCH_PATCH, finish_dispatch, start_dispatch
from workflows.monthly import MonthlyWorkflow
from workflows.phase import PhaseWorkflow, relay


@workflow.defn
class CampaignWorkflow:
    def __init__(self) -> None:
        self._inp: CampaignInput | None = None
        self._phase: str | None = None
        self._ctx: CampaignContext | None = None
        self._children: list[ChildWorkflowHandle[Any, Any]] = []

    @workflow.run
    async def run(self, inp: CampaignInput) -> CampaignResult:
        self._inp = inp
        self._ctx = ctx = inp.context
        plan = inp.plan
        now = plan_now(ctx)
        await workflow.execute_activity(
            Act.register_campaign,
            RegisterCampaign(
                context=ctx,
                plan=plan,
                provenance=provenance(ctx),
                server_time=workflow.now(),
                plan_time=now,
                scorebook=inp.scorebook,
            ),
            **REPORT_ACTIVITY,
        )
        # Pushes (e-mail, webhook) are sent by a loop of their own, for campaigns launched with them.
        dispatch = await start_dispatch(ctx) if ctx.push and workflow.patched(DISPATCH_PATCH) else None
        # Worked out at launch: a province's expansion would overrun the workflow task's deadline.
        units = inp.phase_units if inp.phase_units is not None else units_by_phase(expand(plan, ctx.campaign_id))
        # The rounds the score sheets schedule (日常督导, 拉练检查, 年度总评 …), held by a child of
        # their own; campaigns started before it hold only the milestones and the final review.
        rounds: list[Occasion] = []
        if inp.scorebook is not None and workflow.patched(SCHEDULED_ASSESSMENTS):
            rounds = scheduled_rounds(inp.scorebook, plan, engine_for(ctx).calendar)
        scheduled = sorted({r.kind.value for r in rounds})
        children = [
            self._start(
                PhaseWorkflow.run,
                PhaseInput(
                    context=ctx,
                    phase=p.name,
                    start=p.start,
                    end=p.end,
                    units=units.get(p.name, []),
                    milestones=[MilestoneRef(id=m.id, name=m.name, due=m.due) for m in p.milestones],
                    scheduled=scheduled,
                ),
                id=f"{ctx.campaign_id}/{p.name.value}",
            )
            for p in plan.phases
        ]
        if rounds:
            children.append(
                self._start(
                    AssessmentsWorkflow.run,
                    AssessmentsInput(context=ctx, rounds=rounds),
                    id=f"{ctx.campaign_id}/assessments",
                )
            )
        first = min((p.start for p in plan.phases if p.tasks_due_at_milestones), default=plan.start)
        children.append(
            self._start(
                MonthlyWorkflow.run,
                MonthlyInput(context=ctx, first_month=date(first.year, first.month, 1)),
                id=f"{ctx.campaign_id}/monthly",
            )
        )
        cost = EngineCost()
        for c in await asyncio.gather(*children):
            cost = cost.add(c)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if dispatch is not None:
            cost = cost.add(await finish_dispatch(dispatch))
        ctx = self._ctx
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

    async def _start(self, run: Any, arg: Any, *, id: str) -> Any:
        handle = await workflow.start_child_workflow(run, arg, id=id)
        self._children.append(handle)
        return await handle

    # -- rules install: a validated Update ---------------------------------------------------------

    def _parse(self, req: InstallRules) -> RuleSet:
        assert self._inp is not None and self._ctx is not None
        if req.ruleset is not None:
            ruleset = req.ruleset
            try:
                proven(ruleset, self._inp.plan)
            except RuleError as e:
                raise ValueError(f"{req.path}: {e}") from None
        else:
            # Only replays reach this: the validator refuses text (see `_v_install_rules`).
            try:
                ruleset = parse_ruleset(req.text, path=req.path, plan=self._inp.plan)
            except SourceError as e:
                raise ValueError(str(e)) from None
        if ruleset.digest() == self._ctx.ruleset_hash:
            raise ValueError(f"{req.path}: rule set {ruleset.id} v{ruleset.version} is already in force")
        return ruleset

    @workflow.update
    async def install_rules(self, req: InstallRules) -> RulesInstalled:
        """A new rule set for the rest of the campaign: recorded, then passed down the tree."""
        assert self._ctx is not None
        ruleset = self._parse(req)
        previous = self._ctx.ruleset_hash
        now = workflow.now()
        change = RulesChange(ruleset=ruleset, ruleset_hash=ruleset.digest(), since=self._ctx.clock.plan_time(now))
        self._ctx = self._ctx.model_copy(
            update={"ruleset": ruleset, "ruleset_hash": change.ruleset_hash, "rules_since": change.since}
        )
        await workflow.execute_activity(
            Act.record_rules,
            RecordRules(
                provenance=provenance(self._ctx),
                change=change,
                previous_hash=previous,
                actor=req.actor,
                account=req.account,
                plan_time=change.since,
                server_time=now,
            ),
            **DB_ACTIVITY,
        )
        await asyncio.gather(*(relay(h, "install_rules", change) for h in self._children if not h.done()))
        return RulesInstalled(
            ruleset_id=ruleset.id,
            version=ruleset.version,
            ruleset_hash=change.ruleset_hash,
            previous_hash=previous,
            since=change.since,
        )

    @install_rules.validator
    def _v_install_rules(self, req: InstallRules) -> None:
        """Refused before it enters history: a rule set that does not parse, whose conditions
        do not compile, or that names a role or milestone the plan lacks changes nothing."""
        if self._ctx is None:
            raise ValueError("the campaign is still starting: try again in a moment")
        if req.ruleset is None:
            # Never parsed here: a 405-byte YAML bomb once took this thread for seconds and the
            # worker's memory to 1.5 GB. The service reads the file (within bounds) and sends
            # the rule set; text is refused by its size alone, without being looked at.
            raise ValueError(
                f"{req.path}: refused: the campaign takes a rule set read and checked by "
                f"`duban rules install`, not YAML text ({len(req.text):,} characters sent)"
            )
        self._parse(req)

    # -- plan amendments: a validated Update -------------------------------------------------------

    def _diff(self, req: AmendPlan) -> PlanDiff:
        assert self._inp is not None and self._ctx is not None
        try:
            found = diff(self._inp.plan, req.plan, self._ctx.campaign_id, today=plan_now(self._ctx).date())
        except AmendmentError as e:
            raise ValueError(f"{req.path}: {e}") from None
        if found.is_empty() and req.plan.digest() == self._ctx.plan_hash:
            raise ValueError(f"{req.path}: the plan is unchanged")
        return found

    @workflow.update
    async def amend_plan(self, req: AmendPlan) -> PlanAmended:
        """The office amends the running plan: obligations added, withdrawn, moved or handed to
        another lead, recorded with before and after, then passed down to the units."""
        assert self._inp is not None and self._ctx is not None
        found = self._diff(req)
        previous = self._ctx.plan_hash
        now = workflow.now()
        at_plan = self._ctx.clock.plan_time(now)
        new_hash = req.plan.digest()
        await workflow.execute_activity(
            Act.record_amendment,
            RecordAmendment(
                provenance=provenance(self._ctx).model_copy(update={"plan_hash": new_hash}),
                plan=req.plan,
                previous_hash=previous,
                diff=found,
                actor=req.actor,
                account=req.account,
                plan_time=at_plan,
                server_time=now,
            ),
            **REPORT_ACTIVITY,
        )
        self._inp = self._inp.model_copy(update={"plan": req.plan})
        self._ctx = self._ctx.model_copy(update={"plan_hash": new_hash})
        phases = {f"{self._ctx.campaign_id}/{p.name.value}": p.name.value for p in req.plan.phases}
        await asyncio.gather(
            *(
                relay(
                    h, "amend", PhaseAmendment(plan_hash=new_hash, units=found.units.get(phases[h.id], {}), at=at_plan)
                )
                for h in self._children
                if h.id in phases and not h.done()
            )
        )
        return PlanAmended(plan_hash=new_hash, previous_hash=previous, counts=found.counts(), at=at_plan)

    @amend_plan.validator
    def _v_amend_plan(self, req: AmendPlan) -> None:
        if self._ctx is None:
            raise ValueError("the campaign is still starting: try again in a moment")
        self._diff(req)

    @workflow.query
    def now(self) -> CurrentPlanTime:
        assert self._inp is not None
        return CurrentPlanTime(plan_time=plan_now(self._inp.context))
