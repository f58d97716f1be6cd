"""Deliveries and mirrors arriving together written in one transaction (`activities.gathering`,
issue 16's timer storm): each row still once, by the same keys; a shared transaction that fails leaves each
delivery to write alone, so a bad one fails by itself and nothing is lost or written twice."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.campaign import CampaignActivities
from activities.delivery import InboxItem
from activities.gathering import Gathering
from activities.store import audit
from activities.store.tables import audit_events, inbox, obligations
from models.obligation import ObligationState
from models.payloads import DeliverBatch, DeliverResult, MirrorBatch, Provenance, StateChange
from models.time import at
from tests.integration.mini import registered, wake_up

DAY = date(2021, 12, 28)
TOWNS = ("west", "east")
TASKS = ("T01", "T02", "T03")


class Recording(CampaignActivities):
    """Deliveries gathered (a batch fills at three, long before its wait is up), the size of each
    shared transaction remembered; a town named in `broken` cannot be written, together or alone."""

    def __init__(self, engine: AsyncEngine, broken: str | None = None) -> None:
        super().__init__(engine, gathering=Gathering(most=3, wait=30.0))
        self.batches: list[int] = []
        self.broken = broken

    async def _deliver_together(self, batch: Sequence[DeliverBatch]) -> list[DeliverResult | None]:
        self.batches.append(len(batch))
        return await super()._deliver_together(batch)

    async def _write(
        self, conn: AsyncConnection, inp: DeliverBatch, plain: list[InboxItem], new: set[str]
    ) -> tuple[DeliverResult, list[audit.Event]]:
        if any(a.unit_id == self.broken for a in inp.actions):
            raise RuntimeError(f"{self.broken} cannot be written")
        return await super()._write(conn, inp, plain, new)


def reminders(prov: Provenance, unit: str) -> DeliverBatch:
    """One town's wake-up at the storm's instant: its three tasks' 到期前催办."""
    return wake_up(prov, unit, at(DAY, "09:00"), TASKS)


async def chained(engine: AsyncEngine, cid: str, kind: str, column: Any) -> tuple[list[tuple[str, str]], list[int]]:
    """Each `kind` audit row's (event key, workflow id), in chain order, and the towns'
    obligations' `column`, by obligation id; the chain checked whole."""
    async with engine.connect() as conn:
        chain = (
            await conn.execute(
                select(audit_events.c.event_key, audit_events.c.workflow_id)
                .where(audit_events.c.campaign_id == cid, audit_events.c.kind == kind)
                .order_by(audit_events.c.seq)
            )
        ).all()
        values = (
            await conn.execute(
                select(column)
                .where(obligations.c.campaign_id == cid, obligations.c.unit_id.in_(TOWNS))
                .order_by(obligations.c.id)
            )
        ).scalars()
        report = await audit.verify(conn, cid)
    assert report.ok, report.problems
    return [(k, w) for k, w in chain], list(values)


