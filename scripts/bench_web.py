"""Benchmark: the web door's pages, server side, on the embedded PostgreSQL.

    .venv/bin/python scripts/bench_web.py [--runs N] [--towns N] [--sessions N]

In a scratch database (dropped afterwards): the 随县 campaign registered as launch registers it
(707 obligations), and a generated campaign of N towns (10 a county, ids `c001-town0` as
rules/province.py names them) × 15 tasks × 2 milestones. Times the office's board of each
(median and p95 over --runs requests, with the page's weight; a province's board is the counts by
county and task), a province's grid pages (the first page, a county's, a task's), then an
agency's page under --sessions concurrent signed-in agency sessions (each asks for its page
--runs times, all at once; --sessions 0 skips it). Requests go to the app in process (httpx's ASGI transport: no
network, the time is the server's: authentication, the read side, rendering). Prints Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import delete, insert  # noqa: E402

from activities import servers  # noqa: E402
from activities.campaign import CampaignActivities  # noqa: E402
from activities.config import Settings  # noqa: E402
from activities.store.db import make_engine, upgrade  # noqa: E402
from activities.store.tables import obligations  # noqa: E402
from models.payloads import Provenance, RegisterCampaign  # noqa: E402
from services import accounts  # noqa: E402
from services.actors import Actor  # noqa: E402
from services.context import Services  # noqa: E402
from services.plans import DEFAULT_PLAN, DEFAULT_RULES, load_plan, prepare  # noqa: E402
from web.app import create_app  # noqa: E402

PASSWORD = "bench-password"
OFFICE = Actor(account="bench", unit=None, role="office")


async def register(engine: object, cid: str) -> None:
    plan = load_plan(DEFAULT_PLAN)
    now = datetime.now(UTC)
    inp = prepare(plan, DEFAULT_RULES, campaign_id=cid, server_now=now, live=False).input
    ctx = inp.context
    prov = Provenance(
        campaign_id=cid, plan_hash=ctx.plan_hash, ruleset_hash=ctx.ruleset_hash, workflow_id=cid, run_id="r1"
    )
    await CampaignActivities(engine).register_campaign(  # type: ignore[arg-type]
        RegisterCampaign(context=ctx, plan=plan, provenance=prov, server_time=now, plan_time=inp.launched_plan_time)
    )


def town(t: int) -> str:
    return f"c{t // 10 + 1:03d}-town{t % 10}"


async def generate(engine: object, cid: str, towns: int) -> int:
    """Replace the campaign's obligations by towns × 15 tasks × 2 milestones."""
    rows = [
        {
            "id": f"{cid}/rollout/{town(t)}/T{task:02d}-{m}",
            "campaign_id": cid,
            "phase": "rollout",
            "unit_id": town(t),
            "unit_name": f"第{t // 10 + 1}县镇{t % 10}",
            "unit_kind": "town",
            "role": "responsible",
            "task_no": task,
            "category": 1,
            "title": f"任务{task}",
            "lead": "housing",
            "assigned": date(2021, 5, 1),
            "due": due,
            "progress": (t * task) % 100,
            "state": "in_progress",
        }
        for t in range(towns)
        for task in range(1, 16)
        for m, due in (("basic", date(2021, 12, 31)), ("model", date(2022, 6, 30)))
    ]
    async with engine.begin() as conn:  # type: ignore[attr-defined]
        await conn.execute(delete(obligations).where(obligations.c.campaign_id == cid))
        for i in range(0, len(rows), 5000):
            await conn.execute(insert(obligations), rows[i : i + 5000])
    return len(rows)


async def signed_in(app: object, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://bench")  # type: ignore[arg-type]
    form = await client.get("/signin")
    csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
    r = await client.post("/signin", data={"name": name, "password": PASSWORD, "csrf": csrf})
    assert r.status_code == 303, r.text
    return client


async def timed(client: httpx.AsyncClient, url: str) -> tuple[float, int]:
    t = time.perf_counter()
    r = await client.get(url)
    took = time.perf_counter() - t
    assert r.status_code == 200, (url, r.status_code)
    return took, len(r.content)


def stats(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(times) * 1000:.1f} ms | {p95 * 1000:.1f} ms"


async def main(runs: int, towns: int, sessions: int) -> None:
    admin = await asyncio.to_thread(servers.ensure_postgres, Settings())
    name = f"bench_{uuid.uuid4().hex[:10]}"
    url = await servers.create_database(admin, name)
    try:
        await upgrade(url)
        engine = make_engine(url, pool_size=20)
        county, big = "suixian-bench", f"province-{towns}"
        await register(engine, county)
        await register(engine, big)
        n_big = await generate(engine, big, towns)
        async with Services(Settings(env="test"), engine=engine) as ctx:
            await accounts.add(ctx, actor=OFFICE, name="office", role="office", password=PASSWORD)
            units = [town(i) for i in range(sessions)]
            for u in units:
                await accounts.add(ctx, actor=OFFICE, name=u, role=f"agency:{u}", password=PASSWORD)
            app = create_app(ctx)
            office = await signed_in(app, "office")
            print("| page | obligations | median | p95 | page weight |")
            print("|---|---|---|---|---|")
            pages = [("office board", county, "/board", 707), ("office board", big, "/board", n_big)]
            pages += [
                (f"board grid, {what}", big, f"/board/grid{query}", n_big)
                for what, query in (
                    ("page 1", ""),
                    ("county c001", "?county=c001"),
                    ("task 3, page 2", "?task=3&page=2"),
                )
            ]
            for what, cid, path, n in pages:
                await timed(office, f"/c/{cid}{path}")  # warm: templates compiled, pool filled
                got = [await timed(office, f"/c/{cid}{path}") for _ in range(runs)]
                print(f"| {what} `{cid}` | {n:,} | {stats([t for t, _ in got])} | {got[0][1]:,} bytes |")
            clients: list[httpx.AsyncClient] = []
            if sessions:
                clients = [await signed_in(app, u) for u in units]

                async def agency(i: int) -> list[float]:
                    return [(await timed(clients[i], f"/c/{big}/unit/{units[i]}"))[0] for _ in range(runs)]

                t = time.perf_counter()
                per = await asyncio.gather(*(agency(i) for i in range(sessions)))
                wall = time.perf_counter() - t
                flat = [x for xs in per for x in xs]
                weight = (await timed(clients[0], f"/c/{big}/unit/{units[0]}"))[1]
                print(
                    f"| agency page, {sessions} concurrent sessions (`{big}`, 30 obligations each) | {n_big:,} | "
                    f"{stats(flat)} | {weight:,} bytes |"
                )
                print(f"\n{len(flat):,} agency pages in {wall:.2f} s: {len(flat) / wall:.0f} pages/s")
            for c in [office, *clients]:
                await c.aclose()
        await engine.dispose()
    finally:
        await servers.drop_database(admin, name)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--towns", type=int, default=1000)
    p.add_argument("--sessions", type=int, default=50)
    a = p.parse_args()
    asyncio.run(main(a.runs, a.towns, a.sessions))
