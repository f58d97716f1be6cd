"""The worker's own metrics: failures counted by activity and error, lag behind the due time,
and a taken port that leaves the worker running without metrics rather than down."""

from __future__ import annotations

import dataclasses
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.testing import ActivityEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from activities import metrics
from activities.config import Settings
from models.payloads import Act, DeliverBatch, FiredAction


class Next(ActivityInboundInterceptor):
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        if self.fail:
            raise ConnectionResetError("smtp went away")
        return "ok"


def engine() -> Any:
    return create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")


def value(m: metrics.WorkerMetrics, name: str, **labels: str) -> float:
    got = m.registry.get_sample_value(name, labels)
    return 0.0 if got is None else got


async def test_failures_and_wakeup_lag_are_counted() -> None:
    m = metrics.WorkerMetrics(engine())
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type=Act.deliver, attempt=1)
    due = datetime.now(UTC) - timedelta(seconds=90)
    # Only the due times matter here: the rest of the batch is left out (model_construct skips checks).
    fields: dict[str, Any] = {"server_time": due}
    action = FiredAction.model_construct(**fields)
    batch = DeliverBatch.model_construct(**{**fields, "actions": [action, action]})
    inp = ExecuteActivityInput(fn=lambda: None, args=[batch], executor=None, headers={})

    async def run(fail: bool) -> Any:
        return await metrics._Observing(Next(fail), m).execute_activity(inp)

    assert await env.run(run, False) == "ok"
    with pytest.raises(ConnectionResetError):
        await env.run(run, True)
    assert value(m, "duban_activity_failures_total", activity=Act.deliver, error="ConnectionResetError") == 1
    assert value(m, "duban_wakeup_lag_seconds_count") == 4  # 2 actions × 2 first attempts
    assert value(m, "duban_wakeup_lag_seconds_bucket", le="60.0") == 0  # 90 s late: none under a minute
    assert value(m, "duban_wakeup_lag_seconds_bucket", le="120.0") == 4
    env.info = dataclasses.replace(env.info, attempt=2)  # a retry is not a new wake-up
    await env.run(run, False)
    assert value(m, "duban_wakeup_lag_seconds_count") == 4


async def test_a_taken_port_leaves_the_worker_running_without_metrics() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with metrics.serving(Settings(metrics_port=port), engine()) as served:
            assert served is None
        assert metrics.install_sdk_runtime(Settings(sdk_metrics_port=port)) is None
    async with metrics.serving(Settings(metrics_port=0), engine()) as served:
        assert served is None
