"""A rehearsal's unit workflow acts its simulated agency's moves itself, with the same outcome as
the agency workflow sending them as Updates: the same state, the same audit rows, the same
refusals on the record."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import activities
from activities.store.tables import audit_events, obligations
from models.obligation import unit_workflow_id
from models.payloads import Act, AgencyDay, AgencyDays, AgencyInput, AgencyMove, SimulatedAgencies
from models.plan import PhaseKind
from models.time import CST, at
from tests.integration import mini
from workflows import REHEARSAL_WORKFLOWS, WORKFLOWS, AgencyWorkflow, CampaignWorkflow, sandbox

pytestmark = pytest.mark.integration


def east_days(cid: str) -> list[AgencyDay]:
    """East signs for its three tasks, reports progress on one and signs for it again (refused:
    already signed for), completes all three, the first once more (the same Update again: answered
    from the first, nothing applied nor refused) and reports progress on the second (refused:
    already completed)."""
    wf = unit_workflow_id(cid, PhaseKind.rollout, "east")
    t1, t2, t3 = (f"{wf}/T{no:02d}-basic" for no in (1, 2, 3))

    def move(verb: str, ob: str, percent: int = 0) -> AgencyMove:
        return AgencyMove(verb=verb, obligation_id=ob, percent=percent)

    return [
        AgencyDay(plan_time=at(date(2021, 5, 10), "10:00"), moves=[move("acknowledge", t) for t in (t1, t2, t3)]),
        AgencyDay(plan_time=at(date(2021, 6, 1), "10:00"), moves=[move("progress", t1, 50), move("acknowledge", t1)]),
        AgencyDay(
            plan_time=at(date(2021, 11, 1), "10:00"),
            moves=[*(move("complete", t) for t in (t1, t2, t3)), move("complete", t1), move("progress", t2, 80)],
        ),
    ]


async def outcome(engine: AsyncEngine, cid: str) -> dict[str, Any]:
    """What the campaign recorded, without its own id (two campaigns compared)."""

    def plain(s: str | None) -> str | None:
        return None if s is None else s.replace(cid, "CID")

    def day(t: Any) -> str | None:
        return None if t is None else t.astimezone(CST).date().isoformat()

    a, o = audit_events.c, obligations.c
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(a.kind, a.event_key, a.obligation_id, a.actor, a.plan_time).where(a.campaign_id == cid)
            )
        ).all()
        obs = (
            await conn.execute(
                select(o.id, o.state, o.progress, o.acknowledged_at, o.completed_at).where(o.campaign_id == cid)
            )
        ).all()
    return {
        "audit": sorted((k, plain(key), plain(ob), actor, day(t)) for k, key, ob, actor, t in rows),
        "obligations": sorted((plain(i), s, p, day(ack), day(done)) for i, s, p, ack, done in obs),
    }


def updates_in(history: Any) -> int:
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in history.events)


async def test_a_rehearsals_unit_workflow_acts_its_agency_as_the_updates_did(
    env: WorkflowEnvironment, engine: AsyncEngine
) -> None:
    queue = str(uuid.uuid4())
    now = await env.get_current_time()
    played = mini.new_campaign(now)
    played = played.model_copy(
        update={"context": played.context.model_copy(update={"agencies": SimulatedAgencies(seed=0, silent=["west"])})}
    )
    sent = mini.new_campaign(now)
    cids = played.context.campaign_id, sent.context.campaign_id

    @activity.defn(name=Act.agency_days)
    async def agency_days(inp: AgencyDays) -> list[AgencyDay]:
        """The same days as the agency workflow of the other campaign is given (not the seed's)."""
        east = unit_workflow_id(cids[0], PhaseKind.rollout, "east")
        return east_days(cids[0]) if inp.workflow_id == east else []

    acts = [a for a in activities.build(engine, env.client) if getattr(a, "__name__", "") != "agency_days"]
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[*WORKFLOWS, *REHEARSAL_WORKFLOWS],
        activities=[*acts, agency_days],
        workflow_runner=sandbox(),
    ):
        first = await env.client.start_workflow(CampaignWorkflow.run, played, id=cids[0], task_queue=queue)
        second = await env.client.start_workflow(CampaignWorkflow.run, sent, id=cids[1], task_queue=queue)
        east = unit_workflow_id(cids[1], PhaseKind.rollout, "east")
        await env.client.start_workflow(
            AgencyWorkflow.run,
            AgencyInput(context=sent.context, workflow_id=east, unit_id="east", days=east_days(cids[1])),
            id=f"{east}/agency",
            task_queue=queue,
        )
        await first.result()
        await second.result()
        histories = [
            await env.client.get_workflow_handle(unit_workflow_id(c, PhaseKind.rollout, "east")).fetch_history()
            for c in cids
        ]

    played_out, sent_out = await outcome(engine, cids[0]), await outcome(engine, cids[1])
    assert played_out == sent_out
    refused = [r for r in played_out["audit"] if r[0] == "refused"]
    assert [(r[2], r[4]) for r in refused] == [
        ("CID/rollout/east/T01-basic", "2021-06-01"),
        ("CID/rollout/east/T02-basic", "2021-11-01"),
    ]
    assert ("CID/rollout/east/T01-basic", "completed", 100, "2021-05-10", "2021-11-01") in played_out["obligations"]
    # The first campaign's moves were played in the workflow, the second's came as Updates.
    assert (updates_in(histories[0]), updates_in(histories[1])) == (0, 9)
