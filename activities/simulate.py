"""Rehearsal only: a simulated agency acts through the same Updates a real one uses."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.api.testservice.v1 import UnlockTimeSkippingRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.service import RPCError

from activities.paperwork.facts import CampaignPapers
from activities.store.tables import campaigns, rectification_orders
from models.payloads import (
    Act,
    AgencyDay,
    AgencyDays,
    CampaignContext,
    DeskResult,
    ObligationView,
    SimulateAgency,
    SimulateDesk,
    SimulateResult,
)
from models.plan import Plan
from models.rectification import (
    OPEN_ORDER_STATES,
    OrderState,
    RectificationView,
    ReportRectification,
    ReviewRectification,
)
from models.time import CST
from rules.calendar import WorkCalendar
from rules.obligations import expand
from rules.simulated_answers import REJECT_REASON, REPORT_TEXT, order_answer_day, order_review
from rules.simulation import agency_action, move_id, schedule

log = structlog.get_logger()


class AgencySimulator:
    def __init__(self, client: Client, engine: AsyncEngine) -> None:
        self.client = client
        self.db = engine
        self._schedules: dict[tuple[Any, ...], dict[str, list[AgencyDay]]] = {}
        """Every agency's days, worked out once per rehearsal (the schedule is pure, and every
        unit workflow of the campaign asks for its own slice)."""
        self._lock = asyncio.Lock()

    @activity.defn(name=Act.agency_days)
    async def agency_days(self, inp: AgencyDays) -> list[AgencyDay]:
        """A rehearsal's unit workflow's simulated agency: the days it acts on, from the plan the
        campaign stored at launch and the seed, exactly as `SimulationWorkflow` schedules them."""
        ctx, sim = inp.context, inp.context.agencies
        assert sim is not None
        key = (ctx.campaign_id, sim.seed, tuple(sim.silent), sim.notice_after)
        async with self._lock:
            if key not in self._schedules:
                self._schedules = {key: await self._schedule(ctx)}  # one rehearsal at a time
        return self._schedules[key].get(inp.workflow_id, [])

    async def _schedule(self, ctx: CampaignContext) -> dict[str, list[AgencyDay]]:
        sim = ctx.agencies
        assert sim is not None
        async with self.db.connect() as conn:
            stored = (
                await conn.execute(select(campaigns.c.plan).where(campaigns.c.id == ctx.campaign_id))
            ).scalar_one()
        plan = Plan.model_validate(stored)
        return schedule(
            plan,
            expand(plan, ctx.campaign_id, grace_until=ctx.grace_until),
            WorkCalendar(ctx.calendar),
            seed=sim.seed,
            silent=sim.silent,
            until=ctx.ends,
            notice_after=sim.notice_after,
        )

    @activity.defn(name=Act.simulate_agency)
    async def simulate_agency(self, inp: SimulateAgency) -> SimulateResult:
        handle = self.client.get_workflow_handle(inp.workflow_id)
        out = SimulateResult()
        for m in inp.moves:
            verb, arg = agency_action(m, inp.unit_id)
            # The move's own id: when this activity is retried, Temporal recognises each Update
            # already sent and answers it again instead of applying (or refusing) it twice.
            move = move_id(m, inp.plan_time)
            began = time.monotonic()
            try:
                await handle.execute_update(verb, arg, id=move, result_type=ObligationView)
                out.applied += 1
            except WorkflowUpdateFailedError as e:
                # Refused (and on the record as refused): an answer, not a failure; the agency
                # moves on.
                out.rejected += 1
                log.info("move refused", obligation_id=m.obligation_id, verb=m.verb, reason=str(e.cause))
            finally:
                out.slowest = max(out.slowest, round(time.monotonic() - began, 3))
            # Any other error (the unit workflow not started yet) fails the activity, and its
            # retry policy waits.
        return out


class DeskSimulator:
    """Rehearsal only: units report on their 责令整改 and the office reviews the reports, through
    the orders' own Updates, on the days `rules.simulated_answers` gives from the seed."""

    def __init__(self, client: Client, engine: AsyncEngine) -> None:
        self.client = client
        self.db = engine
        self.papers = CampaignPapers()

    @activity.defn(name=Act.simulate_desk)
    async def simulate_desk(self, inp: SimulateDesk) -> DeskResult:
        today = inp.plan_time.astimezone(CST).date()
        o = rectification_orders.c
        async with self.db.connect() as conn:
            cal = (await self.papers.facts(conn, inp.campaign_id)).calendar
            rows = (
                await conn.execute(
                    select(rectification_orders)
                    .where(o.campaign_id == inp.campaign_id, o.workflow_id.is_not(None), o.state.in_(OPEN_ORDER_STATES))
                    .order_by(o.id)
                )
            ).all()
        out = DeskResult()
        for r in rows:
            state = OrderState(r.state)
            handle = self.client.get_workflow_handle(r.workflow_id)
            if state is OrderState.reported and r.reported_at is not None:
                reported = r.reported_at.astimezone(CST).date()
                on, accept = order_review(cal, seed=inp.seed, key=r.idempotency_key, round=r.round, reported=reported)
                if today < on:
                    continue
                review = ReviewRectification(reviewer=inp.office, accept=accept, reason="" if accept else REJECT_REASON)
                if await self._send(handle, "review", review, f"sim-review:{r.idempotency_key}#r{r.round}", out):
                    if accept:
                        out.accepted += 1
                        await self._orphan_closed(handle)
                    else:
                        out.rejected += 1
            elif state.awaiting_report:
                began = (r.reviewed_at if r.round and r.reviewed_at is not None else r.plan_time).astimezone(CST).date()
                day = order_answer_day(
                    cal, seed=inp.seed, key=r.idempotency_key, round=r.round, began=began, due=r.due,
                    silent=r.unit_id in inp.silent,
                )  # fmt: skip
                if day is None or today < day:
                    continue
                report = ReportRectification(unit_id=r.unit_id, text=REPORT_TEXT, evidence=["整改前后对比照片.pdf"])
                if await self._send(handle, "report", report, f"sim-report:{r.idempotency_key}#r{r.round}", out):
                    out.reported += 1
        return out

    async def _orphan_closed(self, handle: WorkflowHandle[Any, Any]) -> None:
        """An accepted report ends the order's workflow. When the parent run that started it has
        ended (an order is abandoned: it outlives a monthly run that continued as new), the
        time-skipping test server locks time skipping on the child's completion "until the parent
        is told", which never happens, and the rehearsal would then crawl at wall-clock speed.
        Release that one lock; a real server has none, and refuses the call, which is ignored."""
        try:
            await asyncio.wait_for(handle.result(), timeout=60)
            child = await handle.describe()
            if child.parent_id is None:
                return
            parent = await self.client.get_workflow_handle(child.parent_id, run_id=child.parent_run_id).describe()
            if parent.status is not None and parent.status != WorkflowExecutionStatus.RUNNING:
                await self.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
                log.info("test server: released the lock of an orphaned order's completion", order=handle.id)
        except Exception as e:  # not a time-skipping server, or the order still running: nothing leaked
            log.info("no test-server lock released", order=handle.id, reason=str(e))

    @staticmethod
    async def _send(
        handle: WorkflowHandle[Any, Any], update: str, arg: object, update_id: str, out: DeskResult
    ) -> bool:
        began = time.monotonic()
        try:
            # Accepted is enough: the desk needs no answer, and waiting for the outcome of a review
            # whose acceptance ends the order's workflow can hang the time-skipping test server
            # (sdk-python #661, sdk-java #1903) until the poll times out.
            await handle.start_update(
                update, arg, id=update_id, result_type=RectificationView, wait_for_stage=WorkflowUpdateStage.ACCEPTED
            )
            return True
        except (WorkflowUpdateFailedError, RPCError) as e:
            # Refused (on the record as refused), or the order's workflow ended meanwhile (the
            # campaign closed): the desk moves on.
            out.refused += 1
            log.info("desk move refused", update=update, id=update_id, reason=str(getattr(e, "cause", e)))
            return False
        finally:
            out.slowest = max(out.slowest, round(time.monotonic() - began, 3))
