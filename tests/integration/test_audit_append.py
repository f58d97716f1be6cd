"""Appending to a campaign's chain (`activities.store.audit.append`): idempotent by event key,
serialised by the head's lock, so appenders racing with the same and different keys (a retried
activity beside the attempt it retries) leave one unbroken chain with each event once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.store import audit
from activities.store.tables import audit_events, audit_heads
from models.payloads import Provenance
from tests.integration.mini import registered


def events(keys: list[str]) -> list[audit.Event]:
    now = datetime.now(UTC)
    return [
        audit.Event(
            key=k, kind="test", plan_time=now, server_time=now, actor="office", payload={"k": k}, unit_id="west"
        )
        for k in keys
    ]


async def appended(engine: AsyncEngine, prov: Provenance, keys: list[str]) -> int:
    async with engine.begin() as conn:
        return await audit.append(conn, prov, events(keys))


async def test_racing_appenders_leave_each_event_once_in_one_unbroken_chain(engine: AsyncEngine) -> None:
    _, prov, _ = await registered(engine)
    cid = prov.campaign_id
    async with engine.connect() as conn:
        before = (await conn.execute(select(audit_heads.c.seq).where(audit_heads.c.campaign_id == cid))).scalar_one()

    # Eight appenders at once: every key is wanted by two of them, and each has one of its own.
    wanted = [[f"shared-{i // 2}", f"own-{i}"] for i in range(8)]
    new = await asyncio.gather(*(appended(engine, prov, keys) for keys in wanted))

    assert sum(new) == 4 + 8  # each shared key once, each own key once
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_events.c.seq, audit_events.c.event_key)
                .where(audit_events.c.campaign_id == cid, audit_events.c.seq > before)
                .order_by(audit_events.c.seq)
            )
        ).all()
        assert [r.seq for r in rows] == list(range(before + 1, before + 13))
        assert sorted(r.event_key for r in rows) == sorted({k for keys in wanted for k in keys})
        report = await audit.verify(conn, cid)
    assert report.ok, report.problems
    assert report.rows == before + 12

    # The same appends again (retries after a commit the caller never heard of): nothing new.
    assert await asyncio.gather(*(appended(engine, prov, keys) for keys in wanted)) == [0] * 8


async def test_an_append_opening_its_transaction_rolls_back_with_it(engine: AsyncEngine) -> None:
    """The first statement of a transaction may be the append itself: its rows and the head's move
    are the transaction's, and leave nothing behind when it rolls back."""
    _, prov, _ = await registered(engine)
    cid = prov.campaign_id
    async with engine.connect() as conn:
        head = (await conn.execute(select(audit_heads).where(audit_heads.c.campaign_id == cid))).one()
    async with engine.connect() as conn:
        tx = await conn.begin()
        assert await audit.append(conn, prov, events(["rolled-back"])) == 1
        await tx.rollback()
    async with engine.connect() as conn:
        assert (await conn.execute(select(audit_heads).where(audit_heads.c.campaign_id == cid))).one() == head
        keys = (await conn.execute(select(audit_events.c.event_key).where(audit_events.c.campaign_id == cid))).scalars()
        assert "rolled-back" not in set(keys)
        assert (await audit.verify(conn, cid)).ok
