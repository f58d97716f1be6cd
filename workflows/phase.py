"""A phase of the plan: waits for its start, fans out to its units, runs its milestones."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

from models.obligation import unit_workflow_id
from models.payloads import (
    Act,
    AssessResult,
    AssessRun,
    CampaignContext,
    EngineCost,
    EvaluateRun,
    MilestoneRef,
    PhaseAmendment,
    PhaseInput,
    RulesChange,
    UnitBatchInput,
    UnitInput,
)
from models.plan import PhaseKind
from models.time import at
from workflows.common import REPORT_ACTIVITY, engine_for, own_cost, provenance, sleep_until
from workflows.starts import start_all
from workflows.unit import UnitWorkflow

RECHECK = "acceptance-recheck"
"""Patch: a failed acceptance is re-checked on the date its assess activity returned."""
FINAL_EVALUATION = "final-evaluation"
"""Patch: the evaluation phase ends with the comprehensive evaluation and its report."""
EVALUATION_HOURS = 3
"""The evaluation runs at the time of day plus this, after the annual review (plus 2)."""


class Relay:
    """A parent's running children, and the rule set they should run: a rule set installed on
    the campaign is signalled down the tree, and children started later start with it."""

    def __init__(self, ctx: CampaignContext) -> None:
        self.ctx = ctx
        self.children: list[ChildWorkflowHandle[Any, Any]] = []
        self.units: dict[str, list[str]] = {}
        """Each child's units (one for a unit workflow, many for a batch), by workflow id."""
        self.late: list[ChildWorkflowHandle[Any, Any]] = []
        """Unit workflows started for a plan amendment, after the fan-out."""
        self.fanning = False
        """A batch of children is being started (`workflows.starts`): changes wait for it."""

    async def settled(self) -> None:
        # Only waits when a fan-out is under way: histories from before batched starts handled a
        # change at once, and must replay without an extra yield.
        if self.fanning:
            await workflow.wait_condition(lambda: not self.fanning)

    def started(self, handle: ChildWorkflowHandle[Any, Any], units: list[str]) -> ChildWorkflowHandle[Any, Any]:
        self.children.append(handle)
        self.units[handle.id] = units
        return handle

    async def amend(self, change: PhaseAmendment, phase: PhaseKind) -> None:
        """A plan amendment: every running child hears of the new plan (and its own changes);
        a unit with new work and no running workflow gets one, which loads that work."""
        await self.settled()
        self.ctx = self.ctx.model_copy(update={"plan_hash": change.plan_hash})
        running: set[str] = set()
        sends = []
        for h in self.children:
            if h.done():
                continue
            mine = set(self.units[h.id])
            running |= mine
            part = change.model_copy(update={"units": {u: a for u, a in change.units.items() if u in mine}})
            sends.append(relay(h, "amend", part))
        await asyncio.gather(*sends)
        for u, a in sorted(change.units.items()):
            if u not in running and a.added:
                handle = await workflow.start_child_workflow(
                    UnitWorkflow.run,
                    UnitInput(context=self.ctx, phase=phase, unit_id=u),
                    id=unit_workflow_id(self.ctx.campaign_id, phase, u),
                    parent_close_policy=ParentClosePolicy.TERMINATE,
                )
                self.started(handle, [u])
                self.late.append(handle)

    async def install(self, change: RulesChange) -> None:
        await self.settled()
        self.ctx = self.ctx.model_copy(
            update={"ruleset": change.ruleset, "ruleset_hash": change.ruleset_hash, "rules_since": change.since}
        )
        await asyncio.gather(*(relay(h, "install_rules", change) for h in self.children if not h.done()))


async def relay(handle: ChildWorkflowHandle[Any, Any], signal: str, arg: Any) -> None:
    try:
        await handle.signal(signal, arg)
    except FailureError as e:  # it finished meanwhile: it has no future firings to change
        workflow.logger.info("not relayed", extra={"child": handle.id, "signal": signal, "error": str(e)})


