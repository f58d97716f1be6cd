"""The dispatch loop of a closed campaign past its grace period (DispatchWorkflow alone, on the
time-skipping server, with a scripted `dispatch` activity standing for the outbox).

A receiver down at the end of a campaign leaves pushes pending whose next attempt falls after the
campaign's last day plus the 10-day grace (a fast drill clock shrinks that grace to seconds). The
loop must go on calling until nothing is pending: each push has its own bounded retry schedule, so
this ends. Before the `dispatch-drain` patch the loop stopped at the grace with pushes pending."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.delivery import DispatchRequest, DispatchResult
from models.payloads import Act, CampaignContext, DispatchInput
from models.time import Clock, at
from tests.integration import mini
from workflows import sandbox
from workflows.dispatch import GRACE, DispatchWorkflow, poke

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
        self.left = max(self.left - 1, 0)
        nxt = req.as_of + timedelta(days=30) if self.left else None
        return DispatchResult(sent=1, pending=self.left, next_not_before=nxt)


def _past_grace(now: datetime, cid: str) -> CampaignContext:
    """A campaign that ended a year ago in plan time: its grace period is over when the loop starts."""
    ctx = mini.new_campaign(now).context.model_copy(update={"campaign_id": cid})
    offset = now - at(ctx.ends + timedelta(days=365), "00:00")
    return ctx.model_copy(update={"clock": Clock(offset_seconds=int(offset.total_seconds()))})


def _loop_worker(env: WorkflowEnvironment, queue: str, dispatch: Callable[..., Any]) -> Worker:
    return Worker(
        env.client, task_queue=queue, workflows=[DispatchWorkflow], activities=[dispatch], workflow_runner=sandbox()
    )


@pytest.mark.parametrize("closing", [True, False], ids=["closed", "held-up"])
async def test_the_loop_drains_what_is_pending_past_the_grace_period(env: WorkflowEnvironment, closing: bool) -> None:
    """Closed (told so), or held up past its grace (a drill's campaign slowed by faults, not yet
    closed when the grace ran out): either way the loop sends what is pending before it ends."""
    now = await env.get_current_time()
    cid = f"mini-drain-{uuid.uuid4().hex[:8]}"
    ctx = _past_grace(now, cid)
    stop = ctx.clock.server_time(at(ctx.ends + timedelta(days=1), "00:00")) + ctx.clock.server_duration(GRACE)
    assert stop < now
    outbox = Outbox()
    queue = str(uuid.uuid4())
    async with _loop_worker(env, queue, outbox.dispatch):
        handle = await env.client.start_workflow(
            DispatchWorkflow.run, DispatchInput(context=ctx, closing=closing), id=f"{cid}/dispatch", task_queue=queue
        )
        if not closing:  # held up: drained first (time skipped by hand), then the campaign closes late
            with env.auto_time_skipping_disabled():
                for _ in range(12):
                    if outbox.left == 0:
                        break
                    await env.sleep(timedelta(days=31))
                    await asyncio.sleep(0.2)
                await handle.signal(DispatchWorkflow.campaign_closed)
        tally = await handle.result()
    assert outbox.left == 0, "the loop ended with pushes pending"
    # Held up, the loop looks once more when the campaign finally closes, then ends.
    assert len(outbox.calls) == (4 if closing else 5)
    # Each call came when the outbox said the next push was due, not before.
    drains = outbox.calls[:4]
    assert all(b - a >= timedelta(days=30) for a, b in pairwise(drains))
    assert tally is not None


class LateOutbox:
    """Nothing pending at first; then pushes appear (a campaign held up past its grace still makes them)."""

    def __init__(self) -> None:
        self.calls: list[datetime] = []
        self.pending = 0
        self.sent = 0

    @activity.defn(name=Act.dispatch)
    async def dispatch(self, req: DispatchRequest) -> DispatchResult:
        assert req.as_of is not None
        self.calls.append(req.as_of)
        sent, self.pending = self.pending, 0
        self.sent += sent
        return DispatchResult(sent=sent)


async def _until(cond: Callable[[], bool]) -> None:
    for _ in range(600):
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the loop never called")


async def test_past_the_grace_only_the_campaign_closing_ends_the_loop(env: WorkflowEnvironment) -> None:
    """The fault drill's second finding: held up past its grace, the loop drained, found nothing
    pending and ended; the campaign went on making pushes that nobody sent (8,773). Now the loop
    waits for more until the campaign says it has closed."""
    now = await env.get_current_time()
    cid = f"mini-late-{uuid.uuid4().hex[:8]}"
    ctx = _past_grace(now, cid)
    outbox = LateOutbox()
    queue = str(uuid.uuid4())
    async with _loop_worker(env, queue, outbox.dispatch):
        handle = await env.client.start_workflow(
            DispatchWorkflow.run, DispatchInput(context=ctx), id=f"{cid}/dispatch", task_queue=queue
        )
        await _until(lambda: len(outbox.calls) == 1)
        outbox.pending = 5  # the held-up campaign queues more pushes and pokes
        await handle.signal(DispatchWorkflow.poke)
        await _until(lambda: outbox.sent == 5)
        await handle.signal(DispatchWorkflow.campaign_closed)
        await handle.result()
    assert outbox.sent == 5 and outbox.pending == 0


@workflow.defn(sandboxed=False)
class Producer:
    """A workflow that queued pushes after the campaign's loop ended (a rectification's last look)."""

    @workflow.run
    async def run(self, ctx: CampaignContext) -> None:
        await poke(ctx)


class HeldOutbox:
    """Two pushes: one sent at once, one held until a week later."""

    def __init__(self) -> None:
        self.calls: list[datetime] = []

    @activity.defn(name=Act.dispatch)
    async def dispatch(self, req: DispatchRequest) -> DispatchResult:
        assert req.as_of is not None
        self.calls.append(req.as_of)
        if len(self.calls) == 1:
            return DispatchResult(sent=1, pending=1, next_not_before=req.as_of + timedelta(days=7))
        return DispatchResult(sent=1)


async def test_a_producer_that_finds_the_loop_ended_sends_its_pushes_itself(env: WorkflowEnvironment) -> None:
    now = await env.get_current_time()
    cid = f"mini-after-{uuid.uuid4().hex[:8]}"
    ctx = _past_grace(now, cid)
    outbox = HeldOutbox()
    queue = str(uuid.uuid4())
    async with Worker(env.client, task_queue=queue, workflows=[Producer], activities=[outbox.dispatch]):
        await env.client.execute_workflow(Producer.run, ctx, id=f"{cid}/producer", task_queue=queue)
    assert len(outbox.calls) == 2, "the pushes were left pending when the poke found no loop"
    assert outbox.calls[1] - outbox.calls[0] >= timedelta(days=7)
