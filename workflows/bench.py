"""The raw engine, for `duban bench`: workflows that do nothing but what the engine itself does
(start, finish, wait on timers), measured beside the campaign's on the same server and worker.

Not in `WORKFLOWS`: only the bench's worker registers them, on a task queue of their own.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

from models.bench import TimerStorm

NAIVE_WAIT_SECONDS = 86400 * 30
"""The naive design's obligation workflow waits this long on its deadline (never reached)."""


@workflow.defn
class EmptyWorkflow:
    """Starts and finishes: the engine's floor for one workflow."""

    @workflow.run
    async def run(self) -> None:
        return None


@workflow.defn
class ObligationWorkflow:
    """The naive design's unit of work: one workflow per obligation, waiting for its deadline."""

    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(NAIVE_WAIT_SECONDS)


@workflow.defn
class EmptyParent:
    """Starts `n` empty children, 100 per workflow task (as a phase starts its units), and waits."""

    @workflow.run
    async def run(self, n: int) -> None:
        prefix = workflow.info().workflow_id
        handles = []
        for i in range(0, n, 100):
            handles += await asyncio.gather(
                *(
                    workflow.start_child_workflow(EmptyWorkflow.run, id=f"{prefix}/{j}")
                    for j in range(i, min(n, i + 100))
                )
            )
        await asyncio.gather(*handles)


@workflow.defn
class TimersWorkflow:
    """Plain timers, all due at one server instant: the raw engine's side of a timer storm."""

    @workflow.run
    async def run(self, storm: TimerStorm) -> None:
        delay = storm.due - workflow.now()
        await asyncio.gather(*(workflow.sleep(delay) for _ in range(storm.timers)))
