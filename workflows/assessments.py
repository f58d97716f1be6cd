"""The plan's scheduled assessments (日常督导, 拉练检查, 年度总评 …): sleeps to each round the score
sheets schedule (rules.assessment_schedule, worked out at launch) and holds it. 达标验收 stays
with the phase that owns its milestone."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from models.payloads import Act, AssessmentsInput, AssessResult, AssessRun, EngineCost
from models.time import at
from workflows.common import REPORT_ACTIVITY, own_cost, provenance, sleep_until

SCHEDULED_ASSESSMENTS = "scheduled-assessments"
"""Patch: the campaign starts this workflow for the rounds its score sheets schedule."""
ASSESS_HOURS = 2
"""A round is held at the rule set's time of day plus this (as the milestones' are)."""


@workflow.defn
class AssessmentsWorkflow:
    @workflow.run
    async def run(self, inp: AssessmentsInput) -> EngineCost:
        ctx = inp.context
        n = 0
        for r in inp.rounds:
            when = at(r.on, ctx.ruleset.time_of_day) + timedelta(hours=ASSESS_HOURS)
            await sleep_until(ctx, when)
            await workflow.execute_activity(
                Act.assess,
                AssessRun(
                    provenance=provenance(ctx),
                    kind=r.kind.value,
                    sheet_id=r.sheet_id,
                    round=r.round,
                    since=r.since,
                    as_of=r.on,
                    plan_time=when,
                    server_time=ctx.clock.server_time(when),
                ),
                result_type=AssessResult,
                **REPORT_ACTIVITY,
            )
            n += 1
        return own_cost(n)
