"""The worker: runs duban's workflows and activities on a task queue.

`python worker.py` (or `duban worker`) runs one against the configured Temporal and PostgreSQL.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker

import activities
from activities.campaign import CampaignActivities
from activities.config import Settings, get_settings
from activities.delivery import Outbox
from workflows import REHEARSAL_WORKFLOWS, WORKFLOWS, sandbox


def build_worker(
    client: Client,
    engine: AsyncEngine,
    *,
    task_queue: str,
    rehearsal: bool = False,
    campaign_activities: CampaignActivities | None = None,
    outbox: Outbox | None = None,
) -> Worker:
    """A worker for duban's workflows; with `rehearsal`, also the simulated agencies; with an
    `outbox`, actions are also queued for e-mail and webhook (never in a rehearsal)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[*WORKFLOWS, *(REHEARSAL_WORKFLOWS if rehearsal else [])],
        activities=activities.build(
            engine, client if rehearsal else None, campaign=campaign_activities, outbox=None if rehearsal else outbox
        ),
        workflow_runner=sandbox(),
        max_concurrent_activities=50,
    )


async def run(settings: Settings | None = None) -> None:
    from activities.logs import configure
    from activities.servers import app_database, connect
    from activities.store.db import make_engine, upgrade

    settings = settings or get_settings()
    configure(fmt=settings.log_format, level=settings.log_level)
    url = await app_database(settings)
    if settings.env != "production":
        # A laptop's embedded database is brought up to date here for convenience; production
        # runs `duban db upgrade` as its own deployment step, before any worker starts.
        await upgrade(url)
    engine = make_engine(url)
    client = await connect(settings)
    structlog.get_logger().info("worker starting", task_queue=settings.task_queue)
    outbox = Outbox.from_settings(settings)  # a bad contacts file stops the worker here, FILE:LINE
    async with build_worker(client, engine, task_queue=settings.task_queue, outbox=outbox):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(run())
