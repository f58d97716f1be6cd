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
    Acknowledge,
    Act,
    CampaignContext,
    Complete,
    DeliverBatch,
    DeliverResult,
    EngineCost,
    FiredAction,
    LoadObligations,
    MirrorBatch,
    ObligationAction,
    ObligationView,
    Refusal,
    ReportProgress,
    RulesChange,
    StateChange,
    UnitInput,
)
from models.ruleset import ActionKind, Event
from models.time import at
from rules.engine import Firing
from workflows.common import DB_ACTIVITY, HISTORY_LIMIT, engine_for, own_cost, plan_now, provenance
from workflows.dispatch import POKE_PATCH, poke, pushes

MIRROR_DEBOUNCE = timedelta(minutes=5)


def refuse(message: str) -> ApplicationError:
    """An Update refused for bad input: the caller gets the message, nothing changes."""
    return ApplicationError(message, type="InvalidInput", non_retryable=True)


"""Updates arriving together (an agency signing for all its tasks) are mirrored in one write."""


@workflow.defn
class UnitWorkflow:
    def __init__(self) -> None:
        self._ctx: CampaignContext | None = None
        self._obs: dict[str, Obligation] = {}
        self._changes: list[StateChange] = []
        self._activities = 0
        self._loaded = False
        self._events: list[tuple[Obligation, Firing]] = []
        """Event firings (签收, 进展上报, 延期获批) waiting for the loop to act on them."""
        self._rules: RulesChange | None = None
        """A rule set installed while the loop slept, to switch to when it wakes."""

    # -- the loop ----------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: UnitInput) -> EngineCost:
        ctx = self._ctx = inp.context
        engine = engine_for(ctx)
        if inp.carried is not None:
            self._obs = {o.id: o for o in inp.carried}
            self._loaded = True
        else:
            loaded = await workflow.execute_activity(
                Act.load_obligations,
                LoadObligations(campaign_id=ctx.campaign_id, phase=inp.phase, unit_id=inp.unit_id),
                result_type=list[Obligation],
                **DB_ACTIVITY,
            )
            self._activities += 1
            self._obs = {o.id: o for o in loaded}
        self._loaded = True
        log = workflow.logger
        closes = at(ctx.ends + timedelta(days=1), "00:00")
        firings = {o.id: engine.firings(o, until=ctx.ends, since=ctx.rules_since) for o in self._obs.values()}

        while True:
            if self._rules is not None:
                ctx = self._switch_rules(self._rules)
                engine = engine_for(ctx)
                firings = {o.id: engine.firings(o, until=ctx.ends, since=ctx.rules_since) for o in self._obs.values()}
            now = plan_now(ctx)
            due, self._events = self._events, []
            upcoming: datetime | None = None
            for ob in self._obs.values():
                if ob.done:
                    continue
                for f in firings[ob.id]:
                    if f.occurrence in ob.fired:
                        continue
                    if f.at <= now:
                        due.append((ob, f))
                    elif upcoming is None or f.at < upcoming:
                        upcoming = f.at
            if due:
                await self._fire(ctx, due)
            if self._changes:
                await self._mirror(ctx)
            if all(o.done for o in self._obs.values()) or now >= closes:
                break
            if workflow.info().get_current_history_length() > HISTORY_LIMIT:
                workflow.continue_as_new(
                    UnitInput(
                        context=self._ctx,
                        phase=inp.phase,
                        unit_id=inp.unit_id,
                        carried=list(self._obs.values()),
                        cost=self._cost(inp).add(EngineCost(continued_as_new=1)),
                    )
                )
            wake = min(upcoming or closes, closes)
            try:
                await workflow.wait_condition(
                    lambda: bool(self._changes or self._events or self._rules),
                    timeout=ctx.clock.server_time(wake) - workflow.now(),
                )
            except TimeoutError:
                continue
            # An agency acting usually acts on many obligations at once: gather them.
            await workflow.sleep(ctx.clock.server_duration(MIRROR_DEBOUNCE))
        log.info("unit done", extra={"unit": inp.unit_id, "phase": inp.phase.value})
        return self._cost(inp)

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

    def _cost(self, inp: UnitInput) -> EngineCost:
        return own_cost(self._activities, inp.cost)

    async def _fire(self, ctx: CampaignContext, due: list[tuple[Obligation, Firing]]) -> None:
        engine = engine_for(ctx)
        actions: list[FiredAction] = []
        for ob, f in sorted(due, key=lambda x: (x[1].at, x[0].id)):
            ob.fired.append(f.occurrence)
            action = engine.act(ob, f, clock=ctx.clock, office=ctx.office, convener=ctx.convener)
            if action is None:
                continue
            actions.append(action)
            if action.kind is ActionKind.remind:
                ob.reminders += 1
            elif action.kind is ActionKind.escalate:
                ob.escalation_level = max(ob.escalation_level, action.level)
            ob.notices += int(action.notice)
        if not actions:
            return
        # One activity carries every action due at this instant: one round trip, one
        # transaction, each row guarded by its own idempotency key.
        await workflow.execute_activity(
            Act.deliver,
            DeliverBatch(
                provenance=provenance(ctx),
                notice_prefix=ctx.notice_prefix,
                actions=actions,
                quiet_hours=ctx.ruleset.quiet_hours,
            ),
            result_type=DeliverResult,
            **DB_ACTIVITY,
        )
        self._activities += 1
        if ctx.push and pushes(actions) and workflow.patched(POKE_PATCH):  # e-mails and webhooks queued
            await poke(ctx)

    async def _mirror(self, ctx: CampaignContext) -> None:
        changes, self._changes = self._changes, []
        await workflow.execute_activity(
            Act.mirror, MirrorBatch(provenance=provenance(ctx), changes=changes), **DB_ACTIVITY
        )
        self._activities += 1

    # -- updates: 签收, 进展上报, 办结 ----------------------------------------------------------------

    def _ready(self) -> None:
        """The only check made before an Update enters history: everything else a unit can get
        wrong is refused by the handler, so that the refused attempt is on the record."""
        if not self._loaded:
            raise refuse("this unit's obligations are still loading: try again in a moment")

    def _reason(self, a: ObligationAction, verb: str) -> str | None:
        """Why this unit may not do this to this obligation now, or None."""
        assert self._ctx is not None
        ob = self._obs.get(a.obligation_id)
        if ob is None:
            return f"unknown obligation {a.obligation_id!r} for this unit"
        if a.unit_id not in (ob.spec.unit_id, self._ctx.office):
            return f"unit {a.unit_id!r} may not act on {ob.id}: it belongs to {ob.spec.unit_id!r}"
        if ob.done:
            return f"{ob.id} is already completed"
        if verb == "acknowledge" and ob.state is not ObligationState.assigned:
            return f"{ob.id} is already acknowledged"
        if isinstance(a, ReportProgress) and a.percent < ob.progress:
            return f"progress cannot go back from {ob.progress}% to {a.percent}%"
        return None

    async def _admit(self, a: ObligationAction, verb: str) -> Obligation:
        """The obligation to act on; or record the refused attempt and fail the Update."""
        assert self._ctx is not None
        reason = self._reason(a, verb)
        if reason is None:
            return self._obs[a.obligation_id]
        info = workflow.current_update_info()
        now = workflow.now()
        await workflow.execute_activity(
            Act.record_refusal,
            Refusal(
                provenance=provenance(self._ctx),
                key=f"{workflow.info().workflow_id}#refused:{info.id if info else now.isoformat()}",
                verb=verb,
                obligation_id=a.obligation_id,
                known=a.obligation_id in self._obs,
                actor=a.unit_id,
                reason=reason,
                text=a.text,
                plan_time=self._ctx.clock.plan_time(now),
                server_time=now,
            ),
            **DB_ACTIVITY,
        )
        self._activities += 1
        raise refuse(reason)

    def _record(self, ob: Obligation, a: ObligationAction, *events: Event) -> ObligationView:
        assert self._ctx is not None
        info = workflow.current_update_info()
        now = workflow.now()
        token = info.id if info else now.isoformat()
        engine = engine_for(self._ctx)
        for e in events:
            self._events += [(ob, f) for f in engine.on_event(e, self._ctx.clock.plan_time(now), token)]
        self._changes.append(
            StateChange(
                key=f"{ob.id}#update:{info.id if info else now.isoformat()}",
                obligation_id=ob.id,
                unit_id=ob.spec.unit_id,
                actor=a.unit_id,
                state=ob.state,
                progress=ob.progress,
                text=a.text,
                plan_time=self._ctx.clock.plan_time(now),
                server_time=now,
            )
        )
        return self._view(ob)

    @workflow.update
    async def acknowledge(self, a: Acknowledge) -> ObligationView:
        ob = await self._admit(a, "acknowledge")
        assert self._ctx is not None
        ob.state = ObligationState.acknowledged
        ob.acknowledged_at = self._ctx.clock.plan_time(workflow.now())
        return self._record(ob, a, Event.acknowledged)

    @acknowledge.validator
    def _v_acknowledge(self, a: Acknowledge) -> None:
        self._ready()

    @workflow.update
    async def report_progress(self, a: ReportProgress) -> ObligationView:
        ob = await self._admit(a, "report_progress")
        assert self._ctx is not None
        if ob.acknowledged_at is None:  # reporting progress signs for the obligation too
            ob.acknowledged_at = self._ctx.clock.plan_time(workflow.now())
        ob.state = ObligationState.in_progress
        ob.progress = a.percent
        ob.progress_text = a.text
        return self._record(ob, a, Event.progress_reported)

    @report_progress.validator
    def _v_report_progress(self, a: ReportProgress) -> None:
        self._ready()

    @workflow.update
    async def complete(self, a: Complete) -> ObligationView:
        ob = await self._admit(a, "complete")
        assert self._ctx is not None
        now = self._ctx.clock.plan_time(workflow.now())
        ob.acknowledged_at = ob.acknowledged_at or now
        ob.state = ObligationState.completed
        ob.progress = 100
        ob.completed_at = now
        return self._record(ob, a)

    @complete.validator
    def _v_complete(self, a: Complete) -> None:
        self._ready()

    # -- queries -----------------------------------------------------------------------------------

    @workflow.query
    def obligations(self) -> list[ObligationView]:
        return [self._view(o) for o in self._obs.values()]

    @staticmethod
    def _view(ob: Obligation) -> ObligationView:
        return ObligationView(
            id=ob.id,
            unit_id=ob.spec.unit_id,
            title=ob.spec.title,
            due=ob.spec.due,
            state=ob.state,
            progress=ob.progress,
            reminders=ob.reminders,
            escalation_level=ob.escalation_level,
        )
