"""One unit's obligations in one phase: timers, Updates, reminders and the escalation ladder.

A workflow per unit, not per obligation: a town holds ~30 obligations whose deadlines coincide,
so one wake-up handles every action due at that instant in one activity. Between instants the
workflow sleeps to the next firing, not on a tick.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from models.obligation import Obligation, ObligationState
from models.payloads import (
    Act,
    AgencyDay,
    AgencyDays,
    ArmBatch,
    CampaignContext,
    DeliverBatch,
    DeliverResult,
    EngineCost,
    FiredAction,
    LoadObligations,
    MirrorBatch,
    PhaseAmendment,
    RulesChange,
    UnitAmendment,
    UnitInput,
)
from models.ruleset import ActionKind
from models.time import at
from rules.arming import Look, ahead, armable, mark, next_acting
from rules.convener import INSTRUCTED
from rules.engine import Firing, act_on
from rules.rectification import order_from_action, order_from_round
from rules.rounds import order_rounds
from rules.simulation import agency_action, move_id
from workflows.common import (
    AGENCY_IN_UNIT_PATCH,
    HISTORY_LIMIT,
    LOCAL_DB_ACTIVITY,
    LOCAL_EFFECTS_PATCH,
    Baseline,
    engine_for,
    own_cost,
    plan_now,
    provenance,
    short_read,
    write_effect,
)
from workflows.evidence import EVIDENCE_PATCH
from workflows.orders import ONE_OPEN_ORDER_PATCH, PER_UNIT_PATCH, new_orders, start_orders
from workflows.pokes import POKE_PATCH, SELF_DISPATCH_PATCH, poke, pushes
from workflows.unit_updates import UnitUpdates

MIRROR_DEBOUNCE = timedelta(seconds=2)
"""How long (server time) a unit workflow gathers Updates before mirroring them in one write: an
agency signing for all its tasks does it within seconds, and the office reading `duban status` or
`rules explain` right after an answer must see it (it waited 5 plan minutes, i.e. 5 real minutes
on a live campaign). Changing a timer's duration is not a non-determinism: histories replay."""
MIRROR_DEBOUNCE_PLAN = timedelta(minutes=5)
"""At most this much plan time, so a drill at a plan day a second does not sleep past firings."""

RULE_ORDERS_PATCH = "rule-orders"
"""Histories from before rules' rectification orders had workflows of their own."""
INSTRUCT_PUSH_PATCH = "instruct-push"
"""A mirrored 批示 pokes the dispatch loop (its pushes were queued by the mirror)."""
EVALUATION_PATCH = "evaluation"
"""Completed work stays open to the office's 评价 until the campaign closes."""
QUIET_PATCH = "quiet-instants"
"""A unit sleeps through the instants at which its firings would act on nothing (`rules.arming`)."""
UNIT_BASELINE_PATCH = "unit-baseline-2026-12"
"""Runs from here on take every patch below at once (`Baseline`): one marker, not one each."""
UNIT_BASELINE_COVERS = frozenset(
    {
        EVALUATION_PATCH,
        AGENCY_IN_UNIT_PATCH,
        LOCAL_EFFECTS_PATCH,
        PER_UNIT_PATCH,
        POKE_PATCH,
        RULE_ORDERS_PATCH,
        INSTRUCT_PUSH_PATCH,
        EVIDENCE_PATCH,
        ONE_OPEN_ORDER_PATCH,
        SELF_DISPATCH_PATCH,
    }
)
"""The patches a unit run took before its baseline; one added later is not listed (it is asked)."""
UNIT_BASELINE_2_PATCH = "unit-baseline-2026-12-quiet"
"""The baseline with `QUIET_PATCH` too: runs from here on record this one marker instead."""
UNIT_BASELINES = (
    (UNIT_BASELINE_2_PATCH, UNIT_BASELINE_COVERS | {QUIET_PATCH}),
    (UNIT_BASELINE_PATCH, UNIT_BASELINE_COVERS),
)
"""Newest first: a run takes the first it recorded (`Baseline.start`)."""


def _done(o: Obligation) -> bool:
    return o.done


def _settled(o: Obligation) -> bool:
    """Nothing more can happen to it: withdrawn, or completed and accepted by the office."""
    return o.state is ObligationState.withdrawn or (o.done and o.evaluation == "accepted")


