"""Prometheus metrics of a worker: the service's own, and the Temporal SDK's runtime telemetry.

Two endpoints, because the SDK's telemetry is exported by its Rust core on a listener of its own:
- `DUBAN_METRICS_PORT` (default 9464): duban's metrics, from `prometheus_client`;
- `DUBAN_SDK_METRICS_PORT` (default 9465): the SDK's (`temporal_*`: task slots, poll and
  schedule-to-start latencies, workflow and activity task failures, sticky cache).
Either is off at 0. Both listen on `DUBAN_METRICS_HOST` (127.0.0.1; 0.0.0.0 in a container).

The service's figures about campaigns (obligations by state, what was issued, deliveries by
state) are read from PostgreSQL, the record every worker shares, every
`DUBAN_METRICS_REFRESH_SECONDS`: they are the same whichever worker is scraped, never counted
twice by a retried activity, and right after a restart. What only a worker sees (its activity
failures, how late a due action was acted on) is counted by an interceptor in that worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities.config import Settings
from activities.store.tables import INBOX_DELIVERED, campaigns, deliveries, inbox, obligations, supervision_notices
from models.payloads import Act, DeliverBatch

log = structlog.get_logger()

# Seconds a due action may wait before it is acted on: a timer that fires on time is well under a
# second; a worker down for minutes, or a backlog, shows in the top buckets.
LAG_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600)


@dataclass
class Snapshot:
    """The record's figures, as last read: (campaign, label) → count."""

    obligations: dict[tuple[str, str], int] = field(default_factory=dict)
    issued: dict[tuple[str, str], int] = field(default_factory=dict)
    notices: dict[str, int] = field(default_factory=dict)
    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)
    read_at: float = 0.0
    ok: bool = False


class RecordCollector(Collector):
    """Exposes the last Snapshot; `refresh` reads a new one."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.snapshot = Snapshot()

    async def refresh(self) -> None:
        running = select(campaigns.c.id).where(campaigns.c.status == "running")
        snap = Snapshot()
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(obligations.c.campaign_id, obligations.c.state, func.count())
                .where(obligations.c.campaign_id.in_(running))
                .group_by(obligations.c.campaign_id, obligations.c.state)
            )
            snap.obligations = {(c, s): n for c, s, n in rows}
            rows = await conn.execute(
                select(inbox.c.campaign_id, inbox.c.kind, func.count())
                .where(inbox.c.campaign_id.in_(running), INBOX_DELIVERED)
                .group_by(inbox.c.campaign_id, inbox.c.kind)
            )
            snap.issued = {(c, k): n for c, k, n in rows}
            rows = await conn.execute(
                select(supervision_notices.c.campaign_id, func.count())
                .where(supervision_notices.c.campaign_id.in_(running))
                .group_by(supervision_notices.c.campaign_id)
            )
            snap.notices = {c: n for c, n in rows}
            rows = await conn.execute(
                select(deliveries.c.campaign_id, deliveries.c.status, func.count())
                .where(deliveries.c.campaign_id.in_(running))
                .group_by(deliveries.c.campaign_id, deliveries.c.status)
            )
            snap.deliveries = {(c, s): n for c, s, n in rows}
        snap.read_at, snap.ok = datetime.now(UTC).timestamp(), True
        self.snapshot = snap

    def collect(self) -> Iterator[Any]:
        s = self.snapshot
        ob = GaugeMetricFamily(
            "duban_obligations", "Obligations of running campaigns by state", labels=["campaign", "state"]
        )
        for (c, state), n in sorted(s.obligations.items()):
            ob.add_metric([c, state], n)
        yield ob
        issued = CounterMetricFamily(
            "duban_issued",
            "Reminders, escalations, notices, bulletins and orders issued to units' inboxes, by kind",
            labels=["campaign", "kind"],
        )
        for (c, kind), n in sorted(s.issued.items()):
            issued.add_metric([c, kind], n)
        yield issued
        notices = CounterMetricFamily("duban_notices", "督办通知 issued (numbered)", labels=["campaign"])
        for c, n in sorted(s.notices.items()):
            notices.add_metric([c], n)
        yield notices
        dl = GaugeMetricFamily("duban_deliveries", "E-mail and webhook pushes by state", labels=["campaign", "status"])
        for (c, status), n in sorted(s.deliveries.items()):
            dl.add_metric([c, status], n)
        yield dl
        yield GaugeMetricFamily(
            "duban_record_read_timestamp_seconds", "When the figures above were read", value=s.read_at
        )
        yield GaugeMetricFamily("duban_record_up", "1 if the last read of the record succeeded", value=int(s.ok))


class WorkerMetrics:
    """One worker's metrics: its registry, the record's figures, and the activity interceptor."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.registry = CollectorRegistry()
        self.record = RecordCollector(engine)
        self.registry.register(self.record)
        self.failures = Counter(
            "duban_activity_failures",
            "Activity attempts that raised, by activity and error type (retried or not)",
            ["activity", "error"],
            registry=self.registry,
        )
        self.wakeup_lag = Histogram(
            "duban_wakeup_lag_seconds",
            "How long after its due time an action was acted on (first attempt of each delivery batch)",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )

    def interceptor(self) -> Interceptor:
        return _Interceptor(self)

    async def refresh_forever(self, every: float) -> None:
        while True:
            try:
                await self.record.refresh()
            except Exception as e:  # the database down: say so in duban_record_up, keep serving
                self.record.snapshot.ok = False
                log.warning("metrics: the record could not be read", error=str(e))
            await asyncio.sleep(every)


