"""The convener's 批示 on the real stack (time-skipping Temporal, PostgreSQL, the worker): a rule
set that escalates to the convener 8 working days after the due date; the convener's page lists
what reached it, the convener answers through the web, and the unit workflow records the answer
on the audit chain with the account and its role, and puts it in the unit's and the office's
inbox once. Nobody else may answer, and the workflow itself refuses (on the record) an answer
that does not come from the plan's convener."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.config import Settings
from activities.store.tables import audit_events, inbox
from models.obligation import workflow_id_of
from models.payloads import Instruct
from services import campaigns as campaign_services
from services.context import Services
from services.plans import load_plan, load_ruleset
from tests.integration import mini
from tests.integration.web_support import OFFICE, add_accounts, browser, sign_in
from web.app import create_app
from worker import build_worker
from workflows import UnitWorkflow

pytestmark = pytest.mark.integration

TO_CONVENER = """
  - id: escalate-to-convener
    description: 逾期8个工作日仍未办结，报召集人
    trigger: {kind: after_due, working_days: 8}
    when: state != "completed"
    action: {kind: escalate, to: convener, level: 3}
"""


def with_convener(tmp_path: Path) -> Path:
    text = mini.BASIC_RULES.read_text(encoding="utf-8")
    head, sep, tail = text.partition("\nmonthly:")
    path = tmp_path / "to-convener.yaml"
    path.write_text(head.rstrip() + "\n" + TO_CONVENER + sep + tail, encoding="utf-8")
    return path


async def rows(engine: AsyncEngine, table, *where):  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(table).where(*where))).mappings()]


async def test_the_convener_answers_what_reached_it(
    env: WorkflowEnvironment, engine: AsyncEngine, tmp_path: Path
) -> None:
    queue, cid = str(uuid.uuid4()), f"conv-{uuid.uuid4().hex[:8]}"
    plan = load_plan(mini.MINI_PLAN)
    settings = Settings(env="test", task_queue=queue, contacts_file=tmp_path / "none.yaml")
    async with (
        Services(settings, client=env.client, engine=engine) as ctx,
        build_worker(env.client, engine, task_queue=queue),
    ):
        ruleset = load_ruleset(with_convener(tmp_path), plan)
        await campaign_services.launch(ctx, actor=OFFICE, plan=plan, ruleset=ruleset, campaign_id=cid)
        await env.sleep(timedelta(days=262))  # past 2022-01-13: 8 working days after the due date
        names = await add_accounts(ctx, f"conv-{uuid.uuid4().hex[:6]}")
        app = create_app(ctx)
        ob = f"{cid}/rollout/west/T01-basic"
        reached = await rows(engine, inbox, inbox.c.campaign_id == cid, inbox.c.recipient == "convener")
        assert {r["obligation_id"] for r in reached if r["kind"] == "escalation"} >= {ob}

        async with browser(app) as office:
            csrf = await sign_in(office, names["office"])
            page = await office.get(f"/c/{cid}/convener")
            assert page.status_code == 200 and ob in page.text and "督办级别 3" in page.text
            assert "<textarea" not in page.text  # the office reads; it does not answer
            r = await office.post(f"/act/instruct/{ob}", data={"csrf": csrf, "text": "代召集人批示"})
            assert r.status_code == 403

        async with browser(app) as convener:
            csrf = await sign_in(convener, names["convener"])
            home = await convener.get("/")
            assert f"/c/{cid}/convener" in home.text
            page = await convener.get(f"/c/{cid}/convener")
            assert page.status_code == 200 and "<textarea" in page.text
            r = await convener.post(f"/act/instruct/{ob}", data={"csrf": csrf, "text": "   "})
            assert r.status_code == 400 and "批示内容不能为空" in r.text
            r = await convener.post(f"/act/instruct/{ob}", data={"csrf": csrf, "text": "请西镇三日内报送整改方案"})
            assert (r.status_code, r.headers["location"]) == (303, f"/c/{cid}/convener")
            await env.sleep(timedelta(minutes=10))  # the mirror's debounce
            page = await convener.get(f"/c/{cid}/convener")
            assert "请西镇三日内报送整改方案" in page.text and f"web:{names['convener']}" in page.text
            explained = await convener.get(f"/explain/{ob}")
            by = f"convener [web:{names['convener']}, convener]"
            said = f"批示 on the level 3 escalation by {by}「请西镇三日内报送整改方案」"
            assert explained.status_code == 200 and said in explained.text

        # On the chain: the convener unit acted on west's obligation, and which account did.
        [answered] = await rows(
            engine, audit_events, audit_events.c.campaign_id == cid, audit_events.c.kind == "escalation.answered"
        )
        payload = json.loads(answered["payload"])
        assert (answered["actor"], answered["unit_id"], answered["obligation_id"]) == ("convener", "west", ob)
        assert (payload["account"], payload["role"], payload["text"]) == (
            f"web:{names['convener']}",
            "convener",
            "请西镇三日内报送整改方案",
        )
        assert payload["to"] == ["west", "office"] and payload["level"] == 3
        told = await rows(engine, inbox, inbox.c.campaign_id == cid, inbox.c.kind == "instruction")
        assert sorted(r["recipient"] for r in told) == ["office", "west"]
        assert all(r["body"] == "请西镇三日内报送整改方案" and r["obligation_id"] == ob for r in told)

        # The workflow decides too: an answer that names another unit is refused, on the record.
        handle = env.client.get_workflow_handle(workflow_id_of(ob))
        forged = Instruct(obligation_id=ob, unit_id="office", text="冒名批示", account="test:x", role="convener")
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(UnitWorkflow.instruct, forged)
        await env.sleep(timedelta(minutes=10))
        refused = await rows(engine, audit_events, audit_events.c.campaign_id == cid, audit_events.c.kind == "refused")
        assert any("only the convener" in json.loads(r["payload"]).get("reason", "") for r in refused)
        await env.client.get_workflow_handle(cid).terminate("test done")
