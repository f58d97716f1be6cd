"""`duban audit verify` on a campaign still running: it says so, and holds what it can (the
chain, the replay); it does not call the record broken for effects still under way."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities import history
from models.time import CST
from services.audit import verify_campaign
from tests.integration import mini
from worker import build_worker

pytestmark = pytest.mark.integration


async def sleep_to(env: WorkflowEnvironment, clock: Any, when: datetime) -> None:
    await env.sleep(clock.server_time(when) - await env.get_current_time())


async def test_a_running_campaign_is_said_to_be_running(
    env: WorkflowEnvironment, engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    cid, clock = inp.context.campaign_id, inp.context.clock
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
        handle = await mini.start(env.client, inp, queue)
        await sleep_to(env, clock, datetime(2021, 12, 20, 10, tzinfo=CST))
        # The histories fetched, then the campaign moves on before the rows are read: what a
        # running campaign always does to an auditor (activities write before Temporal records).
        histories = await history.collect(env.client, [cid])
        await sleep_to(env, clock, datetime(2022, 1, 10, 10, tzinfo=CST))
        async with engine.connect() as conn:
            v = await verify_campaign(conn, cid, histories=histories)
        assert v.running and v.ok, v.problems()
        assert v.in_flight > 0 and v.chain.rows > v.in_flight and v.replay.replayed == len(histories)
        history.save(histories, tmp_path / "h")
        said = mini.duban("audit", "verify", cid, "--histories", str(tmp_path / "h"), db_url=db_url, var_dir=tmp_path)
        assert said.returncode == 0, said.stderr
        assert f"{cid}: running (not finished)" in said.stdout and "NOT hold" not in said.stdout + said.stderr
        await handle.result()
    histories = await history.collect(env.client, [cid])
    async with engine.connect() as conn:
        done = await verify_campaign(conn, cid, histories=histories)
    assert not done.running and done.ok and done.in_flight == 0, done.problems()
