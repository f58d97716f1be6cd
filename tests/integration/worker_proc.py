"""A worker in its own process, for the test that kills one: python worker_proc.py ADDRESS QUEUE DB_URL."""

from __future__ import annotations

import asyncio
import sys

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.store.db import make_engine
from worker import build_worker


async def main(address: str, queue: str, db_url: str) -> None:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    async with build_worker(client, make_engine(db_url), task_queue=queue, rehearsal=True):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
