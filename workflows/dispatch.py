"""The dispatch loop: sends a campaign's queued e-mail and webhook pushes, as they fall due.

`deliver`, `monthly_cycle` and the rectification steps queue pushes in the ledger (held by quiet
hours); the workflows that ran them `poke` this one, which calls the `dispatch` activity, sleeps
until the earliest push still held (`next_not_before`), and calls again while anything is pending.
With nothing pending it waits for the next poke (and looks once a month anyway, in case a producer
did not poke). A call that failed pushes or found one uncertain is told to the office (an inbox
row and an audit row naming the channels), so a channel that is down is seen, not only logged.

It runs only for campaigns launched with pushes (`CampaignContext.push`), as the campaign's child
`CAMPAIGN/dispatch`. The campaign signals `campaign_closed` when its work is done; the loop then
sends what is still pending and ends. Only that signal ends it (patch `dispatch-until-closed`; before
it, the loop also ended a grace period after the campaign's last day); if the campaign fails, the
loop goes with it. A producer that outlives the loop (a rectification order's last look) finds the
poke refused and calls `dispatch` itself (patch `dispatch-by-producer`).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError
from temporalio.workflow import ChildWorkflowHandle

from models.delivery import DispatchRequest, DispatchResult
from models.payloads import Act, CampaignContext, DispatchAlert, DispatchInput, EngineCost
from models.time import at
from workflows.common import DB_ACTIVITY, DISPATCH_ACTIVITY, HISTORY_LIMIT, own_cost, provenance
from workflows.pokes import POKE_PATCH, dispatch_workflow_id, poke, pushes, send_here

__all__ = ["POKE_PATCH", "DispatchWorkflow", "dispatch_workflow_id", "poke", "pushes", "send_here"]

DISPATCH_PATCH = "campaign-dispatch-loop"
"""CampaignWorkflow starts the loop (campaigns launched with pushes only)."""
DRAIN_PATCH = "dispatch-drain"
"""The loop sends what is pending even past the grace period."""
UNTIL_CLOSED_PATCH = "dispatch-until-closed"
"""Past the grace period the loop goes on until the campaign says it has closed."""
GRACE = timedelta(days=10)
"""After the campaign's last day: covers the longest official holiday (国庆, 7 days) and more."""
IDLE_LOOK = timedelta(days=30)
"""With nothing pending and no poke, look anyway after this long (plan time)."""
CALLS_PER_RUN = 500
"""Continue as new after this many dispatch calls (a few events each), well below the history limit."""


async def start_dispatch(ctx: CampaignContext) -> ChildWorkflowHandle[DispatchWorkflow, EngineCost]:
    return await workflow.start_child_workflow(
        DispatchWorkflow.run, DispatchInput(context=ctx), id=dispatch_workflow_id(ctx.campaign_id)
    )


async def finish_dispatch(handle: ChildWorkflowHandle[DispatchWorkflow, EngineCost]) -> EngineCost:
    """Tell the loop the campaign is done; wait for it to send what is pending and end."""
    try:
        await handle.signal(DispatchWorkflow.campaign_closed)
    except FailureError as e:  # it ended on its own (past the grace period): nothing to tell
        workflow.logger.info("dispatch loop already ended", extra={"error": str(e)})
    return await handle


@workflow.defn
class DispatchWorkflow:
    def __init__(self) -> None:
        self._poked = False
        self._closing = False

    @workflow.signal
    def poke(self) -> None:
        self._poked = True

    @workflow.signal
    def campaign_closed(self) -> None:
        self._closing = True

    @workflow.run
    async def run(self, inp: DispatchInput) -> EngineCost:
        ctx = inp.context
        self._closing = self._closing or inp.closing
        tally = inp.tally.model_copy(deep=True)
        activities = 0
        stop = ctx.clock.server_time(at(ctx.ends + timedelta(days=1), "00:00")) + ctx.clock.server_duration(GRACE)
        while True:
            self._poked = False
            now = workflow.now()
            result: DispatchResult = await workflow.execute_activity(
                Act.dispatch,
                DispatchRequest(campaign_id=ctx.campaign_id, as_of=now),
                result_type=DispatchResult,
                **DISPATCH_ACTIVITY,
            )
            activities += 1
            tally.calls += 1
            tally.sent += result.sent
            tally.uncertain += result.uncertain
            for ch, n in result.failed_by_channel.items():
                tally.failed_by_channel[ch] = tally.failed_by_channel.get(ch, 0) + n
            if result.failed_by_channel or result.uncertain:
                await self._alert(ctx, result, tally.calls)
                activities += 1
                tally.alerts += 1
            if result.more:
                continue
            if self._closing and not result.pending:
                break
            # Past the grace period the loop still drains what is pending: each push has its own
            # bounded retry schedule (server time, up to DUBAN_DELIVERY_MAX_ATTEMPTS), so this ends.
            # Without it, a campaign held up past its grace (a fault drill's fast clock: workers
            # killed, the database down) left 899 pushes pending for good when the loop stopped.
            # Past the grace period only the campaign's own word ends the loop: a campaign held up
            # past its grace by faults still makes pushes (the fault drill: 8,773 left pending, made
            # after the loop had drained and stopped). The loop dies with the campaign if it fails.
            if (
                workflow.now() >= stop
                and not workflow.patched(UNTIL_CLOSED_PATCH)
                and not (result.pending and workflow.patched(DRAIN_PATCH))
            ):
                break
            if tally.calls % CALLS_PER_RUN == 0 or workflow.info().get_current_history_length() > HISTORY_LIMIT:
                workflow.continue_as_new(
                    DispatchInput(
                        context=ctx,
                        closing=self._closing,
                        tally=tally,
                        cost=own_cost(activities, inp.cost).add(EngineCost(continued_as_new=1)),
                    )
                )
            wake = now + ctx.clock.server_duration(IDLE_LOOK)
            if result.next_not_before is not None:
                wake = min(wake, result.next_not_before)
            if workflow.now() < stop:
                wake = min(wake, stop)
            if wake > workflow.now():
                with contextlib.suppress(TimeoutError):  # a poke, the campaign closing, or the time
                    await workflow.wait_condition(
                        lambda was=self._closing: self._poked or self._closing != was,  # type: ignore[misc]
                        timeout=wake - workflow.now(),
                    )
        workflow.logger.info("dispatch loop done", extra={"campaign": ctx.campaign_id, **tally.model_dump()})
        return own_cost(activities, inp.cost)

    async def _alert(self, ctx: CampaignContext, result: DispatchResult, call: int) -> None:
        plan_time = ctx.clock.plan_time(workflow.now())
        await workflow.execute_activity(
            Act.dispatch_alert,
            DispatchAlert(
                provenance=provenance(ctx),
                key=f"{ctx.campaign_id}#dispatch-alert#{workflow.info().run_id}#{call}",
                office=ctx.office,
                failed_by_channel=result.failed_by_channel,
                uncertain=result.uncertain,
                plan_time=plan_time,
                server_time=workflow.now(),
            ),
            **DB_ACTIVITY,
        )
