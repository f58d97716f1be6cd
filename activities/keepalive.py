"""Heartbeats for long activities, so a worker that dies mid-attempt is noticed in seconds.

A report (a monthly cycle rendering its bulletin, a milestone judging every town, the final
evaluation) may rightly take minutes on a province, so its start-to-close timeout is long. Without
heartbeats, an attempt held by a worker that was killed is only retried once that timeout has run
out. These activities are scheduled with a heartbeat timeout (`workflows.common.REPORT_ACTIVITY`,
`DISPATCH_ACTIVITY`) and beat while they run: the server retries an attempt elsewhere as soon as
the beats stop. The beat says "this worker is alive", not "this attempt is making progress"; the
start-to-close timeout still bounds an attempt that is alive but stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import ParamSpec, TypeVar

from temporalio import activity

P = ParamSpec("P")
R = TypeVar("R")

BEATS_PER_TIMEOUT = 4
"""Beats per heartbeat timeout: a beat late by a busy event loop still lands in time."""
DEFAULT_EVERY = timedelta(seconds=5)


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Beat in the background while the body runs (outside an activity, e.g. a test calling the
    method directly, it does nothing)."""
    if not activity.in_activity():
        yield
        return
    timeout = activity.info().heartbeat_timeout
    every = (timeout / BEATS_PER_TIMEOUT if timeout else DEFAULT_EVERY).total_seconds()

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())  # copies the activity's context, so heartbeat() works
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def keeps_alive(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """An async activity that heartbeats while it runs. Put it under `@activity.defn`."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        async with heartbeating():
            return await fn(*args, **kwargs)

    return run
