"""月度对账 → 通报 → 责令整改: once a month, on the rule set's Nth working day."""

from __future__ import annotations

from datetime import date, timedelta

from temporalio import workflow

from models.payloads import Act, CampaignContext, EngineCost, MonthlyInput, MonthlyResult, MonthlyRun, RulesChange
from models.rectification import RectificationOrder
from models.time import at
from rules.bulletins import bulletins_done
from workflows.common import REPORT_ACTIVITY, engine_for, own_cost, provenance, sleep_until
from workflows.orders import PER_UNIT_PATCH, RECTIFY_PATCH, start_orders
from workflows.pokes import POKE_PATCH, poke

STOP_WHEN_CLOSED_PATCH = "bulletins-stop-when-closed"
"""Before it, bulletins went on to the plan's end after all work was closed."""

MONTHS_PER_RUN = 12
"""Continue as new yearly: the loop is long-lived, its history need not be."""


def next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


@workflow.defn
class MonthlyWorkflow:
    def __init__(self) -> None:
        self._ctx: CampaignContext | None = None
        self._orders_started = 0
        """Rectification workflows started by this run: at most max_children, then continue as new."""

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
        waiting: list[RectificationOrder] = []
        if inp.orders_waiting and workflow.patched(RECTIFY_PATCH):
            waiting = await self._follow(ctx, inp.orders_waiting)
        # Each month's record is reconciled and published early the next month, while the
        # campaign runs; the final month is the evaluation's.
        closed = inp.closed
        while not closed and next_month(month) <= ctx.ends:
            ctx = self._ctx
            monthly = ctx.ruleset.monthly
            publish = next_month(month)
            day = calendar.shift(publish - timedelta(days=1), monthly.working_day)
            when = at(day, ctx.ruleset.time_of_day) + timedelta(hours=1)
            await sleep_until(ctx, when)
            per_unit = workflow.patched(PER_UNIT_PATCH)
            result = await workflow.execute_activity(
                Act.monthly_cycle,
                MonthlyRun(
                    provenance=provenance(ctx),
                    month=month,
                    plan_time=when,
                    server_time=ctx.clock.server_time(when),
                    rectify_if_overdue_at_least=monthly.rectify_if_overdue_at_least,
                    rectification_due=calendar.shift(day, monthly.rectification_working_days),
                    per_unit=per_unit,
                ),
                result_type=MonthlyResult,
                **REPORT_ACTIVITY,
            )
            activities += 1
            done += 1
            month = publish
            if ctx.push and result.orders and workflow.patched(POKE_PATCH):  # the orders' pushes
                await poke(ctx)
            if result.orders and workflow.patched(RECTIFY_PATCH):
                waiting = await self._follow(ctx, [*waiting, *result.orders])
            # The month in which the last obligation closed had its bulletin; no more after it.
            closed = bulletins_done(result.open_obligations) and workflow.patched(STOP_WHEN_CLOSED_PATCH)
            if waiting or (not closed and done % MONTHS_PER_RUN == 0 and next_month(month) <= ctx.ends):
                self._continue(inp, done, activities, waiting, closed=closed)
        if waiting:  # the last month's orders beyond this run's child limit
            self._continue(inp, done, activities, waiting, closed=closed)
        return own_cost(activities, inp.cost)

    async def _follow(self, ctx: CampaignContext, orders: list[RectificationOrder]) -> list[RectificationOrder]:
        """Start the orders' workflows in the order issued, as many as this run may; the rest wait."""
        taken = await start_orders(ctx, orders, budget=ctx.max_children - self._orders_started)
        self._orders_started += taken
        return orders[taken:]

    def _continue(
        self, inp: MonthlyInput, done: int, activities: int, waiting: list[RectificationOrder], *, closed: bool = False
    ) -> None:
        workflow.continue_as_new(
            MonthlyInput(
                context=self._ctx,
                first_month=inp.first_month,
                months_done=done,
                cost=own_cost(activities, inp.cost).add(EngineCost(continued_as_new=1)),
                orders_waiting=waiting,
                closed=closed,
            )
        )