"""Updates arriving together (an agency signing for all its tasks) are mirrored in one write."""


@workflow.defn
class UnitWorkflow(UnitUpdates):
    """A unit's obligations in one phase: its Updates and query come from
    `UnitUpdates`; the loop (timers, firings, mirroring) is here."""

    @workflow.run
    async def run(self, inp: UnitInput) -> EngineCost:
        ctx = self._ctx = inp.context
        self._unit = inp.unit_id
        engine = engine_for(ctx)
        # Completed work stays open to the office's 评价 (which may return it) until the
        # campaign closes; histories from before that rule ended the workflow at completion.
        self._baseline = Baseline.start(*UNIT_BASELINES)
        settled = _settled if self._baseline.patched(EVALUATION_PATCH) else _done
        self._armed = dict(inp.armed)
        if inp.carried is not None:
            self._obs = {o.id: o for o in inp.carried}
            self._loaded = True
        else:
            loaded: list[Obligation] = await short_read(
                Act.load_obligations,
                LoadObligations(campaign_id=ctx.campaign_id, phase=inp.phase, unit_id=inp.unit_id),
                result_type=list[Obligation],
                baseline=self._baseline,
            )
            self._activities += 1
            self._obs = {o.id: o for o in loaded}
        self._loaded = True
        days = await self._agency_days(inp)
        log = workflow.logger
        closes = at(ctx.ends + timedelta(days=1), "00:00")
        firings = self._firings = {
            o.id: engine.firings(o, until=ctx.ends, since=ctx.rules_since) for o in self._obs.values()
        }
        quiet = self._baseline.patched(QUIET_PATCH)

        while True:
            self._catch_up()  # before anything below changes the obligations
            if self._rules is not None:
                ctx = self._switch_rules(self._rules)
                engine = engine_for(ctx)
                firings = self._firings = {
                    o.id: engine.firings(o, until=ctx.ends, since=ctx.rules_since) for o in self._obs.values()
                }
            now = plan_now(ctx)
            while self._amendments:
                ctx = self._amend(self._amendments.pop(0), firings)
            for oid in sorted(self._refire):  # a new deadline: its firings from now on
                moved = self._obs[oid]
                firings[oid] = [f for f in engine.firings(moved, until=ctx.ends, since=ctx.rules_since) if f.at >= now]
            self._refire.clear()
            due, self._events = self._events, []
            upcoming: datetime | None = None
            for ob in self._obs.values():
                if not ob.live:
                    continue
                for f in firings[ob.id]:
                    if f.occurrence in ob.fired:
                        continue
                    if f.at <= now:
                        due.append((ob, f))
                    elif upcoming is None or f.at < upcoming:
                        upcoming = f.at
            if due or self._late:
                await self._fire(ctx, due)
            if days and days[0].plan_time <= now:
                # After the instant's own firings, as when its agency's Updates came in after
                # the timer's wake-up; their events fire on the next pass, at the same instant.
                await self._play(days.pop(0))
                continue
            look: Look | None = None
            if quiet:
                # Sleep through the instants that would act on nothing, to the first that acts
                # (or to the agency's next day, or the close, whichever comes first).
                look = next_acting(
                    engine, self._obs.values(), firings,
                    before=min(days[0].plan_time, closes) if days else closes,
                    clock=ctx.clock, office=ctx.office, convener=ctx.convener,
                )  # fmt: skip
                upcoming, self._quiet = look.instant, look.quiet
            if days and (upcoming is None or days[0].plan_time < upcoming):
                upcoming = days[0].plan_time
            if self._changes:
                await self._mirror(ctx)
            arm_at = await self._arm(ctx, firings, upcoming, look) if ctx.arm_ahead_seconds else None
            if all(settled(o) for o in self._obs.values()) or now >= closes:
                break
            if workflow.info().get_current_history_length() > HISTORY_LIMIT:
                workflow.continue_as_new(
                    UnitInput(
                        context=self._ctx,
                        phase=inp.phase,
                        unit_id=inp.unit_id,
                        carried=list(self._obs.values()),
                        cost=self._cost(inp).add(EngineCost(continued_as_new=1)),
                        armed=self._armed,
                    )
                )
            wake = ctx.clock.server_time(min(upcoming or closes, closes))
            try:
                await workflow.wait_condition(
                    lambda: bool(
                        self._changes or self._events or self._rules or self._refire or self._amendments or self._late
                    ),
                    timeout=min(wake, arm_at or wake) - workflow.now(),
                )
            except TimeoutError:
                continue
            # An agency acting usually acts on many obligations at once: gather them.
            await workflow.sleep(min(MIRROR_DEBOUNCE, ctx.clock.server_duration(MIRROR_DEBOUNCE_PLAN)))
        log.info("unit done", extra={"unit": inp.unit_id, "phase": inp.phase.value})
        return self._cost(inp)

    async def _agency_days(self, inp: UnitInput) -> list[AgencyDay]:
        """A rehearsal's simulated agency: the days it acts on (none in a live campaign, whose
        agencies send Updates). A continued run's days start after the instant it continued at:
        the run before acted on every move up to then."""
        ctx = inp.context
        if ctx.agencies is None or not self._baseline.patched(AGENCY_IN_UNIT_PATCH):
            return []
        days: list[AgencyDay] = await short_read(
            Act.agency_days,
            AgencyDays(context=ctx, workflow_id=workflow.info().workflow_id),
            result_type=list[AgencyDay],
            baseline=self._baseline,
        )
        self._activities += 1
        if inp.carried is not None:
            now = plan_now(ctx)
            days = [d for d in days if d.plan_time > now]
        return days

    async def _play(self, day: AgencyDay) -> None:
        """The simulated agency's moves of one instant, each through its Update's own handler
        under the Update's id, so that a refused move is refused and recorded exactly as it was
        when sent as an Update."""
        played: set[str] = set()
        for m in day.moves:
            verb, arg = agency_action(m, self._unit)
            mid = move_id(m, day.plan_time)
            if mid in played:
                continue  # the same Update again: Temporal answered it from the first, applying nothing
            played.add(mid)
            self._acting = mid
            try:
                await getattr(self, verb)(arg)  # the Update's handler: acknowledge, report_progress, complete
            except ApplicationError:
                pass  # refused, and on the record as refused: the agency moves on
            finally:
                self._acting = None

    def _switch_rules(self, change: RulesChange) -> CampaignContext:
        """From now on, the installed rule set decides: firings it schedules before its
        installation are not acted on, and those already acted on stay done (same keys)."""
        assert self._ctx is not None
        self._rules = None
        self._ctx = self._ctx.model_copy(
            update={"ruleset": change.ruleset, "ruleset_hash": change.ruleset_hash, "rules_since": change.since}
        )
        return self._ctx

    @workflow.signal
    def install_rules(self, change: RulesChange) -> None:
        self._rules = change

    @workflow.signal
    def amend(self, change: PhaseAmendment) -> None:
        self._amendments.append(change)

    def _amend(self, change: PhaseAmendment, firings: dict[str, list[Firing]]) -> CampaignContext:
        """A plan amendment: work added (its firings from now on), withdrawn (no more firings),
        moved to another due date or handed to another lead unit."""
        assert self._ctx is not None
        self._ctx = self._ctx.model_copy(update={"plan_hash": change.plan_hash})
        mine = change.units.get(self._unit, UnitAmendment())
        for spec in mine.added:
            if spec.id not in self._obs:
                self._obs[spec.id] = Obligation(spec=spec)
                firings[spec.id] = []
                self._refire.add(spec.id)
        for oid in mine.withdrawn:
            if oid in self._obs:
                self._obs[oid].state = ObligationState.withdrawn
                firings[oid] = []
        for oid, due in mine.moved.items():
            if oid in self._obs:
                ob = self._obs[oid]
                ob.spec = ob.spec.model_copy(update={"due": due})
                self._refire.add(oid)
        for oid, lead in mine.relead.items():
            if oid in self._obs:
                ob = self._obs[oid]
                ob.spec = ob.spec.model_copy(update={"lead": lead})
        return self._ctx

    def _cost(self, inp: UnitInput) -> EngineCost:
        return own_cost(self._activities, inp.cost)

    async def _fire(self, ctx: CampaignContext, due: list[tuple[Obligation, Firing]]) -> None:
        # Actions a catch-up found (none, unless the obligations changed under a look ahead)
        # go first: their instants came first.
        actions, self._late = self._late, []
        actions += act_on(engine_for(ctx), due, clock=ctx.clock, office=ctx.office, convener=ctx.convener)
        for a in actions:  # an armed reminder delivered now is confirmed by this delivery
            self._armed.pop(a.key, None)
        if not actions:
            return
        # One activity carries every action due at this instant: one round trip, one
        # transaction, each row guarded by its own idempotency key. Its papers are per unit:
        # one notice and one order listing the unit's obligations of the round.
        per_unit = self._baseline.patched(PER_UNIT_PATCH)
        batch = DeliverBatch(
            provenance=provenance(ctx),
            notice_prefix=ctx.notice_prefix,
            actions=actions,
            quiet_hours=ctx.ruleset.quiet_hours,
            per_unit=per_unit,
        )
        delivered: DeliverResult = await write_effect(
            Act.deliver, batch, result_type=DeliverResult, baseline=self._baseline
        )
        self._activities += 1
        if ctx.push and pushes(actions) and self._baseline.patched(POKE_PATCH):  # e-mails and webhooks queued
            await poke(ctx, baseline=self._baseline)
        # A rule's 责令整改 is followed up like the monthly bulletin's: its own child workflow
        # (abandoned on close: an order outlives the unit's last obligation).
        leads = {ob.id: ob.spec.lead for ob in self._obs.values()}
        if per_unit:
            orders = [order_from_round(r, leads=leads) for r in order_rounds(actions)]
        else:
            orders = [
                order_from_action(a, lead=leads.get(a.obligation_id)) for a in actions if a.kind is ActionKind.rectify
            ]
        if orders and self._baseline.patched(RULE_ORDERS_PATCH):
            added = new_orders(orders, delivered if per_unit else None, baseline=self._baseline)
            await start_orders(ctx, added, budget=ctx.max_children)

    async def _arm(
        self,
        ctx: CampaignContext,
        firings: dict[str, list[Firing]],
        upcoming: datetime | None,
        look: Look | None = None,
    ) -> datetime | None:
        """Live campaigns: the inbox-only reminders of the next instant armed once it is
        `arm_ahead_seconds` away (`rules.arming`), those armed before and no longer due disarmed;
        written only when that changes. Returns when to wake to arm them (server time), if later.

        Only campaigns launched with `arm_ahead_seconds` (the field is new: running and saved
        histories have 0) reach this, so no patch guards it."""
        arm_at: datetime | None = None
        want: list[FiredAction] = []
        if look is not None and look.actions is not None and look.instant == upcoming:
            want = [a for a in look.actions if armable(a)]  # the look ahead decided them already
        elif upcoming is not None:
            want = ahead(
                engine_for(ctx), self._obs.values(), firings, upcoming,
                clock=ctx.clock, office=ctx.office, convener=ctx.convener,
            )  # fmt: skip
        if upcoming is not None:
            opens = ctx.clock.server_time(upcoming) - timedelta(seconds=ctx.arm_ahead_seconds)
            if want and opens > workflow.now():
                arm_at, want = opens, []
        marks = {a.key: mark(a) for a in want}
        if marks != self._armed:
            batch = ArmBatch(
                campaign_id=ctx.campaign_id,
                actions=[a for a in want if self._armed.get(a.key) != marks[a.key]],
                disarm=sorted(set(self._armed) - set(marks)),
            )
            await workflow.execute_local_activity(Act.arm, batch, result_type=int, **LOCAL_DB_ACTIVITY)
            self._activities += 1
            self._armed = marks
        return arm_at

    async def _mirror(self, ctx: CampaignContext) -> None:
        changes, self._changes = self._changes, []
        batch = MirrorBatch(provenance=provenance(ctx), changes=changes)
        await write_effect(Act.mirror, batch, baseline=self._baseline)
        self._activities += 1
        # A 批示 mirrored queued its pushes to the unit and the office: the loop sends them now,
        # not at its next look (histories from before sent nothing, and poked nobody).
        if ctx.push and any(c.event == INSTRUCTED for c in changes) and self._baseline.patched(INSTRUCT_PUSH_PATCH):
            await poke(ctx, baseline=self._baseline)