async def fan_out(inp: PhaseInput | UnitBatchInput, relay: Relay) -> EngineCost:
    """Start a UnitWorkflow per unit; above `max_children` (1,000 by default), a level of
    batches in between, so no parent ever holds more pending children than that (a province:
    1,000 towns). Batches nest again if one level is not enough."""
    ctx, units = relay.ctx, inp.units
    path = inp.path if isinstance(inp, UnitBatchInput) else ""

    def unit(u: str) -> Callable[[], Awaitable[ChildWorkflowHandle[Any, Any]]]:
        async def start() -> ChildWorkflowHandle[Any, Any]:
            handle = await workflow.start_child_workflow(
                UnitWorkflow.run,
                UnitInput(context=relay.ctx, phase=inp.phase, unit_id=u),
                id=unit_workflow_id(ctx.campaign_id, inp.phase, u),
                parent_close_policy=ParentClosePolicy.TERMINATE,
            )
            return relay.started(handle, [u])

        return start

    def batch(i: int, size: int) -> Callable[[], Awaitable[ChildWorkflowHandle[Any, Any]]]:
        async def start() -> ChildWorkflowHandle[Any, Any]:
            handle = await workflow.start_child_workflow(
                UnitBatchWorkflow.run,
                UnitBatchInput(
                    context=relay.ctx, phase=inp.phase, units=units[i : i + size], path=f"{path}-{i // size:03d}"
                ),
                id=f"{ctx.campaign_id}/{inp.phase.value}/batch{path}-{i // size:03d}",
            )
            return relay.started(handle, units[i : i + size])

        return start

    if len(units) <= ctx.max_children:
        starts = [unit(u) for u in units]
    else:
        # As few batches as hold every unit, but never more than the limit either: a batch
        # still too large fans out again.
        batches = min(ctx.max_children, -(-len(units) // ctx.max_children))
        size = -(-len(units) // batches)
        starts = [batch(i, size) for i in range(0, len(units), size)]
    # While a batch of starts is out, a relayed change would miss the children not yet started:
    # signals wait for the fan-out (started children then hear it, later ones start with it).
    handles = await start_all(starts, busy=lambda b: setattr(relay, "fanning", b))
    total = EngineCost()
    for cost in await asyncio.gather(*handles):
        total = total.add(cost)
    return total


@workflow.defn
class UnitBatchWorkflow:
    def __init__(self) -> None:
        self._relay: Relay | None = None
        self._phase = PhaseKind.rollout

    @workflow.run
    async def run(self, inp: UnitBatchInput) -> EngineCost:
        self._phase = inp.phase
        self._relay = Relay(inp.context)
        cost = await fan_out(inp, self._relay)
        await workflow.wait_condition(workflow.all_handlers_finished)
        for late in await asyncio.gather(*self._relay.late):
            cost = cost.add(late)
        return own_cost(0).add(cost)

    @workflow.signal
    async def amend(self, change: PhaseAmendment) -> None:
        await workflow.wait_condition(lambda: self._relay is not None)
        assert self._relay is not None
        await self._relay.amend(change, self._phase)

    @workflow.signal
    async def install_rules(self, change: RulesChange) -> None:
        await workflow.wait_condition(lambda: self._relay is not None)
        assert self._relay is not None
        await self._relay.install(change)


@workflow.defn
class PhaseWorkflow:
    def __init__(self) -> None:
        self._activities = 0
        self._relay: Relay | None = None
        self._inp: PhaseInput | None = None
        self._fanned = False

    @workflow.run
    async def run(self, inp: PhaseInput) -> EngineCost:
        self._inp = inp
        relay = self._relay = Relay(inp.context)
        await sleep_until(relay.ctx, at(inp.start, relay.ctx.ruleset.time_of_day))
        self._fanned = True
        inp = self._inp  # with any units a plan amendment added before the phase began
        units = fan_out(inp, relay) if inp.units else _nothing()
        cost, *_ = await asyncio.gather(units, *(self._milestone(inp, m) for m in inp.milestones))
        assert isinstance(cost, EngineCost)
        if inp.phase.value == "evaluation":
            if "annual_review" not in inp.scheduled:  # else each year's is a scheduled round
                await self._assess(inp, kind="annual_review", milestone=None, on=inp.end)
            if workflow.patched(FINAL_EVALUATION):
                await self._evaluate(inp)
        await workflow.wait_condition(workflow.all_handlers_finished)
        for late in await asyncio.gather(*relay.late):
            cost = cost.add(late)
        return own_cost(self._activities).add(cost)

    @workflow.signal
    async def amend(self, change: PhaseAmendment) -> None:
        await workflow.wait_condition(lambda: self._relay is not None and self._inp is not None)
        assert self._relay is not None and self._inp is not None
        if not self._fanned:  # not begun: new units join the fan-out, the rest load from the database
            self._relay.ctx = self._relay.ctx.model_copy(update={"plan_hash": change.plan_hash})
            extra = [u for u, a in sorted(change.units.items()) if a.added and u not in self._inp.units]
            self._inp = self._inp.model_copy(update={"units": [*self._inp.units, *extra]})
            return
        await self._relay.amend(change, self._inp.phase)

    @workflow.signal
    async def install_rules(self, change: RulesChange) -> None:
        await workflow.wait_condition(lambda: self._relay is not None)
        assert self._relay is not None
        await self._relay.install(change)

    async def _milestone(self, inp: PhaseInput, m: MilestoneRef) -> None:
        """达标验收 against a milestone standard, on the first working day after it falls due."""
        calendar = engine_for(inp.context).calendar
        found = await self._assess(inp, kind="acceptance", milestone=m.id, on=calendar.shift(m.due, 1), as_of=m.due)
        # Towns that failed were ordered to rectify by the re-check date (复查): judge them again
        # then, on their scores as they stand.
        if workflow.patched(RECHECK):
            # An assess that completed before this code was deployed returned a count: no re-check.
            recheck = AssessResult.model_validate(found).recheck_on if isinstance(found, dict) else None
            if recheck is not None:
                await self._assess(inp, kind="acceptance", milestone=m.id, on=recheck, as_of=m.due, attempt=2)

    async def _assess(
        self,
        inp: PhaseInput,
        *,
        kind: str,
        milestone: str | None,
        on: date,
        as_of: date | None = None,
        attempt: int = 1,
    ) -> Any:
        """Run the assess activity at 2 hours past the rule set's time of day on `on`; its result
        as recorded (an int from before re-checks existed, else an AssessResult's fields), so the
        histories of running campaigns replay."""
        ctx = self._relay.ctx if self._relay else inp.context
        when = at(on, ctx.ruleset.time_of_day) + timedelta(hours=2)
        await sleep_until(ctx, when)
        found = await workflow.execute_activity(
            Act.assess,
            AssessRun(
                provenance=provenance(ctx),
                kind=kind,
                milestone=milestone,
                as_of=as_of or on,
                plan_time=when,
                server_time=ctx.clock.server_time(when),
                attempt=attempt,
            ),
            **REPORT_ACTIVITY,
        )
        self._activities += 1
        return found

    async def _evaluate(self, inp: PhaseInput) -> None:
        """总结评价: the activity reads the whole record itself; only ids and dates go in."""
        ctx = self._relay.ctx if self._relay else inp.context
        when = at(inp.end, ctx.ruleset.time_of_day) + timedelta(hours=EVALUATION_HOURS)
        await sleep_until(ctx, when)
        await workflow.execute_activity(
            Act.evaluate,
            EvaluateRun(
                provenance=provenance(ctx), as_of=inp.end, plan_time=when, server_time=ctx.clock.server_time(when)
            ),
            **REPORT_ACTIVITY,
        )
        self._activities += 1


async def _nothing() -> EngineCost:
    return EngineCost()
