"""Benchmark: a province (issue 16) launched on a Temporal dev server, beside the raw engine.

    .venv/bin/python scripts/bench_province.py [--towns 1000] [--runs 3]

Per run, on a fresh dev server (SQLite, in a temporary var dir), fresh PostgreSQL database, and
a worker in its own process (as `duban up` runs one):
- raw engine, client: start N empty workflows from a client, wait for all to finish;
- raw engine, children: one workflow starts N empty children (batches of 100), waits for all;
- the province: the 随县 plan with N towns in N/10 counties (`rules.province`), launched at its
  issue date as `duban launch` does; timed until every planning-phase unit workflow (one per
  town) has started and set its first timer, read from the server's own event times.
Also: the worker's peak RSS, the largest history, and the naive design (a workflow per
obligation, waiting on its deadline's timer) measured on a sample (`--naive-sample`, 1,500) and
extrapolated to every obligation. Prints a Markdown table, medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from temporalio import workflow  # noqa: E402
from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from activities import servers  # noqa: E402
from activities.config import Settings  # noqa: E402
from activities.store.db import make_engine, upgrade  # noqa: E402
from models.plan import PhaseKind, Plan  # noqa: E402
from rules.loading import parse_yaml  # noqa: E402
from rules.obligations import expand  # noqa: E402
from rules.province import multiply  # noqa: E402
from services.plans import DEFAULT_PLAN, DEFAULT_RULES, prepare  # noqa: E402

QUEUE, RAW_QUEUE = "duban-bench", "duban-bench-raw"


@workflow.defn(sandboxed=False)
class EmptyWorkflow:
    @workflow.run
    async def run(self) -> None:
        return None


@workflow.defn(sandboxed=False)
class ObligationWorkflow:
    """The naive design's unit of work: one workflow per obligation, waiting for its deadline."""

    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(86400 * 30)


@workflow.defn(sandboxed=False)
class EmptyParent:
    @workflow.run
    async def run(self, n: int) -> None:
        prefix = workflow.info().workflow_id
        handles = []
        for i in range(0, n, 100):
            handles += await asyncio.gather(
                *(
                    workflow.start_child_workflow(EmptyWorkflow.run, id=f"{prefix}/{j}")
                    for j in range(i, min(n, i + 100))
                )
            )
        await asyncio.gather(*handles)


async def worker_main(address: str, db_url: str) -> None:
    """The worker process: duban's worker, and the empty workflows on a queue of their own."""
    from worker import build_worker

    client = await Client.connect(address, data_converter=pydantic_data_converter)
    raw = Worker(client, task_queue=RAW_QUEUE, workflows=[EmptyWorkflow, EmptyParent, ObligationWorkflow])
    async with build_worker(client, make_engine(db_url), task_queue=QUEUE), raw:
        await asyncio.Event().wait()


def province(towns: int) -> Plan:
    plan, _ = parse_yaml(DEFAULT_PLAN.read_text(encoding="utf-8"), path=str(DEFAULT_PLAN))
    dpath = DEFAULT_PLAN.parent / plan["directory"]
    directory, _ = parse_yaml(dpath.read_text(encoding="utf-8"), path=str(dpath))
    p, d = multiply(plan, directory, towns=towns)
    return Plan.model_validate({**p, "directory": d})


