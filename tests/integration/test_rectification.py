"""责令整改 as workflows, on the real time-skipping server and real PostgreSQL: the mini campaign's
orders to west (who never answers) escalate and stay in the bulletins; a reported and reviewed
order resolves, one sent back reopens, one that fails after the rule set's send-backs ends
rejected, and refused attempts are on the record."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities import history
from activities.store.tables import audit_events, bulletins, inbox, rectification_orders
from models.payloads import CampaignResult
from models.rectification import RectificationView, ReportRectification, ReviewRectification
from models.time import CST, at
from rules import calendar as cal
from services.audit import verify_campaign
from tests.integration import mini
from worker import build_worker
from workflows import RectificationWorkflow

pytestmark = pytest.mark.integration


def hhmm(t: datetime) -> str:
    return t.astimezone(CST).strftime("%Y-%m-%d %H:%M")


async def orders(engine: AsyncEngine, cid: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(rectification_orders)
                .where(rectification_orders.c.campaign_id == cid)
                .order_by(rectification_orders.c.id)
            )
        ).mappings()
        return {r["workflow_id"]: dict(r) for r in rows}


async def test_an_unanswered_order_escalates_after_its_due_date_and_stays_in_the_next_bulletins(
    env: WorkflowEnvironment, engine: AsyncEngine
) -> None:
    """West never answers: its order is reminded before its due date, escalated to the office after
    it (rectification_overdue recorded), and listed as unresolved in every later bulletin; the
    office's one open order to west, so the later bulletins issue no second one but raise its
    measure (责令整改 → 通报批评 → 约谈)."""
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    inp = inp.model_copy(update={"context": inp.context.model_copy(update={"max_children": 2})})
    cid = inp.context.campaign_id
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
        result: CampaignResult = await (await mini.start(env.client, inp, queue)).result()
        histories = await history.collect(env.client, [cid])
        dec = f"{cid}/rectify/2021-12-01#west"
        described = await env.client.get_workflow_handle(dec).describe()

    # Obligations' reminders and escalations are unchanged; the orders' own go to the inbox as
    # kind "rectification".
    assert await mini.deliveries(engine, cid) == mini.expected_deliveries(cid)
    assert result.counts["rectification_orders"] == 1
    rows = await orders(engine, cid)
    assert list(rows) == [dec]
    assert (rows[dec]["unit_id"], rows[dec]["state"], rows[dec]["round"], rows[dec]["source"]) == (
        "west",
        "escalated",
        0,
        "monthly",
    )
    assert (rows[dec]["level"], rows[dec]["measure"], len(rows[dec]["listed"])) == (3, "约谈", 3)
    assert (rows[dec]["due"], hhmm(rows[dec]["escalated_at"])) == (date(2022, 1, 20), "2022-01-21 09:00")

    async with engine.connect() as conn:
        sent = (
            await conn.execute(
                select(inbox.c.plan_time, inbox.c.recipient, inbox.c.level, inbox.c.rule_id, inbox.c.title)
                .where(
                    inbox.c.campaign_id == cid, inbox.c.idempotency_key.startswith(f"{cid}#rectify#2021-12-01#west#")
                )
                .order_by(inbox.c.plan_time, inbox.c.id)
            )
        ).all()
        overdue = (
            await conn.execute(
                select(audit_events.c.plan_time, audit_events.c.payload).where(
                    audit_events.c.campaign_id == cid, audit_events.c.kind == "rectification.overdue"
                )
            )
        ).all()
        published = {
            m.isoformat(): b
            for m, b in (
                await conn.execute(select(bulletins.c.month, bulletins.c.body).where(bulletins.c.campaign_id == cid))
            )
        }
        verdict = await verify_campaign(conn, cid, histories=histories)
    assert [(hhmm(t), to, level, rule) for t, to, level, rule, _ in sent] == [
        ("2022-01-17 09:00", "west", 0, "remind-before-due"),
        ("2022-01-21 09:00", "office", 1, "escalate-to-lead"),  # a monthly order's "lead" is the office
        ("2022-01-27 09:00", "office", 2, "escalate-to-office"),
    ]
    assert sent[0].title == "整改催办：西镇（2021年12月通报责令整改事项）"
    assert sorted(hhmm(t) for t, _ in overdue) == ["2022-01-21 09:00"]

    def unresolved(month: str) -> list[tuple[str, str]]:
        return [(o["order"], o["state"]) for o in published[month]["unresolved_orders"]]

    assert unresolved("2021-12-01") == []  # its own order is new, listed as a laggard
    assert unresolved("2022-01-01") == [(dec, "escalated")]
    assert unresolved("2022-02-01") == [(dec, "escalated")]
    assert described.parent_id == f"{cid}/monthly"
    # The chain holds, every history replays, every step an activity was asked to record is on it.
    assert verdict.ok, verdict.problems()
    assert verdict.histories >= 1 + 9


def cli(*args: str, db_url: str, address: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    """The duban CLI on the test database and the test's Temporal server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TEMPORAL_")) and k != "DATABASE_URL"}
    env.update(DATABASE_URL=db_url, DUBAN_VAR_DIR=str(var_dir), TEMPORAL_ADDRESS=address)
    return subprocess.run(
        [*mini.COMMAND, *args],
        cwd=mini.ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


async def test_a_report_is_reviewed_rejected_then_accepted_and_refusals_are_recorded(
    env: WorkflowEnvironment, engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    ctx = inp.context
    cid = ctx.campaign_id
    order = f"{cid}/rectify/2021-12-01#west"
    address = env.client.service_client.config.target_host

    async def duban(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(cli, *args, db_url=db_url, address=address, var_dir=tmp_path)

    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
        await mini.start(env.client, inp, queue)
        # To 2022-01-07, the day after the December bulletin ordered west to rectify by 2022-01-20.
        await env.sleep(ctx.clock.server_time(at(date(2022, 1, 7), "08:00")) - await env.get_current_time())

        # The CLI takes a couple of seconds to start: the two calls that write nothing first run together.
        listed, other = await asyncio.gather(
            duban("rectify", "list", cid, "--open", "--json"),
            duban("rectify", "report", order, "--unit", "east", "--text", "已整改"),
        )
        assert listed.returncode == 0, listed.stderr
        [row] = json.loads(listed.stdout)["orders"]
        assert (row["order"], row["unit"], row["state"], row["due"], row["followed"]) == (
            order,
            "west",
            "open",
            "2022-01-20",
            True,
        )
        assert other.returncode == 1
        assert "refused: unit 'east' may not report on" in other.stderr
        handle = env.client.get_workflow_handle(order)

        async def refused(update: str, arg: object) -> str:
            with pytest.raises(WorkflowUpdateFailedError) as e:
                await handle.execute_update(update, arg)
            return str(getattr(e.value.cause, "message", ""))

        assert "has not been reported (open)" in await refused(
            "review", ReviewRectification(reviewer="office", accept=True)
        )
        first = await duban(
            "rectify", "report", order, "--unit", "west", "--text", "已清理占道经营", "--evidence", "photos/0107-1.jpg"
        )
        assert first.returncode == 0, first.stderr
        assert f"{order}: reported" in first.stdout
        back = await duban("rectify", "review", order, "--reject", "--reason", "照片不能反映整改效果")
        assert back.returncode == 0, back.stderr
        today = ctx.clock.plan_time(await env.get_current_time()).date()
        new_due = cal.WorkCalendar(ctx.calendar).shift(today, ctx.ruleset.monthly.rectification_working_days)
        assert f"{order}: sent_back, due {new_due.isoformat()}, round 1" in back.stdout

        assert "only the office ('office') reviews" in await refused(
            "review", ReviewRectification(reviewer="west", accept=True)
        )
        again = ReportRectification(
            unit_id="west", text="已全部清理，附整改前后对比照片", evidence=["photos/0110-2.jpg"]
        )
        await handle.execute_update(RectificationWorkflow.report, again)
        done: RectificationView = await handle.execute_update(
            RectificationWorkflow.review, ReviewRectification(reviewer="office", accept=True)
        )
        assert (done.state.value, done.round, done.due) == ("resolved", 1, new_due)
        await handle.result()  # a resolved order's workflow ends
        await env.client.get_workflow_handle(cid).terminate("test done")

    row = (await orders(engine, cid))[order]
    assert (row["state"], row["round"], row["due"], row["first_due"]) == ("resolved", 1, new_due, date(2022, 1, 20))
    assert (row["report_text"], row["evidence"], row["reviewer"]) == (again.text, again.evidence, "office")
    assert row["review_reason"] == "" and row["resolved_at"] is not None and row["escalated_at"] is None
    async with engine.connect() as conn:
        trail = (
            await conn.execute(
                select(audit_events.c.kind, audit_events.c.actor, audit_events.c.payload)
                .where(
                    audit_events.c.campaign_id == cid,
                    audit_events.c.kind.in_(
                        ["refused", "rectification.reported", "rectification.sent_back", "rectification.accepted"]
                    ),
                )
                .order_by(audit_events.c.seq)
            )
        ).all()
        to_west = (
            await conn.execute(
                select(inbox.c.title, inbox.c.body).where(
                    inbox.c.campaign_id == cid, inbox.c.recipient == "west", inbox.c.kind == "rectification"
                )
            )
        ).all()
    steps = [(kind, actor, json.loads(p).get("verb") or json.loads(p).get("state")) for kind, actor, p in trail]
    assert steps == [
        ("refused", "east", "rectify.report"),
        ("refused", "office", "rectify.review"),
        ("rectification.reported", "west", "reported"),
        ("rectification.sent_back", "office", "sent_back"),
        ("refused", "west", "rectify.review"),
        ("rectification.reported", "west", "reported"),
        ("rectification.accepted", "office", "resolved"),
    ]
    # Who acted, beside the unit: the CLI's operator account where the CLI acted, nothing where a
    # bare Update (no door) did.
    who = [(json.loads(p).get("account", "")[:4], json.loads(p).get("role")) for _, _, p in trail]
    assert who == [
        ("cli:", "agency"),
        ("", None),
        ("cli:", "agency"),
        ("cli:", "office"),
        ("", None),
        ("", None),
        ("", None),
    ]
    rejected = json.loads(trail[3].payload)
    assert (rejected["reason"], rejected["due"], rejected["round"]) == ("照片不能反映整改效果", new_due.isoformat(), 1)
    assert any("未通过审核：照片不能反映整改效果" in body for _, body in to_west)
    assert any(title.startswith("整改验收通过") for title, _ in to_west)


async def test_a_report_failing_after_the_rule_sets_send_backs_closes_the_order_rejected(
    env: WorkflowEnvironment, engine: AsyncEngine
) -> None:
    """With one send-back allowed: the first failing report is sent back (a new round, a new due
    date), the second closes the order rejected (整改不到位): its workflow ends, its row and the
    record say so, the unit is told, and it takes no further report."""
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    rs = inp.context.ruleset
    ruleset = rs.model_copy(update={"rectification": rs.rectification.model_copy(update={"send_backs": 1})})
    inp = inp.model_copy(update={"context": inp.context.model_copy(update={"ruleset": ruleset})})
    ctx, cid = inp.context, inp.context.campaign_id
    order = f"{cid}/rectify/2021-12-01#west"
    report = ReportRectification(unit_id="west", text="已清理占道经营", evidence=["photos/0107-1.jpg"])
    fails = ReviewRectification(reviewer="office", accept=False, reason="照片不能反映整改效果")
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
        await mini.start(env.client, inp, queue)
        await env.sleep(ctx.clock.server_time(at(date(2022, 1, 7), "08:00")) - await env.get_current_time())
        handle = env.client.get_workflow_handle(order)
        await handle.execute_update(RectificationWorkflow.report, report)
        back: RectificationView = await handle.execute_update(RectificationWorkflow.review, fails)
        assert (back.state.value, back.round) == ("sent_back", 1)
        await handle.execute_update(RectificationWorkflow.report, report)
        closed: RectificationView = await handle.execute_update(RectificationWorkflow.review, fails)
        assert (closed.state.value, closed.round) == ("rejected", 1)
        await handle.result()  # a rejected order's workflow ends, as a resolved one's does
        await env.client.get_workflow_handle(cid).terminate("test done")

    row = (await orders(engine, cid))[order]
    assert (row["state"], row["round"], row["review_reason"]) == ("rejected", 1, "照片不能反映整改效果")
    assert row["reviewed_at"] is not None and row["resolved_at"] is None
    async with engine.connect() as conn:
        steps = ("rectification.reported", "rectification.sent_back", "rectification.rejected")
        a = audit_events.c
        q = select(a.kind).where(a.campaign_id == cid, a.kind.in_(steps)).order_by(a.seq)
        kinds = (await conn.execute(q)).scalars().all()
        titles = (
            await conn.execute(select(inbox.c.title).where(inbox.c.campaign_id == cid, inbox.c.recipient == "west"))
        ).scalars()
    assert kinds == [
        "rectification.reported",
        "rectification.sent_back",
        "rectification.reported",
        "rectification.rejected",
    ]
    assert any(t.startswith("整改不到位：") for t in titles)
