"""A long activity beats while it runs, so a dead worker's attempt is retried in seconds."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from temporalio.testing import ActivityEnvironment

from activities.keepalive import heartbeating, keeps_alive


async def test_a_kept_alive_activity_beats_while_it_runs_and_stops_after() -> None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=timedelta(seconds=0.2))
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)

    @keeps_alive
    async def report(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    assert await env.run(report, 0.5) == "done"
    # Every 0.05 s (a quarter of the timeout) for 0.5 s: about ten beats.
    assert len(beats) >= 5
    after = len(beats)
    await asyncio.sleep(0.2)
    assert len(beats) == after  # the beating stopped with the activity


async def test_outside_an_activity_it_only_runs_the_body() -> None:
    # Tests call activity methods directly, outside any activity context.
    async with heartbeating():
        ran = True
    assert ran
