"""`duban audit verify`: the chain, the histories' replay, and the cross-check catch tampering.

One mini campaign is run for the module; each tamper happens inside a transaction that is rolled
back, so every test starts from the untouched record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from activities import history
from activities.history_cost import engine_cost
from activities.history_files import load_histories
from activities.store.audit import content_digest, link
from activities.store.db import make_engine
from models.payloads import Act
from services.audit import campaign_roots, verify_campaign
from tests.integration import mini

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def campaign(db_url: str) -> AsyncIterator[tuple[str, list[WorkflowHistory], AsyncEngine]]:
    async with mini.rehearsed(db_url) as r:
        histories = await history.collect(r.env.client, [r.campaign_id])
    engine = make_engine(db_url)
    yield r.campaign_id, histories, engine
    await engine.dispose()


async def verdict(conn: AsyncConnection, cid: str, histories: list[WorkflowHistory]) -> history.Verdict:
    return await verify_campaign(conn, cid, histories=histories)


async def row(conn: AsyncConnection, cid: str, where: str) -> Any:
    q = f"SELECT * FROM audit_events WHERE campaign_id = :c AND {where} ORDER BY seq LIMIT 1"
    return (await conn.execute(text(q), {"c": cid})).mappings().one()


async def test_an_untouched_campaign_holds(campaign: tuple[str, list[WorkflowHistory], AsyncEngine]) -> None:
    cid, histories, engine = campaign
    async with engine.connect() as conn:
        v = await verdict(conn, cid, histories)
    assert v.ok, v.problems()
    # The campaign, 2 phases, the monthly cycle, 5 units, west's one rectification order (the
    # later bulletins add to it: the office's one open order per unit; the agencies are the
    # test's own).
    assert v.histories == len(histories) == 10
    # 3 reminders + 6 escalations + 3 notices + state changes + launch + close, all traced.
    assert v.effects >= 12 + 2


async def test_a_wake_ups_writes_run_locally_and_are_still_held_against_the_chain(
    campaign: tuple[str, list[WorkflowHistory], AsyncEngine],
) -> None:
    """Deliveries, mirrors and an order's steps ran as local activities (markers, no activity
    tasks), and the untouched campaign above holds: their markers are matched row for row
    (`test_a_deleted_row_is_named` finds a delivery's reminder through one)."""
    _, histories, _ = campaign
    scheduled = {
        e.activity_task_scheduled_event_attributes.activity_type.name
        for h in histories
        for e in h.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    assert not scheduled & {Act.deliver, Act.mirror, Act.rectification_open, Act.rectification_step}
    ran = {done[0] for h in histories for e in h.events if (done := history.local_activity(e)) is not None}
    assert {Act.deliver_here, Act.rectification_open_here, Act.rectification_step_here} <= ran
    cost = engine_cost(histories)
    assert 0 < cost["local_activities"] < cost["activities"]


async def test_an_edited_row_is_named(campaign: tuple[str, list[WorkflowHistory], AsyncEngine]) -> None:
    cid, histories, engine = campaign
    async with engine.connect() as conn, conn.begin() as tx:
        target = await row(conn, cid, "kind = 'escalation'")
        await conn.execute(
            text("UPDATE audit_events SET actor = 'rule:nothing-to-see' WHERE campaign_id = :c AND seq = :s"),
            {"c": cid, "s": target["seq"]},
        )
        v = await verdict(conn, cid, histories)
        await tx.rollback()
    assert not v.ok
    assert v.chain.problems[0].startswith(f"row {target['seq']} (escalation {target['event_key']}): content changed")


async def test_a_payload_edited_behind_its_digest_is_named(
    campaign: tuple[str, list[WorkflowHistory], AsyncEngine],
) -> None:
    cid, histories, engine = campaign
    async with engine.connect() as conn, conn.begin() as tx:
        target = await row(conn, cid, "kind = 'notice'")
        forged = target["payload"].replace('"level":2', '"level":1')
        assert forged != target["payload"]
        await conn.execute(
            text("UPDATE audit_events SET payload = :p WHERE campaign_id = :c AND seq = :s"),
            {"p": forged, "c": cid, "s": target["seq"]},
        )
        v = await verdict(conn, cid, histories)
        await tx.rollback()
    assert (
        v.chain.problems[0]
        == f"row {target['seq']} (notice {target['event_key']}): payload changed after it was written"
    )


async def test_a_deleted_row_is_named(campaign: tuple[str, list[WorkflowHistory], AsyncEngine]) -> None:
    cid, histories, engine = campaign
    async with engine.connect() as conn, conn.begin() as tx:
        target = await row(conn, cid, "kind = 'reminder'")
        await conn.execute(
            text("DELETE FROM audit_events WHERE campaign_id = :c AND seq = :s"), {"c": cid, "s": target["seq"]}
        )
        v = await verdict(conn, cid, histories)
        await tx.rollback()
    assert f"expected row {target['seq']}: a row is missing" in v.chain.problems[0]
    # And Temporal still remembers the reminder the chain lost.
    assert f"Temporal recorded {target['event_key']}, but the audit trail has no row for it" in v.cross


async def test_two_reordered_rows_are_named(campaign: tuple[str, list[WorkflowHistory], AsyncEngine]) -> None:
    cid, histories, engine = campaign
    async with engine.connect() as conn, conn.begin() as tx:
        a = await row(conn, cid, "kind = 'escalation'")
        swap = "UPDATE audit_events SET seq = :to WHERE campaign_id = :c AND seq = :s"
        await conn.execute(text(swap), {"to": -1, "c": cid, "s": a["seq"]})
        await conn.execute(text(swap), {"to": a["seq"], "c": cid, "s": a["seq"] + 1})
        await conn.execute(text(swap), {"to": a["seq"] + 1, "c": cid, "s": -1})
        v = await verdict(conn, cid, histories)
        await tx.rollback()
    assert v.chain.problems[0].startswith(f"row {a['seq']} (")
    assert "does not link to the row before it" in v.chain.problems[0]


async def test_a_forged_row_is_named_even_when_the_forger_rebuilds_the_chain(
    campaign: tuple[str, list[WorkflowHistory], AsyncEngine],
) -> None:
    """Appending a row whose hashes the forger computed correctly keeps the chain whole; the
    cross-check still finds it, because no workflow ever asked for it."""
    cid, histories, engine = campaign
    async with engine.connect() as conn, conn.begin() as tx:
        last = await row(conn, cid, "seq = (SELECT max(seq) FROM audit_events WHERE campaign_id = :c)")
        forged = {
            **dict(last),
            "seq": last["seq"] + 1,
            "event_key": f"{cid}#forged",
            "kind": "escalation",
            "prev_hash": last["hash"],
        }
        forged["hash"] = link(last["hash"], content_digest(forged))
        cols = ", ".join(forged)
        await conn.execute(
            text(f"INSERT INTO audit_events ({cols}) VALUES ({', '.join(':' + k for k in forged)})"), forged
        )
        await conn.execute(
            text("UPDATE audit_heads SET seq = :s, hash = :h WHERE campaign_id = :c"),
            {"s": forged["seq"], "h": forged["hash"], "c": cid},
        )
        v = await verdict(conn, cid, histories)
        await tx.rollback()
    assert v.chain.ok, v.chain.problems
    assert v.cross == [f"audit row {cid}#forged (escalation) matches no activity recorded in Temporal's history"]
    assert not v.ok


async def test_rows_cut_from_the_end_are_named(campaign: tuple[str, list[WorkflowHistory], AsyncEngine]) -> None:
    cid, histories, engine = campaign
    async with engine.connect() as conn, conn.begin() as tx:
        await conn.execute(
            text(
                "DELETE FROM audit_events WHERE campaign_id = :c AND seq = "
                "(SELECT max(seq) FROM audit_events WHERE campaign_id = :c)"
            ),
            {"c": cid},
        )
        v = await verdict(conn, cid, histories)
        await tx.rollback()
    assert "rows were cut from the end" in v.chain.problems[0]


async def test_a_hash_overwritten_with_garbage_is_named_not_a_crash(
    campaign: tuple[str, list[WorkflowHistory], AsyncEngine],
) -> None:
    cid, histories, engine = campaign
    async with engine.connect() as conn, conn.begin() as tx:
        target = await row(conn, cid, "kind = 'reminder'")
        await conn.execute(
            text("UPDATE audit_events SET hash = 'not-a-hash' WHERE campaign_id = :c AND seq = :s"),
            {"c": cid, "s": target["seq"]},
        )
        v = await verdict(conn, cid, histories)
        await tx.rollback()
    assert v.chain.problems[0].startswith(f"row {target['seq']} (reminder {target['event_key']}): content changed")


async def test_histories_under_any_names_and_a_subset(
    campaign: tuple[str, list[WorkflowHistory], AsyncEngine], tmp_path: Path
) -> None:
    """Files named as an auditor likes (the time-skipping server writes no workflow id in a
    history, so the parents' histories name their children); then one unit's workflows alone."""
    cid, histories, engine = campaign
    for i, h in enumerate(histories):
        (tmp_path / f"{i:03d}.json").write_text(h.to_json())
    loaded = load_histories(tmp_path, roots=campaign_roots(cid))
    assert sorted(h.workflow_id for h in loaded.histories) == sorted(h.workflow_id for h in histories)
    async with engine.connect() as conn:
        v = await verify_campaign(conn, cid, histories=loaded.histories, not_given=len(loaded.not_given))
    assert v.ok and not v.subset, v.problems()

    unit = next(h for h in histories if h.workflow_id.endswith("/west"))
    sub = tmp_path / "west"
    sub.mkdir()
    (sub / "west.json").write_text(unit.to_json())
    # The file alone cannot say its id (no parent given, no id written): named as `save` does.
    (sub / "west.json").rename(sub / f"{unit.workflow_id.replace('/', '__')}__{unit.run_id}.json")
    part = load_histories(sub)
    async with engine.connect() as conn:
        v = await verify_campaign(conn, cid, histories=part.histories, not_given=len(part.not_given))
    assert v.ok, v.problems()
    assert v.subset and v.histories == 1 and v.unchecked_rows > 0
    assert v.effects > 0  # west's own reminders, escalations and state changes were held against the chain
