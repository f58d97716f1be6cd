"""The dispatch loop of a closed campaign past its grace period (DispatchWorkflow alone, on the
time-skipping server, with a scripted `dispatch` activity standing for the outbox).

A receiver down at the end of a campaign leaves pushes pending whose next attempt falls after the
campaign's last day plus the 10-day grace (a fast drill clock shrinks that grace to seconds). The
loop must go on calling until nothing is pending: each push has its own bounded retry schedule, so
this ends. Before the `dispatch-drain` patch the loop stopped at the grace with pushes pending."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.delivery import DispatchRequest, DispatchResult
from models.payloads import Act, DispatchInput
from models.time import Clock, at
from tests.integration import mini
from workflows import sandbox
from workflows.dispatch import GRACE, DispatchWorkflow

pytestmark = pytest.mark.integration


class Outbox:
    """Three pushes pending, each retried once more a month after the previous call."""

    def __init__(self) -> None:
        self.calls: list[datetime] = []
        self.left = 3

    @activity.defn(name=Act.dispatch)
    async def dispatch(self, req: DispatchRequest) -> DispatchResult:
        assert req.as_of is not None
        self.calls.append(req.as_of)
        if len(self.calls) == 1:  # the first call finds them all due later
            return DispatchResult(retrying=3, pending=3, next_not_before=req.as_of + timedelta(days=30))
        self.left -= 1
        nxt = req.as_of + timedelta(days=30) if self.left else None
        return DispatchResult(sent=1, pending=self.left, next_not_before=nxt)


@pytest.mark.parametrize("closing", [True, False], ids=["closed", "held-up"])
async def test_the_loop_drains_what_is_pending_past_the_grace_period(env: WorkflowEnvironment, closing: bool) -> None:
    """Closed (told so), or held up past its grace (a drill's campaign slowed by faults, not yet
    closed when the grace ran out): either way the loop sends what is pending before it ends."""
    now = await env.get_current_time()
    cid = f"mini-drain-{uuid.uuid4().hex[:8]}"
    ctx = mini.new_campaign(now).context.model_copy(update={"campaign_id": cid})
    # The campaign ended a year ago in plan time: its grace period is over when the loop starts.
    offset = now - at(ctx.ends + timedelta(days=365), "00:00")
    ctx = ctx.model_copy(update={"clock": Clock(offset_seconds=int(offset.total_seconds()))})
    stop = ctx.clock.server_time(at(ctx.ends + timedelta(days=1), "00:00")) + ctx.clock.server_duration(GRACE)
    assert stop < now
    outbox = Outbox()
    queue = str(uuid.uuid4())
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[DispatchWorkflow],
        activities=[outbox.dispatch],
        workflow_runner=sandbox(),
    ):
        tally = await env.client.execute_workflow(
            DispatchWorkflow.run, DispatchInput(context=ctx, closing=closing), id=f"{cid}/dispatch", task_queue=queue
        )
    assert outbox.left == 0, "the loop ended with pushes pending"
    assert len(outbox.calls) == 4
    # Each call came when the outbox said the next push was due, not before.
    assert all(b - a >= timedelta(days=30) for a, b in zip(outbox.calls, outbox.calls[1:], strict=False))
    assert tally is not None
