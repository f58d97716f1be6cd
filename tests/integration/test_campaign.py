"""A whole campaign on the real time-skipping server and real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities import history, servers
from activities.campaign import CampaignActivities
from activities.codec import PAYLOADS
from activities.gathering import Gathering
from activities.simulate import AgencySimulator
from activities.store.audit import verify
from activities.store.tables import audit_events, inbox, obligations
from models.payloads import (
    Acknowledge,
    Act,
    AgencyMove,
    CampaignResult,
    Complete,
    DeliverBatch,
    DeliverResult,
    ReportProgress,
    SimulateAgency,
)
from models.time import at
from services.audit import verify_campaign
from services.plans import load_plan, prepare
from tests.integration import mini
from worker import build_worker
from workflows import UnitWorkflow

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def expected_reports() -> dict[str, object]:
    return {
        # West never answers: one order, still open, its measure raised by the later bulletins.
        "orders": [("west", "2021-12-01")],
        "bulletins": [f"{y}-{m:02d}-01" for y, m in [(2021, m) for m in range(5, 13)] + [(2022, 1), (2022, 2)]],
        "assessments": [
            ("acceptance", "basic", "east", True),
            ("acceptance", "basic", "west", False),
            ("annual_review", "", "east", True),
            ("annual_review", "", "west", False),
        ],
    }


async def test_a_town_that_never_answers_is_reminded_then_escalated_up_the_ladder(
    env: WorkflowEnvironment, engine: AsyncEngine
) -> None:
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    cid = inp.context.campaign_id
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
        handle = await mini.start(env.client, inp, queue)
        result: CampaignResult = await handle.result()

    assert await mini.deliveries(engine, cid) == mini.expected_deliveries(cid)
    # One 督办通知 for west's round, listing its three tasks (a notice per task before papers were
    # per unit: 测督〔2022〕1–3号).
    assert await mini.notices(engine, cid) == [("测督〔2022〕1号", "west", "T01-basic", "2022-01-10")]
    assert await mini.reports(engine, cid) == expected_reports()
    await mini.nothing_lost(engine, cid)
    assert result.counts["obligations"] == 9
    assert result.counts["completed"] == 6
    assert result.counts["reminders"] == 3
    assert result.counts["escalations"] == 6
    async with engine.connect() as conn:
        report = await verify(conn, cid)
    assert report.ok, report.problems


async def test_updates_refuse_bad_input_with_a_clear_error(env: WorkflowEnvironment, engine: AsyncEngine) -> None:
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    cid = inp.context.campaign_id
    wf = f"{cid}/rollout/west"
    ob = f"{wf}/T01-basic"
    async with build_worker(env.client, engine, task_queue=queue):
        await env.client.start_workflow("CampaignWorkflow", inp, id=cid, task_queue=queue)
        await env.sleep(timedelta(days=2))  # past the rollout phase's start, 2021-05-01
        west = env.client.get_workflow_handle(wf)

        async def refused(update: str, arg: object) -> str:
            with pytest.raises(WorkflowUpdateFailedError) as e:
                await west.execute_update(update, arg)
            assert e.value.cause is not None
            return str(e.value.cause.message)

        assert "unknown obligation" in await refused(
            "complete", Complete(obligation_id=f"{wf}/T09-basic", unit_id="west")
        )
        assert "may not act" in await refused(
            "report_progress", ReportProgress(obligation_id=ob, unit_id="east", percent=10)
        )
        await west.execute_update(UnitWorkflow.acknowledge, Acknowledge(obligation_id=ob, unit_id="west"))
        assert "already acknowledged" in await refused("acknowledge", Acknowledge(obligation_id=ob, unit_id="west"))
        await west.execute_update(
            UnitWorkflow.report_progress, ReportProgress(obligation_id=ob, unit_id="west", percent=60)
        )
        assert "cannot go back" in await refused(
            "report_progress", ReportProgress(obligation_id=ob, unit_id="west", percent=20)
        )
        # The office may act on any obligation.
        view = await west.execute_update(UnitWorkflow.complete, Complete(obligation_id=ob, unit_id="office"))
        assert view.state.value == "completed"
        assert "already completed" in await refused("complete", Complete(obligation_id=ob, unit_id="west"))
        states = {v.id: v.state.value for v in await west.query(UnitWorkflow.obligations)}
        assert states[ob] == "completed"
        assert states[f"{wf}/T02-basic"] == "assigned"
        await env.client.get_workflow_handle(cid).terminate("test done")

    # Every refused attempt is on the record: who tried, what, and why it was refused.
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_events.c.actor, audit_events.c.obligation_id, audit_events.c.payload)
                .where(audit_events.c.campaign_id == cid, audit_events.c.kind == "refused")
                .order_by(audit_events.c.seq)
            )
        ).all()
    attempts = [(actor, ob_id, json.loads(p)["verb"], json.loads(p)["reason"]) for actor, ob_id, p in rows]
    assert [(a, o, v) for a, o, v, _ in attempts] == [
        ("west", None, "complete"),  # an obligation this unit does not have
        ("east", ob, "report_progress"),
        ("west", ob, "acknowledge"),
        ("west", ob, "report_progress"),
        ("west", ob, "complete"),
    ]
    assert [r[3].split(" ")[0] for r in attempts] == ["unknown", "unit", ob, "progress", ob]


class CrashAfterCommit(CampaignActivities):
    """A worker that dies after its delivery transaction commits and before Temporal hears of
    it, on the first attempt of every batch: the retry must send nothing twice."""

    def __init__(self, engine: AsyncEngine, gathering: Gathering | None = None) -> None:
        super().__init__(engine, gathering=gathering)
        self.attempts: list[DeliverResult] = []
        self.retries: list[DeliverResult] = []

    @activity.defn(name=Act.deliver)
    async def deliver(self, inp: DeliverBatch) -> DeliverResult:
        result = await super().deliver(inp)
        self.attempts.append(result)
        if activity.info().attempt > 1:
            self.retries.append(result)
        if activity.info().attempt == 1:
            raise RuntimeError("worker died after commit")
        return result


# Alone, and through the worker's gatherer (in the mini campaign each wake-up's delivery mostly
# arrives alone; retries gathered into one shared transaction: test_delivery_gathering).
@pytest.mark.parametrize("gathering", [None, Gathering(most=64, wait=0.2)], ids=["alone", "gathered"])
async def test_a_delivery_retried_after_its_commit_sends_nothing_twice(
    env: WorkflowEnvironment, engine: AsyncEngine, gathering: Gathering | None
) -> None:
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    cid = inp.context.campaign_id
    crashing = CrashAfterCommit(engine, gathering)
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True, campaign_activities=crashing):
        await (await mini.start(env.client, inp, queue)).result()

    assert await mini.deliveries(engine, cid) == mini.expected_deliveries(cid)
    # Every batch ran twice: the first attempt delivered, the retry found it all delivered.
    assert len(crashing.retries) == len(crashing.attempts) // 2
    assert [a.delivered for a in crashing.retries] == [0] * len(crashing.retries)
    assert sum(a.already for a in crashing.attempts) == len(mini.expected_deliveries(cid))
    async with engine.connect() as conn:
        counters = (
            await conn.execute(
                select(obligations.c.reminders, obligations.c.escalation_level).where(
                    obligations.c.campaign_id == cid, obligations.c.unit_id == "west"
                )
            )
        ).all()
        report = await verify(conn, cid)
    assert counters == [(1, 2)] * 3
    assert report.ok, report.problems


async def test_a_worker_killed_mid_campaign_and_restarted_sends_no_duplicate(
    engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    """SIGKILL a worker process right after its first reminder, start another: every reminder,
    escalation and notice still goes out exactly once.

    On the real dev server (the time-skipping one waits for a dead worker's tasks for ever), as a
    drill: the clock starts at 2021-12-20, a week before the first reminder, and runs two plan
    days a second; the evaluation phase is cut to end 2022-01-20. Nobody answers, so what must
    be sent does not depend on how fast anyone's answer travels.
    """
    plan = tmp_path / "mini-plan.yaml"
    plan.write_text(mini.MINI_PLAN.read_text(encoding="utf-8").replace("end: 2022-03-31", "end: 2022-01-20"))
    shutil.copytree(mini.FIXTURES / "units", tmp_path / "units")
    # Launched 9 working days before the deadline, the work would get the office's grace at launch
    # (due 2022-01-04): this drill wants the plan's own dates, so its rule set gives none.
    rules = tmp_path / "rules.yaml"
    rules.write_text(mini.BASIC_RULES.read_text(encoding="utf-8") + "\nlaunch: {grace_working_days: 0}\n")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=servers.dev_server_path(),
        ui=False,
        dev_server_extra_args=["--headless"],
        data_converter=PAYLOADS,
    )
    queue = str(uuid.uuid4())
    cid = f"mini-kill-{uuid.uuid4().hex[:8]}"
    inp = prepare(
        load_plan(plan),
        rules,
        campaign_id=cid,
        server_now=datetime.now(UTC),
        live=True,
        speed=2 * 86400,
        plan_from=date(2021, 12, 20),
    ).input
    address = env.client.service_client.config.target_host

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "worker_proc.py"), address, queue, db_url],
            cwd=ROOT,
            # Papers at issue: the kill below waits for a monthly cycle busy rendering its
            # bulletin, which a rehearsal's worker otherwise leaves for the first request.
            env={**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_REHEARSAL_PAPERS": "at-issue"},
        )

    first = spawn()
    second: subprocess.Popen[bytes] | None = None
    try:
        handle = await mini.start(env.client, inp, queue, agencies=False)
        monthly = env.client.get_workflow_handle(f"{cid}/monthly")

        async def monthly_busy() -> bool:
            try:
                return bool((await monthly.describe()).raw_description.pending_activities)
            except RPCError:  # not started yet: nothing in flight
                return False

        # Killed once a reminder is out and while it holds a monthly cycle (a report activity,
        # rendering its bulletin): that attempt is retried once its heartbeats stop, not after
        # its 5-minute start-to-close timeout, or the wait below would run out.
        async with asyncio.timeout(120):
            while True:
                async with engine.connect() as conn:
                    n = (await conn.execute(select(func.count()).where(inbox.c.campaign_id == cid))).scalar_one()
                if n and await monthly_busy():
                    break
                await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = spawn()
        async with asyncio.timeout(180):
            await handle.result()
        # What an auditor runs against a live campaign: the histories from the server itself.
        histories = await history.collect(env.client, [cid])
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        await env.shutdown()

    everyone = ("east", "west", *mini.TASKS.values())
    assert await mini.deliveries(engine, cid) == mini.expected_deliveries(cid, silent=everyone)
    # One notice per unit (5: two towns, three agencies), numbered 1–5 without gap or repeat (the
    # order among units depends on which unit workflow got there first); before notices were per
    # unit, one per overdue obligation, 1–9.
    issued = await mini.notices(engine, cid)
    assert sorted(n[0] for n in issued) == sorted(f"测督〔2022〕{i}号" for i in range(1, 6))
    assert sorted(n[1] for n in issued) == sorted(everyone)
    # No gap and no duplicate in the chain, both runs of every workflow replay, and every effect
    # Temporal recorded, from both workers, has its one audit row.
    async with engine.connect() as conn:
        verdict = await verify_campaign(conn, cid, histories=histories)
    assert verdict.ok, verdict.problems()
    assert verdict.histories >= 8


async def test_fan_out_adds_levels_so_no_parent_exceeds_its_child_limit(
    env: WorkflowEnvironment, engine: AsyncEngine
) -> None:
    """With a limit of 2 children per parent, the rollout's 5 units (3 agencies, 2 towns) are
    started through two levels of batches, and the campaign runs exactly as with one level."""
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    inp = inp.model_copy(update={"context": inp.context.model_copy(update={"max_children": 2})})
    cid = inp.context.campaign_id
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
        result: CampaignResult = await (await mini.start(env.client, inp, queue)).result()

    rollout = f"{cid}/rollout"
    parents = {  # each batch and unit workflow, and the workflow that started it
        f"{rollout}/batch-000": rollout,
        f"{rollout}/batch-001": rollout,
        f"{rollout}/batch-000-000": f"{rollout}/batch-000",
        f"{rollout}/batch-000-001": f"{rollout}/batch-000",
        f"{rollout}/roads": f"{rollout}/batch-000-000",
        f"{rollout}/east": f"{rollout}/batch-000-000",
        f"{rollout}/west": f"{rollout}/batch-000-001",
        f"{rollout}/water": f"{rollout}/batch-001",
        f"{rollout}/housing": f"{rollout}/batch-001",
    }
    for wf, parent in parents.items():
        d = await env.client.get_workflow_handle(wf).describe()
        assert (d.parent_id, d.status.name if d.status else None) == (parent, "COMPLETED"), wf
    assert await mini.deliveries(engine, cid) == mini.expected_deliveries(cid)
    # 1 campaign + 2 phases + monthly + 5 units + 4 batches, and the 4 agencies' workflows are
    # the test's own, outside the campaign's cost.
    assert result.cost.workflows == 1 + 2 + 1 + 5 + 4


async def test_a_retried_agency_move_is_applied_once_and_never_refused(
    env: WorkflowEnvironment, engine: AsyncEngine
) -> None:
    """The simulated agency's activity, run twice with the same moves (a retry), sends each
    Update with the same id: Temporal answers the repeat, nothing is refused or recorded twice."""
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    cid = inp.context.campaign_id
    wf = f"{cid}/rollout/west"
    move = SimulateAgency(
        workflow_id=wf,
        unit_id="west",
        moves=[AgencyMove(verb="acknowledge", obligation_id=f"{wf}/T01-basic")],
        plan_time=at(date(2021, 5, 10), "10:00"),
    )
    async with build_worker(env.client, engine, task_queue=queue):
        await env.client.start_workflow("CampaignWorkflow", inp, id=cid, task_queue=queue)
        await env.sleep(timedelta(days=2))
        agency = AgencySimulator(env.client, engine)
        first, again = await agency.simulate_agency(move), await agency.simulate_agency(move)
        await env.client.get_workflow_handle(cid).terminate("test done")
    assert (first.applied, first.rejected, again.applied, again.rejected) == (1, 0, 1, 0)
    async with engine.connect() as conn:
        kinds = (
            (await conn.execute(select(audit_events.c.kind).where(audit_events.c.campaign_id == cid))).scalars().all()
        )
    assert "refused" not in kinds
