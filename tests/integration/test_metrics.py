"""A running worker (`python worker.py`, as `duban worker` runs it) serves Prometheus metrics:
the service's own figures from the record and the Temporal SDK's telemetry, each on its port
from Settings, and writes JSON log lines bound with the campaign's id."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities import servers
from tests.integration import mini
from tests.integration.receivers import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


@pytest.fixture
async def local() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=servers.dev_server_path(),
        ui=False,
        dev_server_extra_args=["--headless"],
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


async def scrape(port: int, until: str, *, tries: int = 300) -> str:
    """The endpoint's text once it matches `until` (a regular expression)."""
    text = ""
    async with httpx.AsyncClient() as http:
        for _ in range(tries):
            try:
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            except httpx.TransportError:
                text = ""
            if re.search(until, text, re.MULTILINE):
                return text
            await asyncio.sleep(0.1)
    raise AssertionError(f"{until!r} never appeared on :{port}:\n{text[-3000:]}")


async def test_a_running_worker_serves_its_metrics(local: WorkflowEnvironment, db_url: str, tmp_path: Path) -> None:
    queue = f"metrics-{uuid.uuid4()}"
    port, sdk_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TEMPORAL_"))},
        "PYTHONPATH": str(ROOT),
        "DUBAN_ENV": "test",
        "DATABASE_URL": db_url,
        "TEMPORAL_ADDRESS": local.client.service_client.config.target_host,
        "DUBAN_TASK_QUEUE": queue,
        "DUBAN_VAR_DIR": str(tmp_path / "var"),
        "DUBAN_METRICS_PORT": str(port),
        "DUBAN_SDK_METRICS_PORT": str(sdk_port),
        "DUBAN_METRICS_REFRESH_SECONDS": "0.2",
        "DUBAN_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 (the worker as an operator runs it)
        [sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        inp = mini.new_campaign(await local.get_current_time())
        cid = inp.context.campaign_id
        handle = await mini.start(local.client, inp, queue, agencies=False)
        # The campaign registered its 9 obligations: the record's figures say so, per campaign.
        text = await scrape(port, rf'^duban_obligations\{{campaign="{re.escape(cid)}",state="assigned"\}} 9\.0$')
        assert "duban_record_up 1.0" in text
        assert "# TYPE duban_wakeup_lag_seconds histogram" in text
        assert "# TYPE duban_activity_failures_total counter" in text
        assert "# TYPE duban_deliveries gauge" in text and "# TYPE duban_issued_total counter" in text
        # The SDK's own telemetry, on its port: the worker's task slots and the activities it ran.
        sdk = await scrape(sdk_port, r"^temporal_activity_execution_latency")
        assert re.search(rf'^temporal_worker_task_slots_available\{{.*task_queue="{re.escape(queue)}"', sdk, re.M)
        await handle.terminate("test over")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = await asyncio.to_thread(proc.communicate, timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "metrics served" for line in lines), err[-3000:]
    # Log lines written inside an activity are bound with the campaign's id.
    assert any(line.get("campaign_id") == cid and line.get("activity") for line in lines), err[-3000:]
