"""Reminders armed ahead of their instant (issue 16's timer storm, `rules.arming`): on the real
time-skipping server and real PostgreSQL, the mini campaign launched as a live one is."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities import history
from activities.campaign.common import campaign_counts
from activities.delivery import InboxItem, arm_inboxes
from activities.store.audit import verify
from activities.store.tables import audit_events, inbox
from activities.store.views import inbox_page
from models.obligation import unit_workflow_id
from models.payloads import AgencyDay, AgencyInput, AgencyMove, CampaignInput, CampaignResult
from models.plan import PhaseKind
from models.time import at
from services.audit import verify_campaign
from tests.integration import mini
from worker import build_worker
from workflows import AgencyWorkflow

pytestmark = pytest.mark.integration

AHEAD = 600


def armed(inp: CampaignInput) -> CampaignInput:
    """The campaign as `duban launch` starts it: its units arm their reminders `AHEAD` seconds early."""
    return inp.model_copy(update={"context": inp.context.model_copy(update={"arm_ahead_seconds": AHEAD})})


async def reminder_rows(engine: AsyncEngine, cid: str) -> list[dict[str, object]]:
    q = select(inbox).where(inbox.c.campaign_id == cid, inbox.c.kind == "reminder")
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(q)).mappings()]


async def chain_reminders(engine: AsyncEngine, cid: str) -> set[str]:
    q = select(audit_events.c.event_key).where(audit_events.c.campaign_id == cid, audit_events.c.kind == "reminder")
    async with engine.connect() as conn:
        return set((await conn.execute(q)).scalars())


async def test_armed_reminders_show_from_their_instant_and_are_confirmed_by_its_delivery(
    env: WorkflowEnvironment, engine: AsyncEngine
) -> None:
    queue = str(uuid.uuid4())
    inp = armed(mini.new_campaign(await env.get_current_time()))
    cid = inp.context.campaign_id
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
        result: CampaignResult = await (await mini.start(env.client, inp, queue)).result()
        histories = await history.collect(env.client, [cid])

    # The same deliveries, papers and counts as the campaign that writes at the instant.
    assert await mini.deliveries(engine, cid) == mini.expected_deliveries(cid)
    assert await mini.notices(engine, cid) == [("测督〔2022〕1号", "west", "T01-basic", "2022-01-10")]
    assert result.counts["reminders"] == 3
    rows = await reminder_rows(engine, cid)
    assert len(rows) == 3
    for r in rows:
        # Written ahead, shown from the firing's own instant, confirmed by the delivery at it.
        assert r["visible_from"] == r["server_time"], r
        assert r["confirmed_at"] is not None, r
    # The chain records each reminder once, as delivered; nothing else was armed or left armed.
    assert await chain_reminders(engine, cid) == {r["idempotency_key"] for r in rows}
    async with engine.connect() as conn:
        left = (
            await conn.execute(
                select(inbox.c.idempotency_key).where(
                    inbox.c.campaign_id == cid, inbox.c.visible_from.is_not(None), inbox.c.confirmed_at.is_(None)
                )
            )
        ).all()
        report = await verify(conn, cid)
    assert left == []
    assert report.ok, report.problems
    # Its histories replay through the code (arming included) and match the chain row for row.
    async with engine.connect() as conn:
        verdict = await verify_campaign(conn, cid, histories=histories)
    assert verdict.ok, verdict.problems()
    # Only reminders are armed: escalations, notices and orders are written at their instant.
    async with engine.connect() as conn:
        kinds = set(
            (
                await conn.execute(
                    select(inbox.c.kind).where(inbox.c.campaign_id == cid, inbox.c.visible_from.is_not(None))
                )
            ).scalars()
        )
    assert kinds == {"reminder"}

    # What the unit and the counts see of rows armed for a later instant and for one just past.
    now = datetime.now(UTC)
    items = [
        InboxItem(
            key=f"{cid}#probe-{n}", campaign_id=cid, recipient="west", kind="reminder", title=f"probe {n}",
            body="", plan_time=now, server_time=now + shift,
        )
        for n, shift in ((1, timedelta(hours=1)), (2, timedelta(seconds=-1)))
    ]  # fmt: skip
    async with engine.begin() as conn:
        await arm_inboxes(conn, items)
    async with engine.connect() as conn:
        page = await inbox_page(conn, unit="west", campaign=cid, limit=100)
        counts = await campaign_counts(conn, cid)
    titles = {m.title for m in page.messages}
    assert "probe 2" in titles and "probe 1" not in titles
    assert counts["reminders"] == 3  # armed but not delivered: not counted


async def test_a_reminder_armed_then_made_moot_before_its_instant_is_disarmed(
    env: WorkflowEnvironment, engine: AsyncEngine
) -> None:
    """West completes its roads task at 08:55, after its reminders of 09:00 were armed (at 08:50):
    that one is taken back, never shown as delivered and never on the chain; the others are."""
    queue = str(uuid.uuid4())
    inp = armed(mini.new_campaign(await env.get_current_time()))
    ctx = inp.context
    cid = ctx.campaign_id
    wf = unit_workflow_id(cid, PhaseKind.rollout, "west")
    roads = f"{wf}/T01-basic"
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
        handle = await mini.start(env.client, inp, queue)
        days = [
            AgencyDay(
                plan_time=at(date(2021, 12, 28), "08:52"), moves=[AgencyMove(verb="acknowledge", obligation_id=roads)]
            ),
            AgencyDay(
                plan_time=at(date(2021, 12, 28), "08:55"), moves=[AgencyMove(verb="complete", obligation_id=roads)]
            ),
        ]
        await env.client.start_workflow(
            AgencyWorkflow.run,
            AgencyInput(context=ctx, workflow_id=wf, unit_id="west", days=days),
            id=f"{wf}/agency",
            task_queue=queue,
        )
        await handle.result()

    rows = await reminder_rows(engine, cid)
    assert sorted(str(r["obligation_id"]).rsplit("/", 1)[1] for r in rows) == ["T02-basic", "T03-basic"]
    assert all(r["confirmed_at"] is not None for r in rows)
    assert await chain_reminders(engine, cid) == {r["idempotency_key"] for r in rows}
    async with engine.connect() as conn:
        report = await verify(conn, cid)
    assert report.ok, report.problems
