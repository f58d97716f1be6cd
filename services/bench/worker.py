"""The bench's worker process: duban's worker, and the raw engine's workflows on a queue of their
own, in one process (as `duban up` runs one), so its resident memory can be watched alone.

    python -m services.bench.worker ADDRESS DATABASE_URL
"""

from __future__ import annotations

import asyncio
import sys

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.codec import PAYLOADS
from activities.store.db import make_engine
from services.bench.engine import RAW_QUEUE
from worker import build_worker
from workflows.bench import EmptyParent, EmptyWorkflow, ObligationWorkflow, TimersWorkflow

QUEUE = "duban-bench"


async def main(address: str, db_url: str) -> None:
    client = await Client.connect(address, data_converter=PAYLOADS)
    # The raw engine's floor: its workflows import nothing, so they need no sandbox either.
    raw = Worker(
        client,
        task_queue=RAW_QUEUE,
        workflows=[EmptyWorkflow, EmptyParent, ObligationWorkflow, TimersWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with build_worker(client, make_engine(db_url), task_queue=QUEUE), raw:
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
