"""A campaign run with the payload codec: Temporal's store holds no plan or unit names in clear,
the campaign still does its work, and its histories verify and decode with the key."""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities import codec, history, servers
from activities.config import Settings
from models.payloads import CampaignResult, ReportProgress
from services import audit, secrets
from services.context import Services
from services.errors import Invalid
from tests.integration import mini
from worker import build_worker

pytestmark = pytest.mark.integration

# Names from the mini plan and its unit directory that a payload carries (tasks, towns, lead
# agencies, the notice prefix), and that must not be readable in Temporal's store.
CLEAR = ["东镇", "西镇", "测督"]


def in_payloads(histories: list[str]) -> set[str]:
    """Which of CLEAR any payload's data holds (payload data is base64 in a history's JSON)."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "metadata" in node and isinstance(node.get("data"), str):
                data = base64.b64decode(node["data"])
                found.update(w for w in CLEAR if w.encode() in data)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for h in histories:
        walk(json.loads(h))
    return found


async def test_a_campaign_with_the_codec_stores_nothing_in_clear(
    engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    keys = f"k2026:{base64.b64encode(os.urandom(32)).decode()}"
    settings = Settings(env="test", codec_keys=keys, database_url=db_url)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=servers.test_server_path(), data_converter=codec.for_settings(settings)
    )
    try:
        queue = str(uuid.uuid4())
        inp = mini.new_campaign(await env.get_current_time())
        cid = inp.context.campaign_id
        async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
            handle = await mini.start(env.client, inp, queue)
            await env.sleep(timedelta(days=2))  # past the rollout phase's start, 2021-05-01
            # A refusal's message travels encrypted and reads in clear on a client with the key.
            west = env.client.get_workflow_handle(f"{cid}/rollout/west")
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await west.execute_update(
                    "report_progress",
                    ReportProgress(obligation_id=f"{cid}/rollout/west/T01-basic", unit_id="东镇", percent=10),
                )
            cause = refused.value.cause
            assert isinstance(cause, ApplicationError) and "may not act" in cause.message
            result: CampaignResult = await handle.result()
        # The service did its work through the codec.
        assert result.counts["obligations"] == 9 and result.counts["escalations"] == 6
        assert await mini.deliveries(engine, cid) == mini.expected_deliveries(cid)

        # What Temporal stores, read with a client that has no key.
        target = env.client.service_client.config.target_host
        raw_client = await Client.connect(target, data_converter=pydantic_data_converter)
        raw = await history.collect(raw_client, [cid])
    finally:
        await env.shutdown()
    stored = [h.to_json() for h in raw]
    assert len(stored) > 5
    assert in_payloads(stored) == set()
    # Nor anywhere else in the stored histories: failure messages are encrypted with the payloads.
    for word in CLEAR:
        forms = {word, word.encode("unicode_escape").decode(), word.encode("unicode_escape").decode().upper()}
        assert not [h for h in stored for f in forms if f in h], word
    assert '"encryption-key-id"' in stored[0] or "ZW5jcnlwdGlvbi1rZXktaWQ" in stored[0] or "k2026" in stored[0]

    # With the key, the same histories decode (all the names are there) and the campaign verifies.
    key_codec = codec.settings_codec(settings)
    clear = [h.to_json() for h in codec.decode_histories(raw, key_codec)]
    assert in_payloads(clear) == set(CLEAR)
    exported = tmp_path / "exported"
    history.save(raw, exported)
    async with Services(settings, engine=engine) as ctx:
        verdict = await audit.verify(ctx, campaign=cid, histories_dir=exported)
        assert verdict.ok, verdict.problems()
        decoded = await secrets.decode_histories(ctx, source=exported, folder=tmp_path / "clear", campaign=cid)
    assert decoded.histories == len(raw)
    assert in_payloads([p.read_text() for p in (tmp_path / "clear").glob("*.json")]) == set(CLEAR)

    # Without the key (or with another), the auditor is told, not handed garbage.
    other = Settings(env="test", codec_keys=f"k2026:{base64.b64encode(os.urandom(32)).decode()}", database_url=db_url)
    async with Services(other, engine=engine) as ctx:
        with pytest.raises(Invalid, match="does not decrypt"):
            await secrets.decode_histories(ctx, source=exported, folder=tmp_path / "no", campaign=cid)
    async with Services(Settings(env="test", database_url=db_url), engine=engine) as ctx:
        with pytest.raises(Invalid, match="DUBAN_CODEC_KEYS is not set"):
            await secrets.decode_histories(ctx, source=exported, folder=tmp_path / "no", campaign=cid)
