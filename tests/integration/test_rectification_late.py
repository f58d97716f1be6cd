"""A rectification order's workflow that first wakes after the campaign's end (RectificationWorkflow
alone, on the time-skipping server, its two activities scripted).

Its order fell overdue before the end, but the worker was down (or a drill's fast clock outran
it): before the `rectification-last-look` patch the workflow saw the campaign over and stopped,
so the order stayed open with no escalation at all (环潭镇's 15 orders in the fault drill)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.payloads import Act, OpenedHere, OpenOrder, RectificationInput, RectificationStep, StepRecorded
from models.rectification import OpenedOrder, OrderState, RectificationOrder
from models.time import Clock, at
from tests.integration import mini
from workflows import sandbox
from workflows.rectification import RectificationWorkflow

pytestmark = pytest.mark.integration


class Mirror:
    def __init__(self) -> None:
        self.steps: list[RectificationStep] = []

    @activity.defn(name=Act.rectification_open)
    async def open(self, o: OpenOrder) -> OpenedOrder:
        return OpenedOrder(unit_name="西镇")

    @activity.defn(name=Act.rectification_step)
    async def step(self, s: RectificationStep) -> None:
        self.steps.append(s)

    # The same two as the workflow runs them since `local-effects`: locally, input returned.
    @activity.defn(name=Act.rectification_open_here)
    async def open_here(self, o: OpenOrder) -> OpenedHere:
        return OpenedHere(input=o, result=await self.open(o))

    @activity.defn(name=Act.rectification_step_here)
    async def step_here(self, s: RectificationStep) -> StepRecorded:
        await self.step(s)
        return StepRecorded(input=s, result=1)


async def test_an_order_woken_after_the_campaign_s_end_still_acts_on_what_fell_due_before_it(
    env: WorkflowEnvironment,
) -> None:
    now = await env.get_current_time()
    cid = f"mini-late-{uuid.uuid4().hex[:8]}"
    ctx = mini.new_campaign(now).context.model_copy(update={"campaign_id": cid})
    # Plan time is already a month past the campaign's end when the workflow first runs.
    offset = now - at(ctx.ends + timedelta(days=30), "00:00")
    ctx = ctx.model_copy(update={"clock": Clock(offset_seconds=int(offset.total_seconds()))})
    issued = at(ctx.ends - timedelta(days=60), "10:00")
    order = RectificationOrder(
        key=f"{cid}#rectify#{issued:%Y-%m}-01#west",
        unit_id="west",
        due=(ctx.ends - timedelta(days=40)),
        issued=issued,
        month=date(issued.year, issued.month, 1),
        overdue=3,
    )
    mirror = Mirror()
    queue = str(uuid.uuid4())
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[RectificationWorkflow],
        activities=[mirror.open, mirror.step, mirror.open_here, mirror.step_here],
        workflow_runner=sandbox(),
    ):
        await env.client.execute_workflow(
            RectificationWorkflow.run,
            RectificationInput(context=ctx, order=order),
            id=f"{cid}/rectify/late",
            task_queue=queue,
        )
    overdue = [s for s in mirror.steps if s.step == "overdue"]
    assert len(overdue) == 1, [s.step for s in mirror.steps]
    assert overdue[0].state is OrderState.escalated and overdue[0].actions
    # Recorded at the plan time it fell due, before the campaign's end, not at the late wake-up.
    assert overdue[0].plan_time < at(ctx.ends + timedelta(days=1), "00:00")
