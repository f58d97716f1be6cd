"""Starting many children at once: a province's phase starts 1,000 unit workflows.

Awaited one by one, each start costs a workflow-task round trip (~127 ms a unit at 1,000 towns,
issue 16); gathered, a batch of starts goes out in one workflow task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from temporalio import workflow

T = TypeVar("T")

CONCURRENT_STARTS = "concurrent-child-starts"
"""Patch: children are started a batch at a time, not one per workflow task."""

START_BATCH = 100
"""Starts per workflow task. Each start carries its input (a unit's is ~6 KB, the campaign
context included) in the task's completion, which the server takes up to 4 MB: 100 stay well
inside that, and well under the 2,000 pending children a workflow may have."""


async def start_all(
    starts: Sequence[Callable[[], Awaitable[T]]],
    *,
    batch: int = START_BATCH,
    busy: Callable[[bool], None] | None = None,
) -> list[T]:
    """Run each start, in order; a batch at a time where the workflow is patched for it.

    Histories recorded before the patch started one child per workflow task, and replay so.
    Commands within a batch keep the order of `starts` (gather schedules them in order).
    `busy` hears True while batches are out and False after (never on the unpatched path, whose
    histories handled signals between starts).
    """
    if not starts:
        return []
    if not workflow.patched(CONCURRENT_STARTS):
        return [await start() for start in starts]
    out: list[T] = []
    if busy is not None:
        busy(True)
    try:
        for i in range(0, len(starts), batch):
            out.extend(await asyncio.gather(*(start() for start in starts[i : i + batch])))
    finally:
        if busy is not None:
            busy(False)
    return out
