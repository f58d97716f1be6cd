"""What a workflow that queues pushes needs of the dispatch loop (`workflows.dispatch`): whether
its actions queued any, and a poke to the loop by its id and the signal's name. Apart from the
loop's own module so that a unit workflow's sandbox, built afresh for every run, does not run
`DispatchWorkflow`'s module and class definition each time (BENCHMARKS.md, the province launch)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

from models.delivery import DispatchRequest, DispatchResult
from models.payloads import Act, CampaignContext, FiredAction
from models.ruleset import Channel
from workflows.common import DISPATCH_ACTIVITY, NO_BASELINE, Baseline

POKE_PATCH = "poke-dispatch"
"""Workflows that queue pushes poke the loop (campaigns launched with pushes only)."""
POKE_SIGNAL = "poke"
"""`DispatchWorkflow.poke`'s name (`tests/unit/test_workflow_names.py` holds it to it)."""
SELF_DISPATCH_PATCH = "dispatch-by-producer"
"""A producer that finds the loop ended sends its pushes itself."""
SELF_DISPATCH_CALLS = 100


def dispatch_workflow_id(campaign_id: str) -> str:
    return f"{campaign_id}/dispatch"


def pushes(actions: Sequence[FiredAction]) -> bool:
    """Whether any of these actions queued a push (a rule names e-mail or webhook among its channels)."""
    return any(c is not Channel.inbox for a in actions for c in a.channels)


async def poke(ctx: CampaignContext, *, baseline: Baseline = NO_BASELINE) -> None:
    """Tell the campaign's dispatch loop that pushes were queued; if it has ended, send them here."""
    try:
        await workflow.get_external_workflow_handle(dispatch_workflow_id(ctx.campaign_id)).signal(POKE_SIGNAL)
    except FailureError as e:
        workflow.logger.info("dispatch not poked", extra={"error": str(e)})
        # The loop ended with the campaign, but a rectification order outlives it (it is abandoned
        # by design) and its last look may still queue pushes: without this they stayed pending.
        if baseline.patched(SELF_DISPATCH_PATCH):
            await send_here(ctx)


async def send_here(ctx: CampaignContext) -> None:
    """Call `dispatch` from the producing workflow until nothing of the campaign is pending.
    Bounded: each push has its own bounded retry schedule, and the calls are capped besides."""
    for _ in range(SELF_DISPATCH_CALLS):
        result: DispatchResult = await workflow.execute_activity(
            Act.dispatch,
            DispatchRequest(campaign_id=ctx.campaign_id, as_of=workflow.now()),
            result_type=DispatchResult,
            **DISPATCH_ACTIVITY,
        )
        if result.more:
            continue
        if not result.pending or result.next_not_before is None:
            return
        await workflow.sleep(max(result.next_not_before - workflow.now(), timedelta(seconds=1)))
