"""The worker: runs duban's workflows and activities on a task queue.

`python worker.py` (or `duban worker`) runs one against the configured Temporal and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import structlog
import temporalio
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import activities
from activities.campaign import CampaignActivities
from activities.config import Settings, get_settings
from activities.delivery import Outbox
from activities.gathering import Gathering
from activities.keepalive import KeepAlive
from activities.logs import LogContext
from activities.metrics import WorkerMetrics
from workflows import REHEARSAL_WORKFLOWS, WORKFLOWS, sandbox

T = TypeVar("T")


@functools.cache
def build_id() -> str:
    """The worker's build id: a digest of the source the workflows run on (these packages and the
    SDK's version). The SDK's default hashes the bytecode of every module loaded in the process,
    about 0.3 s at each worker start here (a rehearsal starts one); this reads ~100 files. Here,
    not in `workflows/`, which reads no files."""
    h = hashlib.sha256(f"temporalio {temporalio.__version__}\n".encode())
    root = Path(__file__).resolve().parent
    for package in ("workflows", "models", "rules"):
        for path in sorted((root / package).rglob("*.py")):
            h.update(f"{path.relative_to(root)}\n".encode())
            h.update(path.read_bytes())
    return f"duban-{h.hexdigest()[:16]}"


def build_worker(
    client: Client,
    engine: AsyncEngine,
    *,
    task_queue: str,
    rehearsal: bool = False,
    campaign_activities: CampaignActivities | None = None,
    outbox: Outbox | None = None,
    settings: Settings | None = None,
    metrics: WorkerMetrics | None = None,
) -> Worker:
    """A worker for duban's workflows; with `rehearsal`, also the simulated agencies; with an
    `outbox`, actions are also queued for e-mail and webhook (never in a rehearsal)."""
    settings = settings or get_settings()
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[*WORKFLOWS, *(REHEARSAL_WORKFLOWS if rehearsal else [])],
        activities=activities.build(
            engine,
            client if rehearsal else None,
            campaign=campaign_activities,
            outbox=None if rehearsal else outbox,
            # A rehearsal sends nothing, so its notices' papers need not hold up its wake-ups.
            papers_on_request=rehearsal and settings.rehearsal_papers == "on-request",
            gathering=Gathering.from_settings(settings),
        ),
        # The sandbox re-imports the workflow modules for every run and is entered for every
        # activation: off by default (`Settings.workflow_sandbox`). The suite and every replay run
        # sandboxed, so a determinism slip is caught there (BENCHMARKS.md, session 25).
        workflow_runner=sandbox() if settings.workflow_sandbox else UnsandboxedWorkflowRunner(),
        max_cached_workflows=settings.max_cached_workflows,
        # Named by the SDK's (deprecated) parameter: its default walks every loaded module.
        build_id=build_id(),
        interceptors=[KeepAlive(), LogContext(), *([metrics.interceptor()] if metrics else [])],
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        # The SDK's 10 s by default; in a timer storm most unit workflows' tasks waited longer than
        # that and were replayed from their histories (BENCHMARKS.md, the storm at 1,000 towns).
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.sticky_schedule_to_start_seconds),
        # Without it, shutdown() cancels activities at once: a send half done is then recorded
        # as "uncertain" and never re-sent, though it usually arrived. Let them finish instead.
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
    )


async def run(settings: Settings | None = None) -> None:
    from activities.logs import configure
    from activities.metrics import install_sdk_runtime, serving
    from activities.servers import app_database, connect
    from activities.store.db import make_engine, upgrade

    settings = settings or get_settings()
    configure(fmt=settings.log_format, level=settings.log_level)
    wait = settings.startup_wait_seconds
    url = await until_up("PostgreSQL", lambda: app_database(settings), wait)
    if settings.env != "production":
        # A laptop's embedded database is brought up to date here for convenience; production
        # runs `duban db upgrade` as its own deployment step, before any worker starts.
        await until_up("PostgreSQL", lambda: upgrade(url), wait)
    engine = make_engine(url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)
    install_sdk_runtime(settings)  # before the client: it takes the runtime that exports telemetry
    client = await until_up("Temporal", lambda: connect(settings), wait)
    structlog.get_logger().info("worker starting", task_queue=settings.task_queue, encrypted=bool(settings.codec_keys))
    if settings.env == "production" and not settings.codec_keys:
        # Not refused: a release that refused would stop every existing installation at upgrade.
        structlog.get_logger().warning("payloads are stored in clear in Temporal: set DUBAN_CODEC_KEYS")
    outbox = Outbox.from_settings(settings)  # a bad contacts file stops the worker here, FILE:LINE
    async with serving(settings, engine) as metrics:
        queue = settings.task_queue
        worker = build_worker(client, engine, task_queue=queue, outbox=outbox, settings=settings, metrics=metrics)
        await run_until_stopped(worker, grace=stop_grace(settings))
    await engine.dispose()


async def until_up(what: str, attempt: Callable[[], Awaitable[T]], wait: float) -> T:
    """`attempt()` until it succeeds or `wait` seconds have passed, backing off up to 5 s.

    A worker restarted by its process manager while the Temporal server or PostgreSQL is itself
    restarting (the fault drill does exactly that) waits for them rather than exiting at once.
    """
    log = structlog.get_logger()
    deadline = asyncio.get_running_loop().time() + wait
    pause = 0.25
    while True:
        try:
            return await attempt()
        except (OSError, RuntimeError, DBAPIError) as e:  # refused/reset; the SDK's connect error
            if asyncio.get_running_loop().time() + pause > deadline:
                raise
            log.warning("waiting for a server", server=what, error=str(e)[:200], retry_in=pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)


STOP_SECONDS = 10.0
"""How long Ctrl-C (or SIGTERM) waits, beyond the activities' graceful period, before the worker
leaves anyway (the SDK's own shutdown after cancelling activities needs a moment)."""


def stop_grace(settings: Settings) -> float:
    """The whole stop budget: activities' graceful period plus the SDK's own wind-down. A process
    manager must wait longer than this before SIGKILL (deploy/: TimeoutStopSec,
    terminationGracePeriodSeconds, stop_grace_period)."""
    return settings.graceful_shutdown_seconds + STOP_SECONDS


async def run_until_stopped(worker: Worker, *, grace: float = STOP_SECONDS) -> None:
    """Run `worker` until SIGINT or SIGTERM, then stop it within `grace` seconds.

    Leaving with work in flight loses nothing: a workflow task is handed to another worker, an
    activity attempt is retried once its timeout (or missing heartbeats) says this worker is
    gone, and every side effect has an idempotency key. So a stop that hangs (a poll the server
    holds open, a send stuck in a socket) must not keep the process, and the operator, waiting: a
    second Ctrl-C leaves at once.
    """
    log = structlog.get_logger()
    loop = asyncio.get_running_loop()
    stop, now = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:
        (now if stop.is_set() else stop).set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    running = asyncio.create_task(worker.run())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if running.done():  # the worker failed on its own: say why
        stopping.cancel()
        running.result()
        return
    log.info("worker stopping", grace_seconds=grace)
    shutdown = asyncio.create_task(worker.shutdown())
    hurry = asyncio.create_task(now.wait())
    done, _ = await asyncio.wait({shutdown, hurry}, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
    hurry.cancel()
    if shutdown in done:
        await running
        log.info("worker stopped")
        return
    # Leave now: returning would have asyncio.run wait for the stuck tasks to finish cancelling.
    log.warning("worker left with tasks in flight; the server retries them", grace_seconds=grace)
    from activities.servers import hard_exit

    hard_exit(0)


if __name__ == "__main__":
    asyncio.run(run())
    # A clean stop ends here, past the interpreter's own shutdown: with the SDK's native threads
    # still about it can abort (PyGILState_Release, sdk-python #300) and turn exit 0 into 134.
    from activities.servers import hard_exit

    hard_exit(0)
