"""A rehearsal: a whole campaign on the time-skipping server, with simulated agencies and
assessors, on the configured (embedded) PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from temporalio.client import WorkflowHistory
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from activities import codec, history, servers
from activities.campaign.common import campaign_counts
from activities.history_cost import engine_cost, is_rectification
from activities.store import views
from activities.store.answers import answers
from models.assessment import ScoreBook
from models.obligation import rehearsal_campaign_id
from models.payloads import CampaignResult, SimulatedAgencies, SimulationInput
from models.plan import Plan
from models.time import at
from models.views import AuditLine
from rules.launch import rehearsal_speed
from rules.simulation import never_answering, notice_after
from services.context import Services
from services.plans import prepare
from worker import build_worker
from workflows import CampaignWorkflow, SimulationWorkflow


class Watch(Protocol):
    """How a door shows a rehearsal going: while the servers start, then plan time advancing."""

    def starting(self) -> AbstractContextManager[object]: ...

    def running(self, start: datetime, end: datetime) -> AbstractContextManager[Callable[[datetime], None]]: ...


class Rehearsal(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    summary: dict[str, Any]
    """What `summary.json` holds: the campaign, its hashes, the counts (`COUNTS`) and the engine's cost."""
    trail: list[AuditLine]
    histories: list[WorkflowHistory]
    missing_years: list[int]


def quiet_runtime() -> Runtime:
    """A Temporal runtime that logs only errors: the test server lacks capabilities the SDK
    warns about on every start, which says nothing to a user rehearsing a campaign."""
    filt = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=filt)))


async def rehearse(
    ctx: Services,
    *,
    plan: Plan,
    rules: Path,
    seed: int,
    silent: int,
    scorebook: ScoreBook | None = None,
    misses: dict[str, list[str]] | None = None,
    watch: Watch | None = None,
) -> Rehearsal:
    """Run a whole campaign on a time-skipping server of its own with simulated agencies; its
    results stay in the configured PostgreSQL, its histories are returned (the server forgets)."""
    started = time.monotonic()
    with watch.starting() if watch else nullcontext():
        engine = await ctx.engine()
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=servers.test_server_path(),
            data_converter=codec.for_settings(ctx.settings),  # a rehearsal's histories as a campaign's
            runtime=quiet_runtime(),
        )
    try:
        server_now = await env.get_current_time()
        cid = rehearsal_campaign_id(plan.id, seed, datetime.now(UTC), uuid.uuid4().hex[:4])
        lp = prepare(
            plan,
            rules,
            campaign_id=cid,
            server_now=server_now,
            live=False,
            speed=rehearsal_speed(plan),
            scorebook=scorebook,
            settings=ctx.settings,
        )
        # The unit workflows act their simulated agencies' moves themselves (no agency workflows).
        launched = lp.input.context
        silent_towns = never_answering(plan, seed, silent)
        agencies = SimulatedAgencies(seed=seed, silent=silent_towns, notice_after=notice_after(launched.ruleset))
        inp = lp.input.model_copy(update={"context": launched.model_copy(update={"agencies": agencies})})
        queue = f"rehearsal-{uuid.uuid4()}"
        async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
            handle = await env.client.start_workflow(CampaignWorkflow.run, inp, id=cid, task_queue=queue)
            sim = await env.client.start_workflow(
                SimulationWorkflow.run,
                SimulationInput(
                    context=inp.context,
                    plan=plan,
                    seed=seed,
                    never_answering=silent,
                    scorebook=scorebook,
                    misses=misses or {},
                    answers=True,
                ),
                id=f"{cid}/simulation",
                task_queue=queue,
            )
            result_task = asyncio.ensure_future(handle.result())
            start, end = at(plan.start, "00:00"), at(plan.end, "23:59")
            with watch.running(start, end) if watch else nullcontext(lambda _: None) as advance:
                while not result_task.done():
                    await asyncio.wait([result_task], timeout=0.5)
                    if result_task.done():
                        break
                    try:
                        advance((await handle.query(CampaignWorkflow.now)).plan_time)
                    except Exception:
                        continue  # a query races the workflow's start or end: the next one answers
                advance(end)
            result: CampaignResult = await result_task
            sim_cost = await sim.result()
            # The time-skipping server forgets everything when it stops: keep the histories, so
            # `duban audit verify CID --histories DIR/histories` can replay and cross-check them.
            histories = await history.collect(env.client, [cid, f"{cid}/simulation"])
        async with ctx.reading() as conn:
            counts = await campaign_counts(conn, cid)
            answered = await answers(conn, cid)
            held = views.by_kind(await views.assessments_held(conn, cid))
            trail = await views.audit_trail(conn, cid)
    finally:
        await env.shutdown()
    pinned = inp.context
    summary: dict[str, Any] = {
        "campaign_id": cid,
        "plan": plan.id,
        "plan_hash": pinned.plan_hash,
        "ruleset": f"{pinned.ruleset.id} v{pinned.ruleset.version}",
        "ruleset_hash": pinned.ruleset_hash,
        "scorebook_hash": scorebook.digest() if scorebook else None,
        "seed": seed,
        "silent_units": silent,
        **counts,
        "answers": answered,
        "assessments_by_kind": {k.kind: k.model_dump(exclude={"kind"}) for k in held},
        # The engine's true cost, counted from every history (the detached 责令整改 workflows too);
        # `engine_reported` is what the workflow trees sum up themselves, as `engine` said before.
        "engine": {**engine_cost(histories), "wall_seconds": round(time.monotonic() - started, 2)},
        "engine_reported": result.cost.add(sim_cost).model_dump(),
        "rectification_engine": engine_cost(histories, where=is_rectification),
        "campaign_engine": result.cost.model_dump(),
        "simulation_engine": sim_cost.model_dump(),
        "histories": len(histories),
    }
    return Rehearsal(summary=summary, trail=trail, histories=histories, missing_years=lp.missing_years)
