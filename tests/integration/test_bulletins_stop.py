"""The monthly cycle stops after the month in which the campaign's last obligation closed, not at
the plan's end (长河镇's plan runs to 2030: eight idle years of 通报). MonthlyWorkflow alone, on
the time-skipping server, with a scripted `monthly_cycle` activity standing for the database."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.payloads import Act, MonthlyInput, MonthlyResult, MonthlyRun
from tests.integration import mini
from workflows import sandbox
from workflows.monthly import MonthlyWorkflow, next_month

pytestmark = pytest.mark.integration


class Cycle:
    """Open obligations as each month's reconciliation finds them."""

    def __init__(self, open_counts: list[int | None]) -> None:
        self.open_counts = open_counts
        self.months: list[date] = []

    @activity.defn(name=Act.monthly_cycle)
    async def monthly_cycle(self, inp: MonthlyRun) -> MonthlyResult:
        n = len(self.months)
        self.months.append(inp.month)
        left = self.open_counts[n] if n < len(self.open_counts) else self.open_counts[-1]
        return MonthlyResult(bulletin=True, open_obligations=left)


def months_of(ctx_ends: date, first: date) -> int:
    """Bulletins a plan's length allows: every month whose successor starts by its end."""
    n, m = 0, first
    while next_month(m) <= ctx_ends:
        n, m = n + 1, next_month(m)
    return n


@pytest.mark.parametrize(
    ("open_counts", "closed_in"),
    [([5, 2, 0], 3), ([None, None, 4, 0], 4), ([3], None), ([None], None)],
    ids=["closed-in-third", "unknown-then-closed", "never-closed", "unknown"],
)
async def test_bulletins_stop_after_the_month_the_work_closed(
    env: WorkflowEnvironment, open_counts: list[int | None], closed_in: int | None
) -> None:
    now = await env.get_current_time()
    ctx = mini.new_campaign(now).context.model_copy(update={"campaign_id": f"mini-bul-{uuid.uuid4().hex[:8]}"})
    first = date(2021, 5, 1)
    full = months_of(ctx.ends, first)
    assert full > 4, "the mini plan must run long enough to tell stopping from ending"
    cycle = Cycle(open_counts)
    queue = str(uuid.uuid4())
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[MonthlyWorkflow],
        activities=[cycle.monthly_cycle],
        workflow_runner=sandbox(),
    ):
        await env.client.execute_workflow(
            MonthlyWorkflow.run,
            MonthlyInput(context=ctx, first_month=first),
            id=f"{ctx.campaign_id}/monthly",
            task_queue=queue,
        )
    # The month in which the last obligation closed has its bulletin; none follows it.
    assert len(cycle.months) == (closed_in if closed_in is not None else full)
    assert cycle.months[0] == first
