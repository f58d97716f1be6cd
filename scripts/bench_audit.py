"""Benchmark: verify a 1,000,000-row audit chain read from PostgreSQL; replay 1,000 histories.

    .venv/bin/python scripts/bench_audit.py [--rows N] [--histories N] [--runs N]

Builds the chain in a scratch database on the embedded PostgreSQL (dropped afterwards), then
times `activities.store.audit.verify` (the same code `duban audit verify` runs) over it, and
`services.audit.replay` over the saved rehearsal histories in tests/replay/histories,
repeated to the number asked for. Prints a Markdown table with medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from activities import history, servers  # noqa: E402
from activities.config import Settings  # noqa: E402
from activities.store.audit import GENESIS, canonical, content_digest, link, sha256_hex, verify  # noqa: E402
from activities.store.db import make_engine, upgrade  # noqa: E402
from services.audit import replay  # noqa: E402

CID = "bench-2021"


def rows(n: int) -> list[tuple[object, ...]]:
    """A chain of n rows shaped like a province's: 1,000 towns × 15 tasks, reminders and escalations."""
    t0 = datetime(2021, 5, 6, 1, 0, tzinfo=UTC)
    prev = GENESIS
    out = []
    for i in range(1, n + 1):
        town, task = i % 1000, i % 15 + 1
        payload = canonical({"recipient": f"town-{town:04d}", "level": i % 3, "facts": {"days_overdue": i % 9}})
        row = {
            "campaign_id": CID,
            "seq": i,
            "event_key": f"{CID}/rollout/town-{town:04d}/T{task:02d}-basic#escalate-to-lead@{i}",
            "kind": "escalation",
            "plan_time": t0 + timedelta(minutes=i),
            "server_time": t0 + timedelta(minutes=i, seconds=7),
            "actor": "rule:escalate-to-lead",
            "obligation_id": f"{CID}/rollout/town-{town:04d}/T{task:02d}-basic",
            "unit_id": f"town-{town:04d}",
            "rule_id": "escalate-to-lead",
            "ruleset_hash": "sha256:" + "a" * 64,
            "plan_hash": "sha256:" + "b" * 64,
            "workflow_id": f"{CID}/rollout/town-{town:04d}",
            "run_id": str(uuid.UUID(int=town)),
            "payload_digest": sha256_hex(payload),
        }
        prev_hash = prev
        prev = link(prev, content_digest(row))
        out.append((*row.values(), payload, prev_hash, prev))
    return out


async def bench_chain(n: int, runs: int) -> dict[str, float]:
    admin = await asyncio.to_thread(servers.ensure_postgres, Settings())
    name = f"bench_{uuid.uuid4().hex[:10]}"
    url = await servers.create_database(admin, name)
    try:
        await upgrade(url)
        t = time.perf_counter()
        data = rows(n)
        build = time.perf_counter() - t
        engine = make_engine(url)
        async with engine.begin() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            now = datetime.now(UTC)
            await raw.execute(
                "INSERT INTO campaigns (id, plan_id, plan_title, plan_hash, ruleset_id, ruleset_hash, calendar_hash,"
                " offset_seconds, plan, ruleset, calendar, launched_plan_time, launched_server_time)"
                " VALUES ($1, 'p', 't', 'h', 'r', 'h', 'h', 0, '{}', '{}', '{}', $2, $2)",
                CID,
                now,
            )
            t = time.perf_counter()
            await raw.copy_records_to_table(
                "audit_events",
                records=data,
                columns=[
                    "campaign_id", "seq", "event_key", "kind", "plan_time", "server_time", "actor", "obligation_id",
                    "unit_id", "rule_id", "ruleset_hash", "plan_hash", "workflow_id", "run_id", "payload_digest",
                    "payload", "prev_hash", "hash",
                ],
            )  # fmt: skip
            await raw.execute("INSERT INTO audit_heads VALUES ($1, $2, $3)", CID, n, data[-1][-1])
            load = time.perf_counter() - t
        times = []
        for _ in range(runs):
            async with engine.connect() as conn:
                t = time.perf_counter()
                report = await verify(conn, CID, engine=engine)
                times.append(time.perf_counter() - t)
            assert report.ok and report.rows == n, report.problems
        await engine.dispose()
        return {"build": build, "load": load, "verify": statistics.median(times), "all": times}  # type: ignore[dict-item]
    finally:
        await servers.drop_database(admin, name)


async def bench_replay(n: int, runs: int) -> dict[str, float]:
    saved = history.load(ROOT / "tests" / "replay" / "histories")
    batch = [saved[i % len(saved)] for i in range(n)]
    events = sum(len(h.events) for h in batch)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        report = await replay(batch)
        times.append(time.perf_counter() - t)
        assert report.replayed == n and not report.failures, report.failures[:3]
    return {"replay": statistics.median(times), "events": events, "all": times}  # type: ignore[dict-item]


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--histories", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    c = await bench_chain(a.rows, a.runs)
    r = await bench_replay(a.histories, a.runs)
    print(f"| what | size | median of {a.runs} | all runs | rate |")
    print("|---|---:|---:|---|---:|")
    print(
        f"| audit verify (read from PostgreSQL + recompute) | {a.rows:,} rows | {c['verify']:.2f} s "
        f"| {', '.join(f'{x:.2f}' for x in c['all'])} | {a.rows / c['verify']:,.0f} rows/s |"  # type: ignore[attr-defined]
    )
    print(
        f"| replay through current workflow code | {a.histories:,} histories ({int(r['events']):,} events) "
        f"| {r['replay']:.2f} s | {', '.join(f'{x:.2f}' for x in r['all'])} "  # type: ignore[attr-defined]
        f"| {1000 * r['replay'] / a.histories:.1f} ms/history |"
    )
    print(
        f"\n(building the {a.rows:,}-row chain in Python: {c['build']:.1f} s; COPY into PostgreSQL: {c['load']:.1f} s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
