"""The mini campaign the integration tests run: 2 towns × 3 tasks, one town that never answers.

East (东镇) and the three lead agencies sign on 2021-05-10 and complete on 2021-11-01; west (西镇)
never answers. So, from the default rule set and China's calendar, exactly:

- 2021-12-28 (3 working days before the 2021-12-31 due date): a reminder to west per task;
- 2022-01-04 (1 working day after, past the New Year holiday): escalation to each task's lead;
- 2022-01-10 (5 working days after): escalation to the office with one 督办通知 测督〔2022〕1号
  listing west's three tasks (one notice per unit per round);
- monthly bulletins May 2021 … Feb 2022; one rectification order for west from the December one,
  which the January and February bulletins raise a measure each (责令整改, 通报批评, 约谈: west
  never answers) rather than issuing another (the office's one open order per unit);
- 达标验收 (basic) for both towns, 年度总评 at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities import servers
from activities.campaign import CampaignActivities
from activities.store.db import make_engine
from activities.store.tables import (
    assessments,
    audit_events,
    bulletins,
    inbox,
    rectification_orders,
    supervision_notices,
)
from models.obligation import unit_workflow_id
from models.payloads import (
    AgencyDay,
    AgencyInput,
    AgencyMove,
    CampaignInput,
    DeliverBatch,
    FiredAction,
    Provenance,
    RegisterCampaign,
)
from models.plan import PhaseKind
from models.ruleset import ActionKind, Channel, Role
from models.time import CST, at
from services.plans import RULESETS, load_plan, prepare
from worker import build_worker
from workflows import AgencyWorkflow, CampaignWorkflow

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

BASIC_RULES = RULESETS / "suixian-basic.yaml"
"""The rule set the exact dates below are pinned on: remind 3 working days before, escalate after."""
MINI_PLAN = FIXTURES / "mini-plan.yaml"
TASKS = {1: "roads", 2: "water", 3: "housing"}


def new_campaign(server_now: Any, rules: Path = BASIC_RULES) -> CampaignInput:
    cid = f"mini-{uuid.uuid4().hex[:8]}"
    return prepare(load_plan(MINI_PLAN), rules, campaign_id=cid, server_now=server_now, live=False).input


async def start(client: Client, inp: CampaignInput, queue: str, *, agencies: bool = True) -> WorkflowHandle[Any, Any]:
    """Start the campaign and, with `agencies`, the units that answer (east and the leads)."""
    ctx = inp.context
    cid = ctx.campaign_id
    handle = await client.start_workflow(CampaignWorkflow.run, inp, id=cid, task_queue=queue)
    if not agencies:
        return handle
    answering = {"east": [1, 2, 3], **{unit: [no] for no, unit in TASKS.items()}}
    for unit, tasks in answering.items():
        wf = unit_workflow_id(cid, PhaseKind.rollout, unit)
        obs = [f"{wf}/T{no:02d}-basic" for no in tasks]
        days = [
            AgencyDay(
                plan_time=at(date(2021, 5, 10), "10:00"),
                moves=[AgencyMove(verb="acknowledge", obligation_id=o) for o in obs],
            ),
            AgencyDay(
                plan_time=at(date(2021, 11, 1), "10:00"),
                moves=[AgencyMove(verb="complete", obligation_id=o) for o in obs],
            ),
        ]
        await client.start_workflow(
            AgencyWorkflow.run,
            AgencyInput(context=ctx, workflow_id=wf, unit_id=unit, days=days),
            id=f"{wf}/agency",
            task_queue=queue,
        )
    return handle


def expected_deliveries(cid: str, silent: tuple[str, ...] = ("west",)) -> list[tuple[str, str, str, str, str, int]]:
    """(plan time, kind, recipient, obligation, rule, level) of every reminder and escalation
    when the `silent` units never answer and everyone else completes on time."""
    out = []
    for no, lead in TASKS.items():
        for unit in silent:
            if unit in TASKS.values() and unit != lead:
                continue  # an agency owes only the task it leads
            ob = f"{cid}/rollout/{unit}/T{no:02d}-basic"
            out += [
                ("2021-12-28 09:00", "reminder", unit, ob, "remind-before-due", 0),
                # A lead unit's own overdue work goes past itself, to the office.
                ("2022-01-04 09:00", "escalation", lead if unit != lead else "office", ob, "escalate-to-lead", 1),
                ("2022-01-10 09:00", "escalation", "office", ob, "escalate-to-office", 2),
            ]
    return sorted(out)


async def deliveries(engine: AsyncEngine, cid: str) -> list[tuple[str, str, str, str, str, int]]:
    q = select(inbox).where(inbox.c.campaign_id == cid, inbox.c.kind.in_(["reminder", "escalation"]))
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    return sorted(
        (
            r.plan_time.astimezone(CST).strftime("%Y-%m-%d %H:%M"),
            r.kind,
            r.recipient,
            r.obligation_id,
            r.rule_id,
            r.level,
        )
        for r in rows
    )


async def notices(engine: AsyncEngine, cid: str) -> list[tuple[str, str, str, str]]:
    q = (
        select(supervision_notices)
        .where(supervision_notices.c.campaign_id == cid)
        .order_by(supervision_notices.c.number)
    )
    async with engine.connect() as conn:
        return [
            (
                r.code,
                r.unit_id,
                r.obligation_id.rsplit("/", 1)[1],
                r.plan_time.astimezone(CST).date().isoformat(),
            )
            for r in (await conn.execute(q)).all()
        ]


async def nothing_lost(engine: AsyncEngine, cid: str) -> None:
    """Papers per unit lose nothing: every obligation an escalation raised a 督办通知 for is listed
    on a notice, every obligation a rule ordered rectified is on an order, and an order a bulletin
    issues lists every obligation its unit had overdue then."""
    a = audit_events.c
    async with engine.connect() as conn:
        rows = (await conn.execute(select(a.kind, a.obligation_id, a.payload).where(a.campaign_id == cid))).all()
        items = (
            await conn.execute(select(rectification_orders.c.listed).where(rectification_orders.c.campaign_id == cid))
        ).scalars()
        bodies = (await conn.execute(select(bulletins.c.body).where(bulletins.c.campaign_id == cid))).scalars().all()
    payloads = [(k, ob, json.loads(p)) for k, ob, p in rows]
    noticed = {ob for k, ob, p in payloads if k == "escalation" and "notice" in p}
    listed = {i for k, _, p in payloads if k == "notice" and "code" in p for i in p["overdue"]}
    assert noticed and noticed <= listed, noticed - listed
    on_orders = {i for its in items for i in its or []}
    ordered = {ob for k, ob, p in payloads if k in ("rectification_order", "rectification_item") and ob is not None}
    assert ordered <= on_orders, ordered - on_orders
    issued = [(b["units"], o) for b in bodies for o in b["orders_issued"]]
    assert issued
    for units, o in issued:
        assert len(set(o["items"])) == units[o["unit_id"]]["overdue"] > 0, o


async def reports(engine: AsyncEngine, cid: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        orders = (
            await conn.execute(
                select(rectification_orders.c.unit_id, rectification_orders.c.month)
                .where(rectification_orders.c.campaign_id == cid)
                .order_by(rectification_orders.c.month)
            )
        ).all()
        months = (
            await conn.execute(
                select(bulletins.c.month).where(bulletins.c.campaign_id == cid).order_by(bulletins.c.month)
            )
        ).scalars()
        scored = (
            await conn.execute(
                select(assessments.c.kind, assessments.c.milestone, assessments.c.unit_id, assessments.c.passed)
                .where(assessments.c.campaign_id == cid)
                .order_by(assessments.c.kind, assessments.c.unit_id)
            )
        ).all()
    return {
        "orders": [(u, m.isoformat()) for u, m in orders],
        "bulletins": [m.isoformat() for m in months],
        "assessments": [tuple(r) for r in scored],
    }


@dataclass
class Rehearsed:
    campaign_id: str
    env: WorkflowEnvironment
    """Still running while the `rehearsed` block lasts (its histories are there)."""


@contextlib.asynccontextmanager
async def rehearsed(db_url: str) -> AsyncIterator[Rehearsed]:
    """The mini campaign run to its end on its own time-skipping server, for a module's tests."""
    engine = make_engine(db_url)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=servers.test_server_path(), data_converter=pydantic_data_converter
    )
    try:
        queue = str(uuid.uuid4())
        inp = new_campaign(await env.get_current_time())
        async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
            await (await start(env.client, inp, queue)).result()
        yield Rehearsed(inp.context.campaign_id, env)
    finally:
        await env.shutdown()
        await engine.dispose()


