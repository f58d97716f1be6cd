"""A normal stop (SIGINT, as systemd, compose and Kubernetes send) lets an activity in flight
finish instead of cancelling it, so a push half sent is completed, not left "uncertain"."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities import servers

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


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_a_stop_mid_activity_lets_it_finish(
    local: WorkflowEnvironment, tmp_path: Path, sig: signal.Signals
) -> None:
    queue = str(uuid.uuid4())
    address = local.client.service_client.config.target_host
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_GRACEFUL")}
    proc = subprocess.Popen(  # noqa: ASYNC220 (a worker of its own, signalled as an operator would)
        [sys.executable, str(Path(__file__).parent / "graceful_proc.py"), address, queue],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        handle = await local.client.start_workflow(
            "TestSlowSend", str(tmp_path), id=f"slow-{queue}", task_queue=queue, result_type=str
        )
        while not (tmp_path / "started").exists():
            assert proc.poll() is None, proc.communicate()
            await asyncio.sleep(0.05)
        proc.send_signal(sig)
        out, err = await asyncio.to_thread(proc.communicate, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert (tmp_path / "finished").exists() and not (tmp_path / "cancelled").exists(), err
    assert "worker stopped" in err + out
    # The activity's result reached the server before the worker left (the workflow itself
    # completes on whichever worker polls next): nothing is retried, nothing is uncertain.
    history = await handle.fetch_history()
    kinds = [e.WhichOneof("attributes") for e in history.events]
    assert "activity_task_completed_event_attributes" in kinds, kinds
    assert "activity_task_failed_event_attributes" not in kinds
