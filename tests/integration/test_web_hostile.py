"""Hostile input through the web door's forms (hypothesis): over-long text, control characters,
formula text, markup, path-like file names. Each answer is a page with a clear message (400 for
input the form refuses; 404 here, where no workflow runs, for input it takes), never a 500 or a
traceback; markup is shown as text; a file is stored under its base name only."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.config import Settings
from activities.store.tables import evidence_files
from services.context import Services
from tests.integration import mini
from tests.integration.web_support import add_accounts, browser, sign_in
from web.app import create_app

pytestmark = pytest.mark.integration

HOSTILE = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl"]), max_size=30),
    st.sampled_from(["=cmd|' /C calc'!A0", "+SUM(A1)", '@HYPERLINK("x")', "<script>alert(1)</script>", "\x00"]),
    st.text(min_size=4001, max_size=4100),
)
NAMES = st.one_of(
    st.sampled_from(["../../etc/passwd.jpg", "C:\\Windows\\x.pdf", "/abs/path.png", "..", "", "a\x00b.jpg"]),
    st.text(min_size=1, max_size=40),
)


@pytest.fixture
async def site(engine: AsyncEngine, env: WorkflowEnvironment, tmp_path: Path):  # type: ignore[no-untyped-def]
    inp, _, _ = await mini.registered(engine)
    settings_ = Settings(env="test", task_queue="unused", contacts_file=tmp_path / "none.yaml")
    # A Temporal of the test's own: an accepted action sends an Update, and without a client the
    # service would start a detached dev server in the project's var/ that outlived the suite.
    async with Services(settings_, client=env.client, engine=engine) as ctx:
        names = await add_accounts(ctx, f"h-{uuid.uuid4().hex[:6]}")
        yield create_app(ctx), inp.context.campaign_id, names


async def test_hostile_text_and_file_names_get_a_clear_answer(site, engine: AsyncEngine) -> None:  # type: ignore[no-untyped-def]
    app, cid, names = site
    ob = f"{cid}/rollout/east/T01-basic"
    async with browser(app) as client:
        csrf = await sign_in(client, names["east"])

        # Hypothesis draws the inputs (it runs no async test itself); each is then sent for real.
        drawn: list[tuple[str, str, bytes]] = []

        @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(text=HOSTILE, name=NAMES, content=st.binary(min_size=1, max_size=64))
        def draw(text: str, name: str, content: bytes) -> None:
            drawn.append((text, name, content))

        draw()
        for text, name, content in drawn:
            files = {"evidence": (name, content, "application/octet-stream")}
            data = {"csrf": csrf, "percent": "10", "text": text}
            r = await client.post(f"/act/progress/{ob}", data=data, files=files)
            assert r.status_code in (400, 404), (text, name, r.status_code, r.text[-500:])
            assert "Traceback" not in r.text and "<script>alert" not in r.text
            if len(text) > 4000 or "not a plain file name" in r.text:
                # Too long, or a file name with folders, '..' or control characters: refused by
                # name before anything is stored.
                assert r.status_code == 400 and "输入有误" in r.text
            else:
                assert "no open workflow holds" in r.text, r.text[-500:]  # the service's refusal, as asked
    async with engine.connect() as conn:
        stored = (await conn.execute(select(evidence_files.c.name))).scalars().all()
    assert stored and not any("/" in n or "\\" in n for n in stored)