ROOT = FIXTURES.parent.parent
_DUBAN = Path(sys.executable).parent / "duban"
COMMAND = [str(_DUBAN)] if _DUBAN.is_file() else [sys.executable, "-m", "starter"]


def duban(*args: str, db_url: str, var_dir: Path) -> subprocess.CompletedProcess[str]:
    """The CLI on the test database, with no Temporal server to reach (port 9 discards) and
    nothing of the developer's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUBAN_", "TEMPORAL_")) and k != "DATABASE_URL"}
    env.update(DATABASE_URL=db_url, DUBAN_VAR_DIR=str(var_dir), DUBAN_TEMPORAL_PORT="9")
    return subprocess.run(
        [*COMMAND, *args], cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120, check=False
    )


async def registered(
    engine: AsyncEngine, rules: Path = BASIC_RULES
) -> tuple[CampaignInput, Provenance, CampaignActivities]:
    """A mini campaign registered straight through its activity (no workflows): for tests that
    write chosen rows with the activities themselves."""
    now = datetime.now(UTC)
    inp = new_campaign(now, rules)
    ctx = inp.context
    prov = Provenance(
        campaign_id=ctx.campaign_id, plan_hash=ctx.plan_hash, ruleset_hash=ctx.ruleset_hash,
        workflow_id=ctx.campaign_id, run_id="r1",
    )  # fmt: skip
    acts = CampaignActivities(engine)
    await acts.register_campaign(
        RegisterCampaign(context=ctx, plan=inp.plan, provenance=prov, server_time=now, plan_time=inp.launched_plan_time)
    )
    return inp, prov, acts


def reminder(
    cid: str,
    unit: str,
    when: datetime,
    server: datetime,
    *,
    task: str = "T01",
    channels: Sequence[Channel] = (Channel.inbox,),
    tag: str = "",
) -> FiredAction:
    """The 到期前催办 of a town's task (its 基础型 work) fired at plan time `when`, as the rule fires
    it; `tag` makes its key new (a benchmark's runs)."""
    ob = f"{cid}/rollout/{unit}/{task}-basic"
    return FiredAction(
        key=f"{ob}#remind-before-due@{when.date()}{tag}",
        kind=ActionKind.remind,
        rule_id="remind-before-due",
        obligation_id=ob,
        unit_id=unit,
        recipient=unit,
        role=Role.unit,
        title="催办：完善交通设施（基础型）",
        body="完善交通设施（基础型）将于2021年12月31日到期，请抓紧办理并按时报送。",
        due=date(2021, 12, 31),
        channels=list(channels),
        plan_time=when,
        server_time=server,
    )


def wake_up(prov: Provenance, unit: str, when: datetime, tasks: Sequence[str], tag: str = "") -> DeliverBatch:
    """A town's wake-up in a timer storm: its tasks' 到期前催办 in one delivery, from its own unit
    workflow (the provenance names it), as `UnitWorkflow` sends it."""
    actions = [reminder(prov.campaign_id, unit, when, when, task=t, tag=tag) for t in tasks]
    own = prov.model_copy(update={"workflow_id": f"{prov.campaign_id}/rollout/{unit}", "run_id": f"run-{unit}"})
    return DeliverBatch(provenance=own, notice_prefix="测督", actions=actions, per_unit=True)
