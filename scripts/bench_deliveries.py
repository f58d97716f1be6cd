"""Benchmark: a timer storm's deliveries alone, without Temporal: N towns' `deliver` calls (15
到期前催办 each) arriving at once, written alone or gathered (`activities.gathering`).

    .venv/bin/python scripts/bench_deliveries.py [--towns 1000] [--runs 3] [--most 64] [--wait-ms 5]

Registers the mini campaign in a scratch database on the embedded PostgreSQL (dropped
afterwards), then, per run and alternating, calls `CampaignActivities.deliver` for every town at
once with at most `--concurrency` in flight (the worker's `max_concurrent_activities`), alone
(`most` 1) and gathered. Prints, per mode, the median wall time until the last row was written,
the p50 / p99 of a call's time and the process's CPU seconds: what the delivery path costs a
storm, apart from the engine's workflow and activity tasks (`duban bench province --storm`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activities import servers  # noqa: E402
from activities.campaign import CampaignActivities  # noqa: E402
from activities.config import Settings  # noqa: E402
from activities.gathering import Gathering  # noqa: E402
from activities.logs import configure  # noqa: E402
from activities.store.db import make_engine, upgrade  # noqa: E402
from models.payloads import DeliverBatch  # noqa: E402
from models.time import at  # noqa: E402
from tests.integration.mini import registered, wake_up  # noqa: E402

WHEN = at(date(2021, 12, 28), "09:00")


async def storm(acts: CampaignActivities, batches: list[DeliverBatch], concurrency: int) -> tuple[float, list[float]]:
    slots = asyncio.Semaphore(concurrency)
    took: list[float] = []
    began = time.perf_counter()

    async def one(b: DeliverBatch) -> None:
        async with slots:
            t = time.perf_counter()
            await acts.deliver(b)
            took.append(time.perf_counter() - t)

    await asyncio.gather(*(one(b) for b in batches))
    return time.perf_counter() - began, sorted(took)


async def main(towns: int, tasks: int, runs: int, most: int, wait_ms: float, concurrency: int) -> None:
    configure(fmt="console", level="warning")  # a log line per reminder is the worker's, not the write path's
    admin = await asyncio.to_thread(servers.ensure_postgres, Settings())
    name = f"bench_deliveries_{uuid.uuid4().hex[:8]}"
    url = await servers.create_database(admin, name)
    try:
        await upgrade(url)
        engine = make_engine(url)
        _, prov, _ = await registered(engine)
        modes = {"alone": None, "gathered": Gathering(most=most, wait=wait_ms / 1000)}
        figures: dict[str, list[tuple[float, float, float, float]]] = {m: [] for m in modes}
        for run in range(runs):
            for mode, gathering in modes.items():
                acts = CampaignActivities(engine, papers_on_request=True, gathering=gathering)
                names = [f"T{t:02d}" for t in range(1, tasks + 1)]
                batches = [wake_up(prov, f"town-{i:04d}", WHEN, names, f"#{mode}{run}") for i in range(towns)]
                cpu = time.process_time()
                wall, took = await storm(acts, batches, concurrency)
                cpu = time.process_time() - cpu
                figures[mode].append((wall, took[len(took) // 2], took[int(0.99 * (len(took) - 1))], cpu))
        await engine.dispose()
    finally:
        await servers.drop_database(admin, name)
    head = f"{towns} towns × {tasks} reminders at once, median of {runs}"
    print(f"| {head} | last row, s | call p50, s | call p99, s | CPU, s |")
    print("|---|---:|---:|---:|---:|")
    for mode, rows in figures.items():
        med = [statistics.median(col) for col in zip(*rows, strict=True)]
        print(f"| {mode} | " + " | ".join(f"{v:.2f}" for v in med) + " |")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--towns", type=int, default=1000)
    p.add_argument("--tasks", type=int, default=15)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--most", type=int, default=64)
    p.add_argument("--wait-ms", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=50, help="calls in flight (max_concurrent_activities)")
    a = p.parse_args()
    asyncio.run(main(a.towns, a.tasks, a.runs, a.most, a.wait_ms, a.concurrency))
