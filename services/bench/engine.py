"""The raw engine's side of `duban bench`, and reading times off the server's own events."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from models.bench import TimerStorm
from workflows.bench import EmptyParent, EmptyWorkflow, ObligationWorkflow, TimersWorkflow

RAW_QUEUE = "duban-bench-raw"
CONCURRENT_CLIENT_CALLS = 100
"""Starts and history reads in flight at once, as a busy client would have."""


class Peak:
    """A process's peak resident memory, sampled twice a second."""

    def __init__(self, pid: int) -> None:
        self.proc, self.mb = psutil.Process(pid), 0.0

    async def watch(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self.mb = max(self.mb, self.proc.memory_info().rss / 2**20)
            await asyncio.sleep(0.5)


def event_seconds(e: Any) -> float:
    """An event's server time, in seconds since the epoch."""
    return float(e.event_time.ToDatetime(tzinfo=UTC).timestamp())


async def first_event(client: Client, wf: str, kind: EventType.ValueType, *, deadline: float, poll: float = 1.0) -> Any:
    """The first event of `kind` in a workflow's history, waiting for it until `deadline`."""
    while True:
        try:
            events = (await client.get_workflow_handle(wf).fetch_history()).events
        except RPCError as e:  # not started yet
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            events = []
        found = next((e for e in events if e.event_type == kind), None)
        if found is not None:
            return found
        if time.time() > deadline:
            raise TimeoutError(f"{wf}: no {EventType.Name(kind)} in time")
        await asyncio.sleep(poll)


async def raw_client(client: Client, n: int) -> float:
    """Seconds to start `n` empty workflows from a client and see every one finish."""
    t = time.perf_counter()
    run = uuid.uuid4().hex[:6]
    sem = asyncio.Semaphore(CONCURRENT_CLIENT_CALLS)

    async def one(i: int) -> None:
        async with sem:
            h = await client.start_workflow(EmptyWorkflow.run, id=f"raw-{run}-{i}", task_queue=RAW_QUEUE)
        await h.result()

    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - t


async def raw_children(client: Client, n: int) -> float:
    """Seconds for one workflow to start `n` empty children and see every one finish."""
    t = time.perf_counter()
    await client.execute_workflow(EmptyParent.run, n, id=f"raw-parent-{uuid.uuid4().hex[:6]}", task_queue=RAW_QUEUE)
    return time.perf_counter() - t


async def naive_sample(client: Client, n: int, limit: float) -> float:
    """Seconds from the first start until every one of `n` obligation workflows, started from a
    client, has set its deadline's timer (read from the server's event times): a measured sample
    of the naive design."""
    t0 = time.time()
    run = uuid.uuid4().hex[:6]
    sem = asyncio.Semaphore(CONCURRENT_CLIENT_CALLS)
    ids = [f"naive-{run}-{i}" for i in range(n)]

    async def start(wf: str) -> None:
        async with sem:
            await client.start_workflow(ObligationWorkflow.run, id=wf, task_queue=RAW_QUEUE)

    await asyncio.gather(*(start(wf) for wf in ids))
    deadline = time.time() + limit

    async def timer_at(wf: str) -> float:
        async with sem:
            return event_seconds(await first_event(client, wf, EventType.EVENT_TYPE_TIMER_STARTED, deadline=deadline))

    return max(await asyncio.gather(*(timer_at(wf) for wf in ids))) - t0


async def raw_storm(client: Client, *, workflows: int, timers: int, lead: float, limit: float) -> list[float]:
    """The raw engine's timer storm: `workflows` workflows of `timers` plain timers each, all due
    `lead` seconds from now; each timer's lag (seconds) from the due instant to its TimerFired
    event, read from the server's event times."""
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
    run = uuid.uuid4().hex[:6]
    sem = asyncio.Semaphore(CONCURRENT_CLIENT_CALLS)
    ids = [f"storm-{run}-{i}" for i in range(workflows)]

    async def start(wf: str) -> None:
        async with sem:
            await client.start_workflow(
                TimersWorkflow.run, TimerStorm(due=due, timers=timers), id=wf, task_queue=RAW_QUEUE
            )

    await asyncio.gather(*(start(wf) for wf in ids))
    if time.time() > due.timestamp():
        raise TimeoutError(f"the raw storm's {workflows} workflows were not started within its {lead:g} s lead")

    async def lags(wf: str) -> list[float]:
        async with sem:
            await asyncio.wait_for(client.get_workflow_handle(wf).result(), timeout=max(1.0, deadline - time.time()))
            events = (await client.get_workflow_handle(wf).fetch_history()).events
        return [event_seconds(e) - due.timestamp() for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]

    deadline = due.timestamp() + limit
    await asyncio.sleep(max(0.0, due.timestamp() - time.time()))
    return [x for found in await asyncio.gather(*(lags(wf) for wf in ids)) for x in found]


def percentile(xs: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of a non-empty list."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))
