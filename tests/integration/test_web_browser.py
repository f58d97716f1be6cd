"""The web door in a real browser: Debian's Chromium (scripts/install-browser, never a browser
download) driven by Playwright, against uvicorn on loopback over the real stack (time-skipping
Temporal, PostgreSQL, the worker). The office approves an extension, an agency signs and completes
with evidence, the auditor verifies. Screenshots are kept under out/web-e2e/ as artifacts."""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.config import Settings
from services import campaigns as campaign_services
from services.context import Services
from services.plans import load_plan, load_ruleset
from tests.integration import mini
from tests.integration.receivers import free_port
from tests.integration.web_support import OFFICE, PASSWORD, add_accounts, served
from web.app import create_app
from worker import build_worker

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "web-e2e"
PHONE = {"width": 390, "height": 844}

playwright_api = pytest.importorskip("playwright.async_api")


async def browser_sign_in(browser: Any, base: str, start: str, name: str, **options: object) -> Any:
    """A new browser context's page, signed in as `name` through the form that `start` (a page of
    the site, opened with no session) leads to."""
    page = await (await browser.new_context(**options)).new_page()
    await page.goto(f"{base}{start}")  # no session: the sign-in form
    assert page.url.endswith("/signin")
    await page.fill("#name", name)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")
    return page


@pytest.mark.skipif(CHROMIUM is None, reason="no Debian Chromium: run scripts/install-browser (apt-get, as root)")
async def test_office_agency_and_auditor_in_chromium(
    env: WorkflowEnvironment, engine: AsyncEngine, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    queue, cid = str(uuid.uuid4()), f"web-{uuid.uuid4().hex[:8]}"
    plan = load_plan(mini.MINI_PLAN)
    settings = Settings(env="test", task_queue=queue, contacts_file=tmp_path / "none.yaml")
    evidence = tmp_path / "验收单.pdf"
    evidence.write_bytes(b"%PDF-1.4 acceptance")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ob = f"{cid}/rollout/east/T01-basic"
    async with (
        Services(settings, client=env.client, engine=engine) as ctx,
        build_worker(env.client, engine, task_queue=queue),
    ):
        await campaign_services.launch(
            ctx, actor=OFFICE, plan=plan, ruleset=load_ruleset(mini.BASIC_RULES, plan), campaign_id=cid
        )
        await env.sleep(timedelta(days=2))
        names = await add_accounts(ctx, f"ui-{uuid.uuid4().hex[:6]}")
        async with served(create_app(ctx, secure_cookies=False), port), playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

            async def signed_in(who: str, **options: object) -> Any:
                return await browser_sign_in(browser, base, f"/c/{cid}/board", names[who], **options)

            # The agency, on a phone: signs for its task and asks for more time.
            agency = await signed_in("east", viewport=PHONE)
            await agency.goto(f"{base}/c/{cid}/unit/east")
            await agency.screenshot(path=ARTIFACTS / "1-agency-page.png", full_page=True)
            await agency.goto(f"{base}/o/{ob}")
            await agency.click("text=签收")
            await agency.fill("input[name=due]", "2022-01-14")
            await agency.fill("textarea[name=reason]", "雨季施工，申请延期")
            await agency.click("text=申请延期")
            await agency.wait_for_url(f"{base}/o/{ob}")
            await env.sleep(timedelta(minutes=10))  # the read side's debounce

            # The office approves it on its board.
            office = await signed_in("office", viewport={"width": 1280, "height": 900})
            await office.goto(f"{base}/c/{cid}/board")
            await office.screenshot(path=ARTIFACTS / "2-office-board.png", full_page=True)
            assert await office.locator("fieldset.extension").count() == 1
            await office.click("fieldset.extension button[value=approve]")
            await office.wait_for_url(f"{base}/c/{cid}/board")
            await env.sleep(timedelta(minutes=10))

            # The agency completes with evidence.
            await agency.goto(f"{base}/o/{ob}")
            assert "2022-01-14" in await agency.inner_text("main")
            form = agency.locator("form[action^='/act/complete/']")
            await form.locator("textarea[name=text]").fill("已按期完成")
            await form.locator("input[type=file]").set_input_files(evidence)
            await form.locator("button").click()
            await agency.wait_for_url(f"{base}/o/{ob}")
            await env.sleep(timedelta(minutes=10))
            await agency.reload()
            assert await agency.get_attribute("#state", "data-state") == "completed"
            assert await agency.inner_text("#state") == "已办结"
            assert "验收单.pdf" in await agency.inner_text("main")
            await agency.screenshot(path=ARTIFACTS / "3-agency-completed.png", full_page=True)

            # The auditor verifies the record.
            auditor = await signed_in("auditor", viewport=PHONE)
            await auditor.goto(f"{base}/c/{cid}/verify")
            verdict = await auditor.inner_text("#verdict")
            await auditor.screenshot(path=ARTIFACTS / "4-auditor-verify.png", full_page=True)
            assert verdict.startswith("校验通过"), verdict
            await auditor.goto(f"{base}/explain/{ob}")
            assert f"web:{names['office']}" in await auditor.inner_text("main")
            await browser.close()
        await env.client.get_workflow_handle(cid).terminate("test done")
    for shot in ("1-agency-page", "2-office-board", "3-agency-completed", "4-auditor-verify"):
        assert (ARTIFACTS / f"{shot}.png").stat().st_size > 1000
