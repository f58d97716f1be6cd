"""A real duban worker in its own process, plus one slow test activity: python graceful_proc.py
ADDRESS QUEUE MARKS_DIR. Stopped with SIGINT as `duban worker` is (worker.run_until_stopped)."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client

import activities
import worker as worker_module
from activities.codec import PAYLOADS
from activities.config import get_settings
from activities.store.db import make_engine
from workflows import WORKFLOWS


def mark(marks: str, name: str) -> None:
    Path(marks, name).touch()


@activity.defn(name="test_slow_send")
async def slow_send(marks: str) -> str:
    """Stands in for a push half sent when the stop comes: it must be let finish."""
    mark(marks, "started")
    try:
        await asyncio.sleep(3)
    except asyncio.CancelledError:
        mark(marks, "cancelled")
        raise
    mark(marks, "finished")
    return "sent"


@workflow.defn(name="TestSlowSend", sandboxed=False)
class SlowSend:
    @workflow.run
    async def run(self, marks: str) -> str:
        result: str = await workflow.execute_activity(
            "test_slow_send", marks, start_to_close_timeout=timedelta(seconds=60), result_type=str
        )
        return result


async def main(address: str, queue: str) -> None:
    client = await Client.connect(address, data_converter=PAYLOADS)
    build = activities.build
    activities.build = lambda *a, **k: [*build(*a, **k), slow_send]
    setattr(worker_module, "WORKFLOWS", [*WORKFLOWS, SlowSend])  # noqa: B010 (one more, for this test)
    # The engine is never used: nothing here touches the database (no connection is opened).
    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    w = worker_module.build_worker(client, engine, task_queue=queue)
    print("running", flush=True)
    await worker_module.run_until_stopped(w, grace=worker_module.stop_grace(get_settings()))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
    from activities.servers import hard_exit

    hard_exit(0)  # as worker.py does: past the interpreter's shutdown (sdk-python #300)