async def written(engine: AsyncEngine, cid: str) -> tuple[int, list[tuple[str, str]], list[int]]:
    """Inbox rows, each 催办 audit row's (event key, workflow id), every obligation's 催办 count."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(inbox).where(inbox.c.campaign_id == cid))).scalar()
    chain, counts = await chained(engine, cid, "reminder", obligations.c.reminders)
    return int(rows or 0), chain, counts


async def test_deliveries_arriving_together_share_one_transaction_and_a_retry_writes_nothing(
    engine: AsyncEngine,
) -> None:
    _, prov, _ = await registered(engine)
    cid = prov.campaign_id
    acts = Recording(engine)
    west, east = reminders(prov, "west"), reminders(prov, "east")

    # The two towns' wake-ups and a retry of the west's that arrives while its first attempt is
    # still waiting: the towns share one transaction; the retry, sharing the west's keys, waits
    # for the next batch and finds them committed: each key delivered once, as alone.
    first = await asyncio.gather(acts.deliver(west), acts.deliver(east), acts.deliver(west))
    assert acts.batches == [2, 1]  # the retry's batch of one writes alone
    assert sorted((r.delivered, r.already) for r in first) == [(0, 3), (3, 0), (3, 0)]
    rows, chain, counts = await written(engine, cid)
    assert rows == 6
    # Each delivery's audit rows carry its own unit workflow, in its own order on one chain.
    assert chain == [(a.key, b.provenance.workflow_id) for b in (west, east) for a in b.actions]
    assert counts == [1] * 6

    # All three retried after their commit: nothing written twice, the counts bumped once.
    again = await asyncio.gather(acts.deliver(west), acts.deliver(east), acts.deliver(west))
    assert acts.batches == [2, 1, 2, 1]
    assert [(r.delivered, r.already) for r in again] == [(0, 3)] * 3
    assert await written(engine, cid) == (rows, chain, counts)


async def test_a_failure_in_a_shared_transaction_leaves_each_delivery_to_write_alone(engine: AsyncEngine) -> None:
    _, prov, _ = await registered(engine)
    cid = prov.campaign_id
    acts = Recording(engine, broken="east")
    west, east = reminders(prov, "west"), reminders(prov, "east")
    lone = reminders(prov, "west").model_copy(update={"actions": reminders(prov, "west").actions[:1]})

    results = await asyncio.gather(acts.deliver(west), acts.deliver(east), acts.deliver(lone), return_exceptions=True)
    assert acts.batches == [2, 1]  # the towns' shared transaction failed as a whole …
    # … so each wrote alone: the east's failed by itself (its activity retries on its own); the
    # west's, and its lone retry in the next batch, delivered each row once between them.
    assert isinstance(results[1], RuntimeError)
    alone = [r for r in (results[0], results[2]) if isinstance(r, DeliverResult)]
    assert sum(r.delivered for r in alone) == 3 and sum(r.already for r in alone) == 1
    rows, chain, counts = await written(engine, cid)
    assert rows == 3
    assert chain == [(a.key, west.provenance.workflow_id) for a in west.actions]
    assert counts == [0, 0, 0, 1, 1, 1]  # east's three, then west's, by obligation id

    # Once the east can be written, its retry gathered with the west's writes its rows alone.
    acts.broken = None
    retried = await asyncio.gather(acts.deliver(east), acts.deliver(west), acts.deliver(lone))
    assert acts.batches == [2, 1, 2, 1]
    assert [(r.delivered, r.already) for r in retried] == [(3, 0), (0, 3), (0, 1)]
    assert (await written(engine, cid))[0] == 6


class MirrorRecording(CampaignActivities):
    """Mirrors gathered (a batch fills at three), the size of each shared transaction remembered;
    a town named in `broken` cannot be written, together or alone."""

    def __init__(self, engine: AsyncEngine, broken: str | None = None) -> None:
        super().__init__(engine, gathering=Gathering(most=3, wait=30.0))
        self.batches: list[int] = []
        self.broken = broken

    async def _mirror_together(self, batch: Sequence[MirrorBatch]) -> list[int | None]:
        self.batches.append(len(batch))
        return await super()._mirror_together(batch)

    async def _mirror_rows(self, conn: AsyncConnection, inp: MirrorBatch) -> list[audit.Event]:
        if any(c.unit_id == self.broken for c in inp.changes):
            raise RuntimeError(f"{self.broken} cannot be written")
        return await super()._mirror_rows(conn, inp)


def progress_of(prov: Provenance, unit: str) -> MirrorBatch:
    """A town's 进展 on its three tasks, mirrored from its own unit workflow."""
    cid = prov.campaign_id
    changes = [
        StateChange(
            key=f"{unit}-{t}-progress",
            obligation_id=f"{cid}/rollout/{unit}/{t}-basic",
            unit_id=unit,
            actor=unit,
            state=ObligationState.in_progress,
            progress=40,
            plan_time=at(DAY, "10:00"),
            server_time=at(DAY, "10:00"),
        )
        for t in TASKS
    ]
    own = prov.model_copy(update={"workflow_id": f"{cid}/rollout/{unit}", "run_id": f"run-{unit}"})
    return MirrorBatch(provenance=own, changes=changes)


async def mirrored(engine: AsyncEngine, cid: str) -> tuple[list[tuple[str, str]], list[int]]:
    """Each 进展 audit row's (event key, workflow id), in chain order; every obligation's progress."""
    return await chained(engine, cid, "obligation.in_progress", obligations.c.progress)


async def test_mirrors_arriving_together_keep_both_chains_rows_and_a_retry_writes_nothing(engine: AsyncEngine) -> None:
    _, prov, _ = await registered(engine)
    cid = prov.campaign_id
    acts = MirrorRecording(engine)
    west, east = progress_of(prov, "west"), progress_of(prov, "east")

    # Two towns' mirrors share one transaction; the west's retry, sharing its keys, waits for the
    # next batch and finds them committed.
    assert list(await asyncio.gather(acts.mirror(west), acts.mirror(east), acts.mirror(west))) == [3, 3, 3]
    assert acts.batches == [2, 1]
    chain, progress = await mirrored(engine, cid)
    # Both mirrors' rows on the one chain, each with its own unit workflow, in its own order.
    assert chain == [(c.key, b.provenance.workflow_id) for b in (west, east) for c in b.changes]
    assert progress == [40] * 6
    await asyncio.gather(acts.mirror(east), acts.mirror(west))
    assert acts.batches == [2, 1, 2]
    assert await mirrored(engine, cid) == (chain, progress)


async def test_a_failure_in_a_shared_mirror_leaves_each_to_write_alone(engine: AsyncEngine) -> None:
    _, prov, _ = await registered(engine)
    acts = MirrorRecording(engine, broken="east")
    west, east = progress_of(prov, "west"), progress_of(prov, "east")

    results = await asyncio.gather(acts.mirror(west), acts.mirror(east), return_exceptions=True)
    assert acts.batches == [2]
    assert results[0] == 3 and isinstance(results[1], RuntimeError)  # the east failed by itself
    chain, progress = await mirrored(engine, prov.campaign_id)
    assert chain == [(c.key, west.provenance.workflow_id) for c in west.changes]
    assert progress == [0, 0, 0, 40, 40, 40]  # east's three, then west's, by obligation id
