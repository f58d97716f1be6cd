"""`duban audit explain ORDER`: a 责令整改 order's story told from the audit chain, on the real
stack (time-skipping Temporal, PostgreSQL, the worker). The mini campaign with a rule set that
escalates to the convener; nobody answers, so the December bulletin orders west to rectify, the
order is reminded, falls due, is escalated up to the convener, who answers (批示); then east tries
to report on it (refused), west reports, the office sends it back, west reports again and the
office accepts. Every part of the story is a chain row, and every chain row about the order is in
the story; the CLI prints it (and `--json`), refuses an unknown order; the web shows it to those
who may read it, linked from the convener's and the unit's pages. The same campaign's
assessments page lists what was held, and a nomination made through its form lands on the chain
and in the page's list."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.config import Settings
from activities.store.tables import audit_events, rectification_orders
from rules.scoresheets import parse_scorebook
from services import assessments, audit, convener, rectification, scores
from services.actors import Actor
from services.context import Services
from services.errors import Conflict, NotFound
from services.plans import DEFAULT_RULES, load_plan, prepare
from tests.integration import mini
from tests.integration.test_convener import with_convener
from tests.integration.web_support import add_accounts, browser, sign_in
from web.app import create_app
from worker import build_worker

pytestmark = pytest.mark.integration

SHEETS = mini.FIXTURES / "scoresheets" / "mini.yaml"


CONVENER = Actor(account="test:convener", role="convener")
WEST = Actor(account="test:west", unit="west", role="agency")
EAST = Actor(account="test:east", unit="east", role="agency")
OFFICE = Actor(account="test:office", unit="office", role="office")


def basic_only() -> str:
    """The mini score sheets for the mini plan as it is (one milestone, basic): nominations need a
    campaign with score sheets (its evaluation holds 楚天杯)."""
    text = SHEETS.read_text(encoding="utf-8").replace("commendation_milestone: model", "commendation_milestone: basic")
    head, _, rest = text.partition("  - id: acceptance_model\n")
    return head + rest[rest.index("  - id: annual_review\n") :]


async def chain(engine: AsyncEngine, cid: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_events).where(audit_events.c.campaign_id == cid).order_by(audit_events.c.seq)
            )
        ).mappings()
        return [{**r, "payload": json.loads(r["payload"])} for r in rows]


async def order_row(engine: AsyncEngine, order: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (
            (await conn.execute(select(rectification_orders).where(rectification_orders.c.workflow_id == order)))
            .mappings()
            .one()
        )
        return dict(row)


def from_the_chain(story: audit.OrderExplanation, rows: list[dict[str, Any]], *, also: str | None = None) -> None:
    """Every step shown is the chain row it names (by seq, of that kind), and every chain row about
    the order is shown: its own rows, its steps and follow-ups, the rows of the items that name it,
    the attempts it refused, and (`also`) the bulletin that issued it."""
    by_seq = {r["seq"]: r for r in rows}
    assert all(s.seq is not None and by_seq[s.seq]["kind"] == s.kind for s in story.steps)
    key = story.key
    joined = {r["event_key"] for r in rows if r["kind"] == "rectification_added" and r["payload"]["order"] == key}
    about = {
        r["seq"]
        for r in rows
        if r["event_key"] in (key, also)
        or key in (r["payload"].get("order"), r["payload"].get("paper"))
        or r["payload"].get("paper") in joined
        or (r["kind"] == "refused" and r["payload"].get("obligation_id") == key)
    }
    assert {s.seq for s in story.steps} == about


def texts(e: audit.OrderExplanation, kind: str) -> list[str]:
    return [s.text for s in e.steps if s.kind == kind]


async def test_an_orders_story_from_the_chain_on_the_cli_and_the_web(
    env: WorkflowEnvironment, engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    queue, cid = str(uuid.uuid4()), f"story-{uuid.uuid4().hex[:8]}"
    plan = load_plan(mini.MINI_PLAN)
    book = parse_scorebook(basic_only(), path=str(SHEETS), plan=plan)
    now = await env.get_current_time()
    inp = prepare(plan, with_convener(tmp_path), campaign_id=cid, server_now=now, live=False, scorebook=book).input
    settings = Settings(env="test", task_queue=queue, contacts_file=tmp_path / "none.yaml")
    async with (
        Services(settings, client=env.client, engine=engine) as ctx,
        build_worker(env.client, engine, task_queue=queue, rehearsal=True),
    ):
        await mini.start(env.client, inp, queue, agencies=False)
        await env.sleep(timedelta(days=1))  # registered
        for unit in ("east", "west"):  # both pass 基础型 达标验收 (held 2022-01-04): no order from it
            await scores.enter_scores(
                ctx,
                campaign=cid,
                sheet_id="acceptance_basic",
                unit=unit,
                pairs=["clean=90", "tidy=90"],
                assessor="县住建局",
                on=date(2021, 12, 31),
                entered_by="test:office",
            )
        await env.sleep(timedelta(days=299))  # past the order's escalation to the convener (2022-02)
        page = await convener.escalations(ctx, actor=CONVENER, campaign=cid)
        order = f"{cid}/rectify/2021-12-01#west"  # the December bulletin's
        assert order in {o.order_id for o in page.orders}
        await convener.answer_order(ctx, actor=CONVENER, order=order, text="请西镇主要负责人约谈")
        with pytest.raises(Conflict, match="may not report"):
            await rectification.rectification_report(ctx, actor=EAST, order=order, text="代为整改")
        await rectification.rectification_report(
            ctx, actor=WEST, order=order, text="已清理占道经营", evidence=["photos/0210-1.jpg"]
        )
        await rectification.rectification_review(
            ctx, actor=OFFICE, order=order, accept=False, reason="照片不能反映整改效果"
        )
        await rectification.rectification_report(ctx, actor=WEST, order=order, text="已全部清理，附对比照片")
        await rectification.rectification_review(ctx, actor=OFFICE, order=order, accept=True)

        story = await audit.explain_order(ctx, order=order)
        rows = await chain(engine, cid)
        row = await order_row(engine, order)
        key = row["idempotency_key"]

        from_the_chain(story, rows, also=f"{cid}#bulletin#2021-12-01")
        kinds = [s.kind for s in story.steps]
        assert kinds[:3] == ["bulletin", "rectification_order", "rectification.opened"]
        assert kinds[-6:] == [
            "rectification.answered",
            "refused",
            "rectification.reported",
            "rectification.sent_back",
            "rectification.reported",
            "rectification.accepted",
        ]

        # Which bulletin issued it and why; its measure, items and deadline.
        lines = story.lines()
        assert story.order_id == order and story.key == key and story.state == "resolved"
        # Ordered again by the next bulletin while not answering: the same order, one measure up.
        assert "通报批评 to west: level 2 of 责令整改 → 通报批评 → 约谈; 3 items" in lines[1]
        [again] = texts(story, "rectification_added")
        assert (
            "ordered again by office: 0 items added to this open order (now 3), raised to 通报批评 (level 2)" in again
        )
        assert f"first due {row['first_due']}" in lines[1] and "(by the 2021-12 bulletin)" in lines[2]
        assert "bulletin 2021-12 by office" in texts(story, "bulletin")[0]
        assert "west" in texts(story, "bulletin")[0].split("laggards", 1)[1]
        [issued] = [s for s in story.steps if s.kind == "rectification_order"]
        assert "责令整改 (level 1) issued by office to west: 3 items, due 2022-01-20" in issued.text
        assert "monthly.rectify_if_overdue_at_least" in issued.details[0]
        assert (
            [i.obligation_id for i in story.items]
            == row["listed"]
            == [f"{cid}/rollout/west/T0{n}-basic" for n in (1, 2, 3)]
        )
        # Reminders and escalations: the rule, the facts it saw, the working days it counted.
        reminders = [s for s in story.steps if s.kind == "rectification.reminder"]
        assert reminders and reminders[0].rule_id == "remind-before-due"
        assert "saw state=assigned, days_left=3 → condition true" in reminders[0].details
        escalations = [s for s in story.steps if s.kind == "rectification.escalation"]
        assert [(s.rule_id, s.level) for s in escalations][-1] == ("escalate-to-convener", 3)
        assert any("调休 make-up workday" in d for d in escalations[-1].details)
        assert "due 2022-01-20 passed with no report (round 0)" in texts(story, "rectification.overdue")[0]
        # The convener's 批示, the refused attempt, the reports and the reviews, with who acted.
        assert "批示 on the level 3 escalation by convener [test:convener, convener]「请西镇主要负责人约谈」" in (
            texts(story, "rectification.answered")
        )
        assert "refused rectify.report by east [test:east, agency]" in texts(story, "refused")[0]
        first, second = texts(story, "rectification.reported")
        assert "「已清理占道经营」, evidence photos/0210-1.jpg" in first and "已全部清理" in second
        [back] = texts(story, "rectification.sent_back")
        assert f"「照片不能反映整改效果」 → sent_back, round 1, new due {row['due']}" in back
        assert texts(story, "rectification.accepted") == ["report accepted by office [test:office, office] → resolved"]
        last = story.steps[-1]
        assert story.ending == f"ended: resolved on {last.plan_time.date()} (#{last.seq})"

        # The CLI: the same story, as text and as JSON; an unknown order is a refusal (exit 1).
        printed, as_json, unknown = await asyncio.gather(
            *(
                asyncio.to_thread(mini.duban, "audit", "explain", *args, db_url=db_url, var_dir=tmp_path / "var")
                for args in ([order], [key, "--json"], [f"{cid}/rectify/no-such-order"])
            )
        )
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout.splitlines() == lines
        assert as_json.returncode == 0, as_json.stderr
        found = json.loads(as_json.stdout)
        assert (found["order"], found["key"], found["state"]) == (order, key, "resolved")
        assert [s["seq"] for s in found["steps"]] == [s.seq for s in story.steps]
        assert unknown.returncode == 1 and "no rectification order" in unknown.stderr
        assert "Traceback" not in unknown.stderr
        with pytest.raises(NotFound):
            await audit.explain_order(ctx, order=f"{cid}#rectify#no-such-order")

        await _web(ctx, cid, order)
        await env.client.get_workflow_handle(cid).terminate("test done")


async def _web(ctx: Services, cid: str, order: str) -> None:
    """The story on the web: for the office, the readers and the ordered unit, not another unit;
    linked from the convener's and the unit's pages. The assessments page and a nomination."""
    names = await add_accounts(ctx, f"story-{uuid.uuid4().hex[:6]}")
    app = create_app(ctx)
    url = f"/explain-order/{quote(order)}"
    for who, status in (("west", 200), ("office", 200), ("auditor", 200), ("convener", 200), ("east", 404)):
        async with browser(app) as client:
            await sign_in(client, names[who])
            r = await client.get(url)
            assert r.status_code == status, (who, r.status_code)
            if status == 200:
                assert "已全部清理，附对比照片" in r.text and f'href="/explain/{cid}/rollout/west/T01-basic"' in r.text
    async with browser(app) as client:
        await sign_in(client, names["convener"])
        assert f'href="{url}"' in (await client.get(f"/c/{cid}/convener")).text
        assert (await client.get("/explain-order/not-an-order")).status_code == 400
        assert (await client.get(f"/explain-order/{cid}/rectify/no-such-order")).status_code == 404
    async with browser(app) as client:
        await sign_in(client, names["west"])
        assert f'href="{url}"' in (await client.get(f"/c/{cid}/unit/west")).text
        assert (await client.get(f"/c/{cid}/assessments")).status_code == 403

    held = await assessments.list_assessments(ctx, campaign=cid)
    assert [(r.kind, r.unit_id, r.passed) for r in held.assessments] == [
        ("acceptance", "east", True),
        ("acceptance", "west", True),
    ]
    page = f"/c/{cid}/assessments"
    nomination = {"unit": "west", "person": "张三", "title": "镇长", "reason": "带头整改占道经营"}
    for who in ("auditor", "east"):
        async with browser(app) as client:
            csrf = await sign_in(client, names[who])
            r = await client.post(f"/c/{cid}/nominate", data={**nomination, "csrf": csrf})
            assert r.status_code == 403, who
    async with browser(app) as client:
        await sign_in(client, names["auditor"])
        r = await client.get(page)
        assert r.status_code == 200 and 'id="nominate"' not in r.text
    async with browser(app) as client:
        csrf = await sign_in(client, names["office"])
        r = await client.get(page)
        assert r.status_code == 200 and 'id="nominate"' in r.text
        for k in held.kinds:
            assert f"{k.rounds} 轮，评定 {k.judged} 个单位次，达标 {k.passed}" in r.text
        r = await client.post(f"/c/{cid}/nominate", data={**nomination, "csrf": csrf})
        assert (r.status_code, r.headers.get("location")) == (303, page), r.text[-500:]
        listed = (await client.get(page)).text
        assert "张三（西镇镇长）：带头整改占道经营" in listed and f"web:{names['office']}" in listed
    async with ctx.reading() as conn:
        made = (
            await conn.execute(
                select(audit_events.c.actor, audit_events.c.payload).where(
                    audit_events.c.campaign_id == cid, audit_events.c.kind == "commendation.nominated"
                )
            )
        ).all()
    [(actor, payload)] = made  # the refused attempts left nothing
    assert actor == f"web:{names['office']}"
    assert {k: json.loads(payload)[k] for k in ("person", "unit_id", "title", "reason", "by")} == {
        **{"person": "张三", "unit_id": "west", "title": "镇长", "reason": "带头整改占道经营"},
        "by": f"web:{names['office']}",
    }


async def test_a_rule_issued_order_and_the_measures_ladder(
    env: WorkflowEnvironment, engine: AsyncEngine, tmp_path: Path
) -> None:
    """The default rule set on the mini campaign, west silent: the December bulletin orders west
    (责令整改); 20 working days after the 基础型 milestone the rule rectify-after-basic orders it
    again, listing its three items: that round joins the order still open, one measure up
    (通报批评) since it went unanswered; the February bulletin raises the same order to 约谈. The
    story tells which rule fired on which item, with the facts and the working days counted from
    the milestone."""
    queue, cid = str(uuid.uuid4()), f"rule-{uuid.uuid4().hex[:8]}"
    plan = load_plan(mini.MINI_PLAN)
    inp = prepare(plan, DEFAULT_RULES, campaign_id=cid, server_now=await env.get_current_time(), live=False).input
    settings = Settings(env="test", task_queue=queue, contacts_file=tmp_path / "none.yaml")
    async with (
        Services(settings, client=env.client, engine=engine) as ctx,
        build_worker(env.client, engine, task_queue=queue, rehearsal=True),
    ):
        await mini.start(env.client, inp, queue)
        await env.sleep(timedelta(days=320))  # to 2022-03: one order to west, ordered three times
        rows = await chain(engine, cid)
        story = await audit.explain_order(ctx, order=f"{cid}#rectify#2021-12-01#west")
        from_the_chain(story, rows, also=f"{cid}#bulletin#2021-12-01")
        assert "约谈 to west: level 3 of 责令整改 → 通报批评 → 约谈; 3 items" in story.header[1]
        assert "(by the 2021-12 bulletin)" in story.header[2]
        fired = [s for s in story.steps if s.kind == "rectification_item"]
        assert [s.text.split(":", 1)[0] for s in fired] == [f"{cid}/rollout/west/T0{n}-basic" for n in (1, 2, 3)]
        assert all(s.rule_id == "rectify-after-basic" and "listed in this order" in s.text for s in fired)
        assert "saw milestone=basic, state=assigned, days_left=-20 → condition true" in fired[0].details
        assert any(
            "counting from the basic milestone 2021-12-31 (Fri)" in d and "2022-01-29 (20, 调休 make-up workday)" in d
            for d in fired[0].details
        )
        rule_round, february = texts(story, "rectification_added")
        assert (
            "ordered again by rule:rectify-after-basic" in rule_round and "raised to 通报批评 (level 2)" in rule_round
        )
        assert "ordered again by office" in february and "raised to 约谈 (level 3)" in february
        assert not [r for r in rows if r["kind"] == "rectification_order" and r["unit_id"] == "west"][1:]
        await env.client.get_workflow_handle(cid).terminate("test done")
