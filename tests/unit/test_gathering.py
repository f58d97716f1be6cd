"""`activities.gathering`: calls arriving together carried out together, each answered alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from activities.gathering import Gatherer, Gathering


class Doubler:
    """A batch's run: doubles each item, remembers each batch; `gate` holds a batch open."""

    def __init__(self, gate: asyncio.Event | None = None, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate
        self.fail_on = fail_on

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_on in items:
            raise RuntimeError("broken batch")
        return [2 * i for i in items]


async def test_calls_arriving_together_run_as_one_batch_each_answered_with_its_own_result() -> None:
    run = Doubler()
    g = Gatherer(run, Gathering(most=3, wait=60.0))  # the batch fills long before its wait is up
    assert await asyncio.gather(g.submit(1), g.submit(2), g.submit(3)) == [2, 4, 6]
    assert run.batches == [[1, 2, 3]]


async def test_a_batch_holds_at_most_most_and_what_arrives_during_one_goes_into_the_next() -> None:
    gate = asyncio.Event()
    run = Doubler(gate)
    g = Gatherer(run, Gathering(most=2, wait=0.0))
    first = asyncio.gather(g.submit(1))
    await asyncio.sleep(0.01)  # the first batch is open, held by the gate
    rest = asyncio.gather(*(g.submit(i) for i in range(2, 7)))
    await asyncio.sleep(0.01)
    gate.set()
    assert await first == [2]
    assert await rest == [4, 6, 8, 10, 12]
    assert run.batches == [[1], [2, 3], [4, 5], [6]]


async def test_a_run_that_raises_fails_its_own_callers_and_the_next_batch_still_runs() -> None:
    run = Doubler(fail_on=2)
    g = Gatherer(run, Gathering(most=2, wait=60.0))
    broken = await asyncio.gather(g.submit(1), g.submit(2), return_exceptions=True)
    assert [type(r) for r in broken] == [RuntimeError, RuntimeError]
    assert await asyncio.gather(g.submit(3), g.submit(4)) == [6, 8]


async def test_a_caller_cancelled_while_queued_is_left_out_of_the_batch() -> None:
    run = Doubler()
    g = Gatherer(run, Gathering(most=10, wait=0.05))
    gone = asyncio.ensure_future(g.submit(1))
    kept = asyncio.ensure_future(g.submit(2))
    await asyncio.sleep(0)
    gone.cancel()
    assert await kept == 4
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert run.batches == [[2]]


async def test_a_call_sharing_a_key_with_one_in_the_batch_waits_for_the_next_batch() -> None:
    # A retry arriving beside its first attempt: in one transaction the second writer of a key
    # cannot see the first's rows written last, so it must see them committed instead.
    run = Doubler()
    g = Gatherer(run, Gathering(most=10, wait=0.0), keys=lambda i: [i % 10])
    done = asyncio.gather(*(g.submit(i) for i in (1, 2, 11, 3, 21, 12)))  # all queued before the flush
    assert await done == [2, 4, 22, 6, 42, 24]
    assert run.batches == [[1, 2, 3], [11, 12], [21]]


def test_a_most_of_one_gathers_nothing() -> None:
    from activities.config import Settings

    assert Gathering.from_settings(Settings(deliver_batch_max=1)) is None
    assert Gathering.from_settings(Settings(deliver_batch_max=8, deliver_batch_wait_ms=5)) == Gathering(8, 0.005)
