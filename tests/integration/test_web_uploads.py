"""The office's uploads through the web door: a score sheet with one bad cell names it and stores
nothing, then the corrected sheet is stored as the web account's; a plan launches a campaign on
the real stack, and a broken one is shown as `FILE:LINE: message` under its base name only."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.config import Settings
from activities.score_workbook import write_template
from activities.store.tables import assessment_scores, campaigns
from services import scores
from services.context import Services
from tests.integration import mini
from tests.integration.test_scores import TOWNS_IN_SCOPE, register
from tests.integration.web_support import add_accounts, browser, sign_in
from tests.support import fill
from web.app import create_app
from worker import build_worker

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def test_a_score_sheet_with_a_bad_cell_names_it_and_stores_nothing(engine: AsyncEngine, tmp_path: Path) -> None:
    cid = await register(engine)
    settings = Settings(env="test", task_queue="unused", contacts_file=tmp_path / "none.yaml")
    async with Services(settings, engine=engine) as ctx:
        names = await add_accounts(ctx, f"up-{uuid.uuid4().hex[:6]}")
        scored = await scores.list_scores(ctx, campaign=cid)
        assert scored.scores == []
        async with ctx.reading() as conn:
            from activities.store.scores import pinned

            p = await pinned(conn, cid)
        sheet = next(s for s in p.book.sheets if s.id == "acceptance_basic")
        path = tmp_path / "basic.xlsx"
        write_template(path, sheet, p.scope(), assessor="验收组", on=date(2021, 12, 28))
        fill(path, value=85)
        wb = load_workbook(path)
        wb.active["D5"] = 105  # type: ignore[index]
        wb.save(path)
        app = create_app(ctx)
        async with browser(app) as office:
            csrf = await sign_in(office, names["office"])
            form = {"csrf": csrf, "sheet": "acceptance_basic"}
            bad = await office.post(
                f"/c/{cid}/scores", data=form, files={"workbook": ("../../验收表.xlsx", path.read_bytes(), XLSX)}
            )
            assert bad.status_code == 400, bad.text
            assert "验收表.xlsx (worksheet" in bad.text and "D5: 分数 105 超过满分 100" in bad.text
            assert "../" not in bad.text
            async with engine.connect() as conn:
                q = select(assessment_scores).where(assessment_scores.c.campaign_id == cid)
                assert (await conn.execute(q)).first() is None  # nothing stored half
            fill(path, value=85)
            ok = await office.post(
                f"/c/{cid}/scores", data=form, files={"workbook": ("验收表.xlsx", path.read_bytes(), XLSX)}
            )
            assert ok.status_code == 200 and f"已导入 {TOWNS_IN_SCOPE} 个单位" in ok.text, ok.text
        async with browser(app) as auditor:
            await sign_in(auditor, names["auditor"])
            assert (await auditor.get(f"/c/{cid}/scores")).status_code == 403
    async with engine.connect() as conn:
        q = select(assessment_scores.c.entered_by).where(assessment_scores.c.campaign_id == cid)
        assert set((await conn.execute(q)).scalars()) == {f"web:{names['office']}"}


async def test_the_office_launches_a_campaign_from_an_uploaded_plan(
    env: WorkflowEnvironment, engine: AsyncEngine, tmp_path: Path
) -> None:
    queue = str(uuid.uuid4())
    settings = Settings(env="test", task_queue=queue, contacts_file=tmp_path / "none.yaml", plans_dir=mini.FIXTURES)
    async with (
        Services(settings, client=env.client, engine=engine) as ctx,
        build_worker(env.client, engine, task_queue=queue),
    ):
        names = await add_accounts(ctx, f"ln-{uuid.uuid4().hex[:6]}")
        app = create_app(ctx)
        async with browser(app) as office:
            csrf = await sign_in(office, names["office"])
            assert (await office.get("/launch")).status_code == 200
            broken = mini.MINI_PLAN.read_text(encoding="utf-8").replace("issued: 2021-04-30", "issued: 2021-13-30")
            r = await office.post(
                "/launch",
                data={"csrf": csrf, "ruleset": "suixian-basic"},
                files={"plan": ("C:\\plans\\bad-plan.yaml", broken.encode())},
            )
            assert r.status_code == 400 and "bad-plan.yaml:4:" in r.text, r.text
            r = await office.post(
                "/launch",
                data={"csrf": csrf, "ruleset": "suixian-basic"},
                files={"plan": ("mini-plan.yaml", mini.MINI_PLAN.read_bytes())},
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text
            cid = r.headers["location"].split("/")[2]
            await env.sleep(timedelta(minutes=1))  # the campaign registers itself (an activity)
            assert (await office.get(f"/c/{cid}/board")).status_code == 200
        await env.client.get_workflow_handle(cid).terminate("test done")
    async with engine.connect() as conn:
        row = (await conn.execute(select(campaigns.c.ruleset_id).where(campaigns.c.id == cid))).scalar()
    assert row == "suixian-basic"
