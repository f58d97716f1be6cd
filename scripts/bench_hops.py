"""What one step of a rehearsal's chain costs the time-skipping server: a workflow that sleeps an
hour 200 times, with nothing, an ordinary activity or a local activity in each step
(BENCHMARKS.md). `.venv/bin/python scripts/bench_hops.py`"""

import asyncio
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import servers


@activity.defn
async def noop(x: int) -> int:
    return x


@workflow.defn(sandboxed=False)
class Hops:
    """200 steps: an hour's sleep, then nothing, an activity or a local activity."""

    @workflow.run
    async def run(self, mode: str) -> int:
        for i in range(200):
            await workflow.sleep(timedelta(hours=1))
            if mode == "activity":
                await workflow.execute_activity(noop, i, start_to_close_timeout=timedelta(seconds=10))
            elif mode == "local":
                await workflow.execute_local_activity(noop, i, start_to_close_timeout=timedelta(seconds=10))
        return 0


async def main():
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=servers.test_server_path())
    async with Worker(env.client, task_queue="q", workflows=[Hops], activities=[noop]):
        for mode in ["timer", "activity", "local", "timer", "activity", "local"]:
            t = time.perf_counter()
            await env.client.execute_workflow(Hops.run, mode, id=str(uuid.uuid4()), task_queue="q")
            print(mode, f"{(time.perf_counter() - t) / 200 * 1000:.2f} ms per step")
    await env.shutdown()


asyncio.run(main())
