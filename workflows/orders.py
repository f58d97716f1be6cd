"""Orders started: any parent that issues 责令整改 orders (the MonthlyWorkflow for the bulletin's
laggards, a unit workflow for its rules' orders) starts one `RectificationWorkflow` per order here,
abandoned on purpose: an order outlives the parent that issued it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

from models.payloads import (
    CampaignContext,
    DeliverResult,
    RectificationInput,
)
from models.rectification import (
    RectificationOrder,
    rectification_workflow_id,
)
from workflows.common import NO_BASELINE, Baseline

ORDER_WORKFLOW = "RectificationWorkflow"
"""Started by its registered name, not its class: a unit workflow's sandbox then never imports
`workflows.rectification` (and what it imports) for each run it builds, which was ~4 % of a
worker's CPU in a province's storm (BENCHMARKS.md "The storm's wake-up profiled"). The same
command either way: replay is unaffected. `tests/unit/test_workflow_names.py` holds the name."""

RECTIFY_PATCH = "rectification-order-workflows"
"""Parents start a RectificationWorkflow per order they issue (histories before it: none)."""
PER_UNIT_PATCH = "per-unit-papers"
"""督办通知 and 责令整改 one per unit (`rules.rounds`): a unit workflow's batch makes one notice and
one order per unit, a bulletin one order per laggard unit at its measure, none to a unit whose
order still stands. Histories from before: a notice per escalation, an order per rectify action,
an order per laggard every month."""


ONE_OPEN_ORDER_PATCH = "one-open-order"
"""A unit's rule-fired order whose items joined its open order (`DeliverResult.added`) starts no
workflow. Histories before: every round's order started one."""


def new_orders(
    orders: Sequence[RectificationOrder], result: DeliverResult | None, *, baseline: Baseline = NO_BASELINE
) -> list[RectificationOrder]:
    """The orders of a delivered batch that are new orders, not items added to an open one."""
    if result is None or not baseline.patched(ONE_OPEN_ORDER_PATCH):
        return list(orders)
    return [o for o in orders if o.key not in result.added]


async def start_orders(ctx: CampaignContext, orders: Sequence[RectificationOrder], *, budget: int) -> int:
    """Start a RectificationWorkflow for each order, in the order given, at most `budget` of them
    (a parent's child limit); returns how many were taken. An order whose workflow exists already
    (started by another parent, or finished) is skipped: its id is the order's own."""
    taken = list(orders[: max(0, budget)])
    starts = [
        workflow.start_child_workflow(
            ORDER_WORKFLOW,
            RectificationInput(context=ctx, order=o),
            id=rectification_workflow_id(ctx.campaign_id, o.key),
            parent_close_policy=ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        for o in taken
    ]
    for o, r in zip(taken, await asyncio.gather(*starts, return_exceptions=True), strict=True):
        if isinstance(r, WorkflowAlreadyStartedError):
            workflow.logger.info("rectification order already followed", extra={"order": o.key})
        elif isinstance(r, BaseException):
            raise r
    return len(taken)
