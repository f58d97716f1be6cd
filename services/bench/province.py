"""`duban bench province`: a generated province launched on a fresh dev server, beside the raw
engine, in one run (issue 16).

Per run, on a fresh dev server (SQLite, in a temporary var dir), a fresh PostgreSQL database and
a worker in its own process (as `duban up` runs one):
- raw engine, client: start N empty workflows from a client, wait for all to finish;
- raw engine, children: one workflow starts N empty children (100 a task), waits for all;
- the province: the 随县 plan with N towns in N/10 counties (`rules.province`), launched at its
  issue date as `duban launch` does; timed until every planning-phase unit workflow (one per
  town) has started and set its first timer, read from the server's own event times;
- the naive design (a workflow per obligation, waiting on its deadline's timer) measured on a
  sample and extrapolated to every obligation;
- optionally a timer storm (`services.bench.storm`).
Also the worker's peak RSS and the largest history.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities import servers
from activities.codec import PAYLOADS
from activities.config import Settings, get_settings
from activities.store.db import make_engine, upgrade
from models.payloads import CampaignInput
from models.plan import PhaseKind, Plan
from rules.loading import parse_yaml
from rules.obligations import expand
from rules.province import multiply
from services.bench import engine as raw
from services.bench.engine import Peak, event_seconds, first_event
from services.bench.storm import StormResult, storm
from services.bench.worker import QUEUE
from services.plans import DEFAULT_PLAN, DEFAULT_RULES, prepare
from workflows import CampaignWorkflow


class ProvinceRun(BaseModel):
    """One run's figures: seconds unless named otherwise."""

    towns: int
    obligations: int
    raw_client: float
    raw_children: float
    started: float
    """Launch until every town's planning-phase unit workflow has started (server event times)."""
    timers: float
    """… and set its first timer."""
    naive_sample_size: int
    naive_sample: float
    naive: float
    """The naive sample's time, extrapolated to every obligation."""
    rss_mb: float
    largest: int
    largest_id: str
    storm: StormResult | None = None


class ProvinceBench(BaseModel):
    towns: int
    tasks: int
    runs: list[ProvinceRun] = Field(default_factory=list)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """The machine's load average at the end (1, 5, 15 minutes): a shared machine slows runs."""


def province(towns: int, tasks: int) -> Plan:
    """The 随县 plan with `towns` towns in ⌈towns / 10⌉ counties and its first `tasks` tasks."""
    plan, _ = parse_yaml(DEFAULT_PLAN.read_text(encoding="utf-8"), path=str(DEFAULT_PLAN))
    plan["tasks"] = plan["tasks"][:tasks]
    dpath = DEFAULT_PLAN.parent / plan["directory"]
    directory, _ = parse_yaml(dpath.read_text(encoding="utf-8"), path=str(dpath))
    p, d = multiply(plan, directory, towns=towns)
    return Plan.model_validate({**p, "directory": d})


async def launch(
    client: Client, inp: CampaignInput, phase: PhaseKind, units: list[str], limit: float
) -> tuple[float, float]:
    """Start the campaign; seconds from then until every unit of `phase` has started its
    workflow, and until each has set its first timer (the server's event times)."""
    cid = inp.context.campaign_id
    t0 = time.time()
    await client.start_workflow(CampaignWorkflow.run, inp, id=cid, task_queue=QUEUE)
    deadline = t0 + limit
    sem = asyncio.Semaphore(raw.CONCURRENT_CLIENT_CALLS)

    async def times(u: str) -> tuple[float, float]:
        wf = f"{cid}/{phase.value}/{u}"
        async with sem:
            first = await first_event(client, wf, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, deadline=deadline)
            timer = await first_event(client, wf, EventType.EVENT_TYPE_TIMER_STARTED, deadline=deadline, poll=2.0)
        return event_seconds(first), event_seconds(timer)

    query = f"WorkflowType='UnitWorkflow' AND WorkflowId STARTS_WITH '{cid}/{phase.value}/'"
    while (await client.count_workflows(query)).count < len(units):
        if time.time() > deadline:
            raise TimeoutError(f"not every unit workflow started within {limit:g} s")
        await asyncio.sleep(1)
    found = await asyncio.gather(*(times(u) for u in units))
    return max(s for s, _ in found) - t0, max(t for _, t in found) - t0


async def largest_history(client: Client, prefix: str) -> tuple[int, str]:
    """The longest history among a campaign's workflows (unit workflows included)."""
    largest, where = 0, ""
    async for w in client.list_workflows(f"WorkflowId STARTS_WITH '{prefix}'"):
        n = (await client.get_workflow_handle(w.id).describe()).raw_description.workflow_execution_info.history_length
        if n > largest:
            largest, where = n, w.id
    return largest, where