class _Interceptor(Interceptor):
    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Observing(next, self.metrics)


class _Observing(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, metrics: WorkerMetrics) -> None:
        super().__init__(next)
        self.metrics = metrics

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.activity_type == Act.deliver and info.attempt == 1 and input.args:
            batch = input.args[0]
            if isinstance(batch, DeliverBatch):
                now = datetime.now(UTC)
                for a in batch.actions:
                    self.metrics.wakeup_lag.observe(max(0.0, (now - a.server_time).total_seconds()))
        try:
            return await self.next.execute_activity(input)
        except BaseException as e:
            if not isinstance(e, asyncio.CancelledError):
                self.metrics.failures.labels(activity=info.activity_type, error=type(e).__name__).inc()
            raise


def install_sdk_runtime(settings: Settings) -> Runtime | None:
    """Make the SDK export its telemetry on DUBAN_SDK_METRICS_PORT: call before any client is
    connected (clients and workers take the default runtime when they are made)."""
    if not settings.sdk_metrics_port:
        return None
    address = f"{settings.metrics_host}:{settings.sdk_metrics_port}"
    try:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    except Exception as e:  # the port taken (a second worker on one host): run, but say so loudly
        log.error("sdk metrics not served", address=address, error=str(e))
        return None
    Runtime.set_default(runtime, error_if_already_set=False)
    return runtime


@contextlib.asynccontextmanager
async def serving(settings: Settings, engine: AsyncEngine) -> Any:
    """The service's endpoint on DUBAN_METRICS_PORT and the record's refresh, for as long as the
    worker runs; yields the WorkerMetrics (or None when the port is 0)."""
    if not settings.metrics_port:
        yield None
        return
    metrics = WorkerMetrics(engine)
    address = f"{settings.metrics_host}:{settings.metrics_port}"
    try:
        server, thread = start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=metrics.registry)
    except OSError as e:
        # A second worker on one host (a laptop, a test) must still run: metrics are not worth an
        # outage. The error is logged, and the health check on this port fails, as it should.
        log.error("metrics not served", address=address, error=str(e))
        yield None
        return
    refresh = asyncio.create_task(metrics.refresh_forever(settings.metrics_refresh_seconds))
    log.info("metrics served", address=address, sdk_port=settings.sdk_metrics_port or None)
    try:
        yield metrics
    finally:
        refresh.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresh
        server.shutdown()
        thread.join(timeout=5)
