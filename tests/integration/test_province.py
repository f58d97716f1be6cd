"""A campaign of many towns (issue 16) on the real time-skipping server and PostgreSQL: every
unit workflow starts, with the obligations the plan gives it, its phase's children started a
batch at a time and the units worked out at launch."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from models.obligation import unit_workflow_id
from models.plan import PhaseKind, Plan
from rules.loading import parse_yaml
from rules.obligations import expand, units_by_phase
from rules.province import multiply
from services.plans import DEFAULT_PLAN, DEFAULT_RULES, prepare
from tests.support import skip
from worker import build_worker
from workflows import CampaignWorkflow
from workflows.starts import CONCURRENT_STARTS, START_BATCH

pytestmark = pytest.mark.integration

TOWNS = 200


def province(towns: int) -> Plan:
    plan, _ = parse_yaml(DEFAULT_PLAN.read_text(encoding="utf-8"), path=str(DEFAULT_PLAN))
    dpath = DEFAULT_PLAN.parent / plan["directory"]
    directory, _ = parse_yaml(dpath.read_text(encoding="utf-8"), path=str(dpath))
    p, d = multiply(plan, directory, towns=towns)
    return Plan.model_validate({**p, "directory": d})


async def obligations_of(client: Client, wf: str) -> list[str]:
    """The unit workflow's obligations, once it has loaded them (waits for it to start)."""
    for _ in range(600):
        try:
            found: list[dict[str, Any]] = await client.get_workflow_handle(wf).query("obligations")
        except RPCError:  # not started yet, or its first task not run yet
            found = []
        if found:
            return sorted(o["id"] for o in found)
        await asyncio.sleep(0.5)
    raise AssertionError(f"{wf} never started or never loaded its obligations")


async def test_every_unit_workflow_of_a_many_town_campaign_starts_with_its_obligations(
    env: WorkflowEnvironment, engine: AsyncEngine
) -> None:
    plan = province(TOWNS)
    queue = str(uuid.uuid4())
    inp = prepare(
        plan,
        DEFAULT_RULES,
        campaign_id=f"prov-{uuid.uuid4().hex[:8]}",
        server_now=await env.get_current_time(),
        live=False,
    ).input
    cid = inp.context.campaign_id
    specs = expand(plan, cid)
    units = units_by_phase(specs)
    # Worked out at launch, not in the workflow task.
    assert inp.phase_units == units
    assert len(units[PhaseKind.planning]) == TOWNS
    assert len(units[PhaseKind.rollout]) == TOWNS + 16  # and the county agencies

    async with build_worker(env.client, engine, task_queue=queue):
        await env.client.start_workflow(CampaignWorkflow.run, inp, id=cid, task_queue=queue)
        # The planning phase begins at launch: each town's 工作方案.
        for phase in (PhaseKind.planning, PhaseKind.rollout):
            if phase is PhaseKind.rollout:
                await skip(env, timedelta(days=1))  # to 2021-05-01
            expected = {u: sorted(s.id for s in specs if s.phase == phase and s.unit_id == u) for u in units[phase]}
            found = await asyncio.gather(
                *(obligations_of(env.client, unit_workflow_id(cid, phase, u)) for u in expected)
            )
            assert dict(zip(expected, found, strict=True)) == expected

            # Started a batch at a time, behind the patch: up to START_BATCH starts in one workflow task.
            history = await env.client.get_workflow_handle(f"{cid}/{phase.value}").fetch_history()
            initiated = EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
            per_task = Counter(
                e.start_child_workflow_execution_initiated_event_attributes.workflow_task_completed_event_id
                for e in history.events
                if e.event_type == initiated
            )
            assert sum(per_task.values()) == len(expected)
            assert max(per_task.values()) == min(START_BATCH, len(expected))
            markers = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
            assert any(CONCURRENT_STARTS in str(m.marker_recorded_event_attributes) for m in markers)