async def one_run(
    towns: int, tasks: int, *, limit: float, sample: int, with_storm: bool, storm_lead: float
) -> ProvinceRun:
    plan = province(towns, tasks)
    admin = await asyncio.to_thread(servers.ensure_postgres, Settings(env="test"))
    name = f"bench_{uuid.uuid4().hex[:10]}"
    db_url = await servers.create_database(admin, name)
    await upgrade(db_url)
    db = make_engine(db_url)
    with tempfile.TemporaryDirectory(prefix="duban-bench-") as var:
        server = await servers.start_dev_server(Settings(var_dir=Path(var)), port=_free_port())
        log = Path(var) / "worker.log"  # its structlog lines would drown the report
        with log.open("wb") as f:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.bench.worker", server.address, db_url, stdout=f, stderr=f
            )
        peak = Peak(proc.pid)
        watch = asyncio.create_task(peak.watch())
        exited = asyncio.create_task(proc.wait())
        try:
            client = await Client.connect(server.address, data_converter=PAYLOADS)
            work = asyncio.create_task(
                measure(
                    client, db, plan, tasks, limit=limit, sample=sample, with_storm=with_storm, storm_lead=storm_lead
                )
            )
            # A worker that dies would leave every step waiting out its timeout: stop at once.
            await asyncio.wait({work, exited}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                work.cancel()
                tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise RuntimeError(f"the bench's worker exited (code {proc.returncode}):\n{tail}")
            run = work.result()
        finally:
            watch.cancel()
            if proc.returncode is None:
                proc.terminate()
            await exited
            server.stop()
            await db.dispose()
            await servers.drop_database(admin, name)
    return run.model_copy(update={"rss_mb": peak.mb})


async def measure(
    client: Client,
    db: AsyncEngine,
    plan: Plan,
    tasks: int,
    *,
    limit: float,
    sample: int,
    with_storm: bool,
    storm_lead: float,
) -> ProvinceRun:
    """Every figure of one run, in order, on one server and worker (RSS filled in after)."""
    units = [u.id for u in plan.units_in_scope()]
    towns = len(units)
    obligations = len(expand(plan, plan.id))
    await raw.raw_client(client, 1)  # the worker up and polling before anything is timed
    await raw.raw_children(client, 1)
    raw_client = await raw.raw_client(client, towns)
    raw_children = await raw.raw_children(client, towns)
    cid = f"{plan.id}-{uuid.uuid4().hex[:6]}"
    arm = get_settings().arm_ahead_seconds  # as `duban launch` would (its first instants are days away)
    inp = prepare(
        plan, DEFAULT_RULES, campaign_id=cid, server_now=datetime.now(UTC), live=False, arm_ahead_seconds=arm
    ).input
    started, timers = await launch(client, inp, PhaseKind.planning, units, limit)
    naive = await raw.naive_sample(client, sample, limit)
    stormed = None
    if with_storm:
        stormed = await storm(
            client,
            db,
            plan,
            units,
            lead=storm_lead or 60 + 3 * timers,
            raw_lead=30 + 3 * raw_client,
            timers=tasks,
            limit=limit,
            launch=launch,
            arm_ahead_seconds=arm,
        )
    largest, where = await largest_history(client, plan.id)
    return ProvinceRun(
        towns=towns,
        obligations=obligations,
        raw_client=raw_client,
        raw_children=raw_children,
        started=started,
        timers=timers,
        naive_sample_size=sample,
        naive_sample=naive,
        naive=naive * obligations / sample,
        rss_mb=0.0,
        largest=largest,
        largest_id=where.split("/", 1)[-1] if "/" in where else "campaign",
        storm=stormed,
    )


async def bench_province(
    *,
    towns: int,
    tasks: int = 15,
    runs: int = 3,
    naive_sample: int = 1500,
    limit: float = 900.0,
    with_storm: bool = False,
    storm_lead: float = 0.0,
    progress: Callable[[ProvinceRun], None] | None = None,
) -> ProvinceBench:
    """`runs` runs of the province bench, each on servers of its own."""
    if towns < 1 or runs < 1 or naive_sample < 1 or tasks < 1:
        raise ValueError("towns, tasks, runs and the naive sample must each be at least 1")
    out = ProvinceBench(towns=towns, tasks=tasks)
    for _ in range(runs):
        r = await one_run(towns, tasks, limit=limit, sample=naive_sample, with_storm=with_storm, storm_lead=storm_lead)
        out.runs.append(r)
        if progress is not None:
            progress(r)
    with contextlib.suppress(OSError):
        import os

        out.load_average = os.getloadavg()
    return out


def medians(bench: ProvinceBench, key: Callable[[ProvinceRun], float]) -> tuple[float, list[float]]:
    """A figure's median over the runs, and each run's."""
    each = [float(key(r)) for r in bench.runs]
    return statistics.median(each), each


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