class Peak:
    """A process's peak resident memory, sampled twice a second."""

    def __init__(self, pid: int) -> None:
        self.proc, self.mb = psutil.Process(pid), 0.0

    async def watch(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self.mb = max(self.mb, self.proc.memory_info().rss / 2**20)
            await asyncio.sleep(0.5)


async def raw_client(client: Client, n: int) -> float:
    t = time.perf_counter()
    run = uuid.uuid4().hex[:6]
    sem = asyncio.Semaphore(100)

    async def one(i: int) -> None:
        async with sem:
            h = await client.start_workflow(EmptyWorkflow.run, id=f"raw-{run}-{i}", task_queue=RAW_QUEUE)
        await h.result()

    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - t


async def raw_children(client: Client, n: int) -> float:
    t = time.perf_counter()
    await client.execute_workflow(EmptyParent.run, n, id=f"raw-parent-{uuid.uuid4().hex[:6]}", task_queue=RAW_QUEUE)
    return time.perf_counter() - t


async def naive_sample(client: Client, n: int, limit: float) -> float:
    """Seconds from the first start until every one of `n` obligation workflows, started from a
    client, has set its deadline's timer (read from the server's event times): a measured sample
    of the naive design."""
    t0 = time.time()
    run = uuid.uuid4().hex[:6]
    sem = asyncio.Semaphore(100)
    ids = [f"naive-{run}-{i}" for i in range(n)]

    async def start(wf: str) -> None:
        async with sem:
            await client.start_workflow(ObligationWorkflow.run, id=wf, task_queue=RAW_QUEUE)

    await asyncio.gather(*(start(wf) for wf in ids))
    deadline = time.time() + limit

    async def timer_at(wf: str) -> float:
        async with sem:
            while True:
                events = (await client.get_workflow_handle(wf).fetch_history()).events
                timer = next((e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED), None)
                if timer is not None:
                    return event_seconds(timer)
                if time.time() > deadline:
                    raise TimeoutError(f"{wf} set no timer within {limit:g} s")
                await asyncio.sleep(1)

    return max(await asyncio.gather(*(timer_at(wf) for wf in ids))) - t0


def event_seconds(e: Any) -> float:
    return float(e.event_time.ToDatetime(tzinfo=UTC).timestamp())


async def launch(client: Client, plan: Plan, units: list[str], limit: float) -> tuple[float, float, int, str]:
    """Seconds from launch until every unit has started, and has set its first timer; the largest
    history (events, workflow id)."""
    from workflows import CampaignWorkflow

    cid = f"{plan.id}-{uuid.uuid4().hex[:6]}"
    inp = prepare(plan, DEFAULT_RULES, campaign_id=cid, server_now=datetime.now(UTC), live=False).input
    t0 = time.time()
    await client.start_workflow(CampaignWorkflow.run, inp, id=cid, task_queue=QUEUE)
    query = f"WorkflowType='UnitWorkflow' AND ExecutionStatus='Running' AND WorkflowId STARTS_WITH '{cid}/'"
    deadline = time.time() + limit
    while (await client.count_workflows(query)).count < len(units):
        if time.time() > deadline:
            raise TimeoutError(f"not every unit workflow started within {limit:g} s")
        await asyncio.sleep(1)
    started, timers = [], []
    for u in units:
        wf = f"{cid}/{PhaseKind.planning.value}/{u}"
        for _ in range(120):
            events = (await client.get_workflow_handle(wf).fetch_history()).events
            timer = next((e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED), None)
            if timer is not None:
                break
            await asyncio.sleep(1)
        else:
            raise TimeoutError(f"{wf} set no timer")
        started.append(event_seconds(events[0]))
        timers.append(event_seconds(timer))
    largest, where = 0, ""
    async for w in client.list_workflows(f"WorkflowId STARTS_WITH '{cid}' AND WorkflowType != 'UnitWorkflow'"):
        n = (await client.get_workflow_handle(w.id).describe()).raw_description.workflow_execution_info.history_length
        if n > largest:
            largest, where = n, w.id
    return max(started) - t0, max(timers) - t0, largest, where


async def one_run(towns: int, limit: float, sample: int) -> dict[str, Any]:
    plan = province(towns)
    units = [u.id for u in plan.units_in_scope()]
    obligations = len(expand(plan, plan.id))
    admin = await asyncio.to_thread(servers.ensure_postgres, Settings(env="test"))
    name = f"bench_{uuid.uuid4().hex[:10]}"
    db_url = await servers.create_database(admin, name)
    await upgrade(db_url)
    with tempfile.TemporaryDirectory(prefix="duban-bench-") as var:
        port = free_port()
        server = await servers.start_dev_server(Settings(var_dir=Path(var)), port=port)
        proc = await asyncio.create_subprocess_exec(sys.executable, __file__, "--worker", server.address, db_url)
        peak = Peak(proc.pid)
        watch = asyncio.create_task(peak.watch())
        try:
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            await raw_client(client, 1)  # the worker up and polling before anything is timed
            await raw_children(client, 1)
            raw = await raw_client(client, towns)
            children = await raw_children(client, towns)
            started, timers, largest, where = await launch(client, plan, units, limit)
            naive = await naive_sample(client, sample, limit)
        finally:
            watch.cancel()
            proc.terminate()
            await proc.wait()
            server.stop()
            await servers.drop_database(admin, name)
    return {
        "raw_client": raw,
        "raw_children": children,
        "started": started,
        "timers": timers,
        "rss_mb": peak.mb,
        "largest": largest,
        "largest_id": where.split("/", 1)[-1] if "/" in where else "campaign",
        "obligations": obligations,
        "naive_sample": naive,
        "naive": naive * obligations / sample,
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main(towns: int, runs: int, limit: float, sample: int) -> None:
    results = []
    for i in range(runs):
        r = await one_run(towns, limit, sample)
        print(f"run {i + 1}: {r}", file=sys.stderr)
        results.append(r)

    def med(k: str) -> float:
        return statistics.median(float(r[k]) for r in results)

    def all_(k: str) -> str:
        return ", ".join(f"{float(r[k]):.1f}" for r in results)

    n = results[0]["obligations"]
    largest = ", ".join(f"{r['largest']} ({r['largest_id']})" for r in results)
    rows = [
        (f"raw engine: {towns} empty workflows from a client, to completion", "raw_client"),
        (f"raw engine: {towns} empty children of one workflow, to completion", "raw_children"),
        ("province launch: every town's unit workflow started", "started"),
        ("province launch: … and its first timer set", "timers"),
        (f"naive design: {sample} obligation workflows started and waiting (measured)", "naive_sample"),
        (f"naive design: all {n} obligations, extrapolated from that sample", "naive"),
    ]
    print(f"| {towns} towns, median of {runs} | s (median) | all runs |")
    print("|---|---:|---|")
    for label, k in rows:
        print(f"| {label} | {med(k):.1f} | {all_(k)} |")
    print(f"| worker peak RSS, MB | {med('rss_mb'):.0f} | {all_('rss_mb')} |")
    print(f"| largest history, events | {med('largest'):.0f} | {largest} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        asyncio.run(worker_main(sys.argv[2], sys.argv[3]))
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--towns", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the launch")
    ap.add_argument("--naive-sample", type=int, default=1500, help="obligation workflows in the naive sample")
    a = ap.parse_args()
    asyncio.run(main(a.towns, a.runs, a.timeout, a.naive_sample))
