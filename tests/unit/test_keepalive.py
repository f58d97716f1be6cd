"""An activity scheduled with a heartbeat timeout beats while it runs, so a dead worker's attempt
is retried in seconds (the worker-kill drill in tests/integration/test_campaign.py shows the
retry itself)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from temporalio.testing import ActivityEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from activities.keepalive import KeepAlive


class Report(ActivityInboundInterceptor):
    """The end of the interceptor chain: the activity itself, taking half a second."""

    def __init__(self) -> None:
        pass

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        await asyncio.sleep(0.5)
        return "done"


async def run_intercepted(heartbeat_timeout: timedelta | None) -> tuple[str, list[object], ActivityEnvironment]:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=heartbeat_timeout)
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    chain = KeepAlive().intercept_activity(Report())
    inp = ExecuteActivityInput(fn=lambda: None, args=[], executor=None, headers={})
    result = await env.run(chain.execute_activity, inp)
    return result, beats, env


async def test_an_activity_with_a_heartbeat_timeout_beats_while_it_runs_and_stops_after() -> None:
    result, beats, _ = await run_intercepted(timedelta(seconds=0.2))
    assert result == "done"
    # Every 0.05 s (a quarter of the timeout) for 0.5 s: about ten beats.
    assert len(beats) >= 5
    after = len(beats)
    await asyncio.sleep(0.2)
    assert len(beats) == after  # the beating stopped with the activity


async def test_an_activity_without_a_heartbeat_timeout_does_not_beat() -> None:
    result, beats, _ = await run_intercepted(None)
    assert (result, beats) == ("done", [])
