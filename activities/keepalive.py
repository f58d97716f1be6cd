"""Heartbeats for long activities, so a worker that dies mid-attempt is noticed in seconds.

A report (a monthly cycle rendering its bulletin, a milestone judging every town, the final
evaluation) may rightly take minutes on a province, so its start-to-close timeout is long. Without
heartbeats, an attempt held by a worker that was killed is only retried once that timeout has run
out. So the workflows schedule such activities with a heartbeat timeout
(`workflows.common.REPORT_ACTIVITY`, `DISPATCH_ACTIVITY`), and the worker's `KeepAlive`
interceptor beats for every activity scheduled with one, for as long as it runs: the server
retries the attempt elsewhere as soon as the beats stop. Whether an activity beats is decided
where it is scheduled, so no activity can be given a heartbeat timeout and forget to beat.

A beat says "this worker is alive", not "this attempt is making progress"; the start-to-close
timeout still bounds an attempt that is alive but stuck. (The beats carry no details: an activity
that wants to resume from heartbeat details must not run under this interceptor.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

BEATS_PER_TIMEOUT = 4
"""Beats per heartbeat timeout: a beat late by a busy event loop still lands in time."""


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Beat in the background while the body runs, if the running activity has a heartbeat
    timeout (otherwise, or outside an activity, it only runs the body)."""
    timeout = activity.info().heartbeat_timeout if activity.in_activity() else None
    if not timeout:
        yield
        return
    every = (timeout / BEATS_PER_TIMEOUT).total_seconds()

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


class KeepAlive(Interceptor):
    """Worker interceptor: every activity scheduled with a heartbeat timeout beats while it runs."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Beating(next)


class _Beating(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        async with heartbeating():
            return await self.next.execute_activity(input)
