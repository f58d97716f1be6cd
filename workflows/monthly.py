"""月度对账 → 通报 → 责令整改: once a month, on the rule set's Nth working day."""

from __future__ import annotations

from datetime import date, timedelta

from temporalio import workflow

from models.payloads import Act, CampaignContext, EngineCost, MonthlyInput, MonthlyResult, MonthlyRun, RulesChange
from models.time import at
from workflows.common import REPORT_ACTIVITY, engine_for, own_cost, provenance, sleep_until

MONTHS_PER_RUN = 12
"""Continue as new yearly: the loop is long-lived, its history need not be."""


def next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


@workflow.defn
class MonthlyWorkflow:
    def __init__(self) -> None:
        self._ctx: CampaignContext | None = None

    @workflow.signal
    def install_rules(self, change: RulesChange) -> None:
        """The installed rule set's monthly settings apply from the next cycle on."""
        if self._ctx is not None:
            self._ctx = self._ctx.model_copy(
                update={"ruleset": change.ruleset, "ruleset_hash": change.ruleset_hash, "rules_since": change.since}
            )

    @workflow.run
    async def run(self, inp: MonthlyInput) -> EngineCost:
        self._ctx = ctx = inp.context
        calendar = engine_for(ctx).calendar
        month = inp.first_month
        for _ in range(inp.months_done):
            month = next_month(month)
        activities = 0
        done = inp.months_done
        # Each month's record is reconciled and published early the next month, while the
        # campaign runs; the final month is the evaluation's.
        while next_month(month) <= ctx.ends:
            ctx = self._ctx
            monthly = ctx.ruleset.monthly
            publish = next_month(month)
            day = calendar.shift(publish - timedelta(days=1), monthly.working_day)
            when = at(day, ctx.ruleset.time_of_day) + timedelta(hours=1)
            await sleep_until(ctx, when)
            await workflow.execute_activity(
                Act.monthly_cycle,
                MonthlyRun(
                    provenance=provenance(ctx),
                    month=month,
                    plan_time=when,
                    server_time=ctx.clock.server_time(when),
                    rectify_if_overdue_at_least=monthly.rectify_if_overdue_at_least,
                    rectification_due=calendar.shift(day, monthly.rectification_working_days),
                ),
                result_type=MonthlyResult,
                **REPORT_ACTIVITY,
            )
            activities += 1
            done += 1
            month = publish
            if done % MONTHS_PER_RUN == 0 and next_month(month) <= ctx.ends:
                workflow.continue_as_new(
                    MonthlyInput(
                        context=self._ctx,
                        first_month=inp.first_month,
                        months_done=done,
                        cost=own_cost(activities, inp.cost).add(EngineCost(continued_as_new=1)),
                    )
                )
        return own_cost(activities, inp.cost)
