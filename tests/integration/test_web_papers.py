"""Papers and orders through the web door, on the real stack with the mini campaign run to
2022-01-11: the office downloads a 督办通知 (PDF) and a 通报's 台账 (XLSX), checked against their
records; west reports its rectification by the form (east may not touch it: 404); the office
accepts it; the audit chain names the accounts."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.config import Settings
from activities.store.tables import audit_events, rectification_orders
from models.time import at
from services import papers
from services.context import Services
from tests.integration import mini
from tests.integration.web_support import add_accounts, browser, sign_in
from web.app import create_app
from worker import build_worker

pytestmark = pytest.mark.integration


async def test_papers_downloads_and_a_rectification_through_the_web(
    env: WorkflowEnvironment, engine: AsyncEngine, tmp_path: Path
) -> None:
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    cid = inp.context.campaign_id
    order = f"{cid}/rectify/2021-12-01#west"
    settings = Settings(env="test", task_queue=queue, contacts_file=tmp_path / "none.yaml")
    async with (
        Services(settings, client=env.client, engine=engine) as ctx,
        build_worker(env.client, engine, task_queue=queue, rehearsal=True),
    ):
        await mini.start(env.client, inp, queue)
        await env.sleep(inp.context.clock.server_time(at(date(2022, 1, 11), "08:00")) - await env.get_current_time())
        names = await add_accounts(ctx, f"pp-{uuid.uuid4().hex[:6]}")
        app = create_app(ctx)
        [first] = [n for n in await papers.notices(ctx, campaign=cid) if n.unit == "west"][:1]
        recorded = (await papers.notice(ctx, code=first.code, campaign=cid)).files["pdf"]

        async with browser(app) as office:
            csrf = await sign_in(office, names["office"])
            page = await office.get(f"/c/{cid}/papers")
            assert page.status_code == 200 and first.title in page.text and "2021-12" in page.text
            pdf = await office.get(f"/c/{cid}/notice/{quote(first.code)}/pdf")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
            assert hashlib.sha256(pdf.content).hexdigest() == recorded.sha256
            assert "attachment" in pdf.headers["content-disposition"]
            ledger = await office.get(f"/c/{cid}/bulletin/2021-12/xlsx")
            assert ledger.status_code == 200 and ledger.content.startswith(b"PK")
            assert (await office.get(f"/c/{cid}/bulletin/2021-13/xlsx")).status_code == 400

        async with browser(app) as east:
            csrf = await sign_in(east, names["east"])
            assert first.title not in (await east.get(f"/c/{cid}/papers")).text  # not its notice
            assert (await east.get(f"/c/{cid}/notice/{quote(first.code)}/pdf")).status_code == 404
            r = await east.post(f"/act/rectify-report/{quote(order)}", data={"csrf": csrf, "text": "冒名报送"})
            assert r.status_code == 404

        async with browser(app) as west:
            csrf = await sign_in(west, names["west"])
            assert "报送整改报告" in (await west.get(f"/c/{cid}/papers")).text
            data = {"csrf": csrf, "text": "已清理占道经营", "evidence": "photos/0111-1.jpg\n"}
            r = await west.post(f"/act/rectify-report/{quote(order)}", data=data)
            assert r.status_code == 303, r.text

        async with browser(app) as office:
            csrf = await sign_in(office, names["office"])
            assert "验收通过" in (await office.get(f"/c/{cid}/papers")).text
            r = await office.post(f"/act/rectify-review/{quote(order)}", data={"csrf": csrf, "accept": "accept"})
            assert r.status_code == 303, r.text
        await env.client.get_workflow_handle(cid).terminate("test done")

    async with engine.connect() as conn:
        state = (
            await conn.execute(select(rectification_orders.c.state).where(rectification_orders.c.workflow_id == order))
        ).scalar()
        rows = (
            await conn.execute(
                select(audit_events.c.kind, audit_events.c.payload).where(
                    audit_events.c.campaign_id == cid,
                    audit_events.c.kind.in_(["rectification.reported", "rectification.accepted"]),
                )
            )
        ).all()
    assert state == "resolved"
    who = {kind: (json.loads(p)["account"], json.loads(p)["role"]) for kind, p in rows}
    assert who == {
        "rectification.reported": (f"web:{names['west']}", "agency"),
        "rectification.accepted": (f"web:{names['office']}", "office"),
    }
