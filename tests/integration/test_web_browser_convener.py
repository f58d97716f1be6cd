"""The convener in a real browser (Debian's Chromium driven by Playwright, as in test_web_browser):
on the real stack (time-skipping Temporal, PostgreSQL, the worker), nobody answers, so an
obligation's and a 责令整改 order's escalations reach the convener. The convener signs in, gives
a 批示 on each from its page, and sees them on the record (its page, the obligation's `audit
explain` and, by the order's link, the order's). The office then nominates a person for 楚天杯 on
the assessments page. Screenshots are kept under out/web-e2e/ with the others."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.config import Settings
from rules.scoresheets import parse_scorebook
from services import campaigns as campaign_services
from services.context import Services
from services.plans import load_plan, load_ruleset
from tests.integration import mini
from tests.integration.receivers import free_port
from tests.integration.test_audit_explain_order import SHEETS, basic_only
from tests.integration.test_convener import with_convener
from tests.integration.test_web_browser import ARTIFACTS, CHROMIUM, PHONE, browser_sign_in
from tests.integration.web_support import OFFICE, add_accounts, served
from web.app import create_app
from worker import build_worker

pytestmark = pytest.mark.integration

playwright_api = pytest.importorskip("playwright.async_api")


@pytest.mark.skipif(CHROMIUM is None, reason="no Debian Chromium: run scripts/install-browser (apt-get, as root)")
async def test_the_convener_answers_in_chromium(env: WorkflowEnvironment, engine: AsyncEngine, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    queue, cid = str(uuid.uuid4()), f"webc-{uuid.uuid4().hex[:8]}"
    plan = load_plan(mini.MINI_PLAN)
    settings = Settings(env="test", task_queue=queue, contacts_file=tmp_path / "none.yaml")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ob = f"{cid}/rollout/west/T01-basic"
    async with (
        Services(settings, client=env.client, engine=engine) as ctx,
        build_worker(env.client, engine, task_queue=queue),
    ):
        ruleset = load_ruleset(with_convener(tmp_path), plan)
        book = parse_scorebook(basic_only(), path=str(SHEETS), plan=plan)  # 楚天杯 needs score sheets
        await campaign_services.launch(ctx, actor=OFFICE, plan=plan, ruleset=ruleset, scorebook=book, campaign_id=cid)
        await env.sleep(timedelta(days=300))  # past the order's escalation to the convener (2022-02)
        names = await add_accounts(ctx, f"uic-{uuid.uuid4().hex[:6]}")
        async with served(create_app(ctx, secure_cookies=False), port), playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

            async def signed_in(who: str, viewport: dict[str, int]) -> Any:
                return await browser_sign_in(browser, base, f"/c/{cid}/convener", names[who], viewport=viewport)

            page = await signed_in("convener", PHONE)

            await page.click(f"a[href='/c/{cid}/convener']")
            await page.wait_for_url(f"{base}/c/{cid}/convener")
            await page.screenshot(path=ARTIFACTS / "5-convener-page.png", full_page=True)

            # 批示 on west's obligation.
            form = page.locator(f"form[action='/act/instruct/{ob}']")
            await form.locator("textarea[name=text]").fill("请西镇三日内报送整改方案")
            await form.locator("button").click()
            await page.wait_for_url(f"{base}/c/{cid}/convener")

            # 批示 on west's 责令整改 order (the first order form on the page).
            orders = page.locator("fieldset.order")
            assert await orders.count() >= 1
            west = orders.filter(has_text="west").first
            await west.locator("textarea[name=text]").fill("请西镇主要负责人约谈")
            await west.locator("button").click()
            await page.wait_for_url(f"{base}/c/{cid}/convener")

            await env.sleep(timedelta(minutes=10))  # the read side's debounce
            await page.reload()
            main = await page.inner_text("main")
            account = f"web:{names['convener']}"
            assert f"{account}）：请西镇三日内报送整改方案" in main
            assert f"{account}）：请西镇主要负责人约谈" in main
            await page.screenshot(path=ARTIFACTS / "6-convener-answered.png", full_page=True)

            # On the record: the obligation's audit explain says who answered, and what.
            await page.goto(f"{base}/explain/{ob}")
            explained = await page.inner_text("main")
            assert "批示 on the level 3 escalation" in explained and "请西镇三日内报送整改方案" in explained

            # The order's story, by its link on the convener's page.
            await page.goto(f"{base}/c/{cid}/convener")
            await (
                page.locator("fieldset.order")
                .filter(has_text="west")
                .first.locator("a[href^='/explain-order/']")
                .click()
            )
            await page.wait_for_url(f"{base}/explain-order/**")
            story = await page.inner_text("main")
            # Issued 责令整改 by the December bulletin; the next ones raise the same open order.
            assert "责令整改 (level 1) issued by office to west" in story and "by the 2021-12 bulletin" in story
            assert f"by convener [{account}, convener]「请西镇主要负责人约谈」" in story
            await page.screenshot(path=ARTIFACTS / "7-order-explained.png", full_page=True)

            # The office nominates a person for 楚天杯 from the assessments page.
            office = await signed_in("office", {"width": 1280, "height": 900})
            await office.click(f"a[href='/c/{cid}/assessments']")
            await office.wait_for_url(f"{base}/c/{cid}/assessments")
            form = office.locator("form#nominate")
            await form.locator("select[name=unit]").select_option("west")
            await form.locator("input[name=person]").fill("张三")
            await form.locator("input[name=title]").fill("镇长")
            await form.locator("textarea[name=reason]").fill("带头整改占道经营")
            await form.locator("button").click()
            await office.wait_for_url(f"{base}/c/{cid}/assessments")
            assert "张三（西镇镇长）：带头整改占道经营" in await office.inner_text("#nominations")
            await office.screenshot(path=ARTIFACTS / "8-assessments-nominated.png", full_page=True)
            await browser.close()
        await env.client.get_workflow_handle(cid).terminate("test done")
    for shot in ("5-convener-page", "6-convener-answered", "7-order-explained", "8-assessments-nominated"):
        assert (ARTIFACTS / f"{shot}.png").stat().st_size > 1000
