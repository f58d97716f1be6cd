"""Calls of one activity arriving together, carried out together: group commit in the worker.

A timer storm wakes a thousand unit workflows at one instant, and each sends one `deliver`: a
thousand transactions, each locking its campaign's chain head until it commits, one after
another (issue 16). A `Gatherer` hands the calls that arrive while one batch is being written,
or within `wait` of the first, to one `run` (at most `most` at a time); each caller gets its own
result back. Under no load a call waits `wait` at most; under load batches grow by themselves,
since everything that arrived during a batch's transaction goes into the next.

Batches run one after another: what they write queues on the campaign's chain anyway, and a
batch's `run` never raises into its callers' futures unless it is broken (`run` answers each
call, `None` telling a caller to do its work alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.config import Settings
from activities.store import audit
from models.payloads import Provenance

T = TypeVar("T")
R = TypeVar("R")

log = structlog.get_logger()


@dataclass(frozen=True)
class Gathering:
    """How calls are gathered: at most `most` in one batch, the first waiting `wait` seconds for
    company. `most` of 1 gathers nothing."""

    most: int
    wait: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Gathering | None:
        if settings.deliver_batch_max <= 1:
            return None
        return cls(most=settings.deliver_batch_max, wait=settings.deliver_batch_wait_ms / 1000)


class Gatherer(Generic[T, R]):
    """`keys` names what each call writes under its idempotency keys: a call sharing a key with
    one already in a batch waits for the next batch. Within one transaction a second writer of a
    key cannot see the first's rows that are written last (the audit chain's), so it would do its
    work again (an open order raised twice); in the next batch it finds the first's committed."""

    def __init__(
        self,
        run: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        how: Gathering,
        keys: Callable[[T], Iterable[Hashable]] | None = None,
    ) -> None:
        self._run = run
        self._how = how
        self._keys = keys
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """`item`'s result, from the batch it went into. A caller cancelled while waiting leaves
        its item in the batch if the batch has begun (what it writes is idempotent: a retry finds
        it there); otherwise its item is dropped."""
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        if len(self._pending) >= self._how.most:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            # In a context of its own: not the first caller's (its activity's log fields and
            # heartbeat belong to that call, not to the batch).
            self._flusher = asyncio.create_task(self._flush(), context=contextvars.Context())
        return await fut

    async def _flush(self) -> None:
        with contextlib.suppress(TimeoutError):  # the wait is up: what has come goes
            await asyncio.wait_for(self._full.wait(), self._how.wait)
        while self._pending:
            self._full.clear()
            taken, self._pending = self._take()
            if not taken:
                continue
            try:
                results = await self._run([item for item, _ in taken])
            except Exception as e:  # `run` answers each call itself; this is a bug, told to each
                log.exception("a gathered batch failed as a whole")
                for _, fut in taken:
                    if not fut.done():
                        fut.set_exception(e)
                continue
            for (_, fut), result in zip(taken, results, strict=True):
                if not fut.done():
                    fut.set_result(result)

    def _take(self) -> tuple[list[tuple[T, asyncio.Future[R]]], list[tuple[T, asyncio.Future[R]]]]:
        """The next batch (callers cancelled while queued left out), and what stays pending."""
        taken: list[tuple[T, asyncio.Future[R]]] = []
        later: list[tuple[T, asyncio.Future[R]]] = []
        claimed: set[Hashable] = set()
        for item, fut in self._pending:
            if fut.done():
                continue  # cancelled while queued
            mine = set(self._keys(item)) if self._keys is not None else set()
            if len(taken) >= self._how.most or claimed & mine:
                later.append((item, fut))
                continue
            claimed |= mine
            taken.append((item, fut))
        return taken, later


Written = tuple[R, Provenance, Sequence[audit.Event]]
"""One call's writes done in a shared transaction: its result, and the audit rows it appends."""


async def in_one_transaction(
    db: AsyncEngine,
    batch: Sequence[T],
    write: Callable[[AsyncConnection, T], Awaitable[Written[R]]],
    *,
    what: str,
    first: Callable[[AsyncConnection], Awaitable[object]] | None = None,
) -> list[R | None]:
    """A `Gatherer`'s `run` for writers to one audit chain (`deliver`, `mirror`): every call's
    writes in turn in one transaction (after `first`, for writes done once for all), then every
    audit row in one append per campaign, last, so the chain's head is locked only for the
    append and the commit. If anything fails, nothing of the batch is committed and each call is
    told to write alone (None): a bad one then fails by itself and retries on its own."""
    if len(batch) == 1:
        return [None]
    try:
        async with db.begin() as conn:
            if first is not None:
                await first(conn)
            written = [await write(conn, call) for call in batch]
            await audit.append_all(conn, [(prov, events) for _, prov, events in written])
    except Exception:
        log.warning(f"gathered {what} failed together: each writes alone", exc_info=True, n=len(batch))
        return [None] * len(batch)
    return [out for out, _, _ in written]
