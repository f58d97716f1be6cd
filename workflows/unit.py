"""One unit's obligations in one phase: timers, Updates, reminders and the escalation ladder.

A workflow per unit, not per obligation: a town holds ~30 obligations whose deadlines coincide,
so one wake-up handles every action due at that instant in one activity. Between instants the
workflow sleeps to the next firing, not on a tick.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

from models.obligation import Obligation, ObligationState
from models.payloads import (
    Acknowledge,
    Act,
    CampaignContext,
    Complete,
    DecideExtension,
    DeliverBatch,
    DeliverResult,
    EngineCost,
    Evaluate,
    Evidence,
    FiredAction,
    LoadObligations,
    MirrorBatch,
    ObligationAction,
    ObligationView,
    PhaseAmendment,
    ReportProgress,
    RequestExtension,
    RulesChange,
    StateChange,
    UnitAmendment,
    UnitInput,
)
from models.ruleset import ActionKind, Event
from models.time import at
from rules.engine import Firing, took
from rules.evidence import policy_problem
from rules.rectification import order_from_action
from workflows.common import (
    DB_ACTIVITY,
    HISTORY_LIMIT,
    engine_for,
    own_cost,
    plan_now,
    provenance,
    record_refusal,
    refuse,
)
from workflows.dispatch import POKE_PATCH, poke, pushes
from workflows.evidence import EVIDENCE_PATCH, check_evidence
from workflows.rectification import start_orders

MIRROR_DEBOUNCE = timedelta(seconds=2)
"""How long (server time) a unit workflow gathers Updates before mirroring them in one write: an
agency signing for all its tasks does it within seconds, and the office reading `duban status` or
`rules explain` right after an answer must see it (it waited 5 plan minutes, i.e. 5 real minutes
on a live campaign). Changing a timer's duration is not a non-determinism: histories replay."""
MIRROR_DEBOUNCE_PLAN = timedelta(minutes=5)
"""At most this much plan time, so a drill at a plan day a second does not sleep past firings."""

RULE_ORDERS_PATCH = "rule-orders"
"""Histories from before rules' rectification orders had workflows of their own."""

OFFICE_ONLY = {"decide_extension": "decide a 延期申请", "evaluate": "evaluate completed work"}


def _done(o: Obligation) -> bool:
    return o.done


def _settled(o: Obligation) -> bool:
    """Nothing more can happen to it: withdrawn, or completed and accepted by the office."""
    return o.state is ObligationState.withdrawn or (o.done and o.evaluation == "accepted")


def _files(evidence: list[Evidence]) -> dict[str, Any]:
    return {"evidence": [e.model_dump() for e in evidence]} if evidence else {}


def _evidence_problem(evidence: list[Evidence], ctx: CampaignContext) -> str | None:
    for e in evidence:
        if why := policy_problem(e.name, e.size, ctx.ruleset.evidence):
            return why
    return None


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
        self._unit = ""
        self._amendments: list[PhaseAmendment] = []
        """Plan amendments that arrived while the loop slept."""
        self._refire: set[str] = set()
        """Obligations whose deadline moved (an approved 延期申请): their firings are redone."""

    # -- the loop ----------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: UnitInput) -> EngineCost:
        ctx = self._ctx = inp.context
        self._unit = inp.unit_id
        engine = engine_for(ctx)
        # Completed work stays open to the office's 评价 (which may return it) until the
        # campaign closes; histories from before that rule ended the workflow at completion.
        settled = _settled if workflow.patched("evaluation") else _done
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
            if due:
                await self._fire(ctx, due)
            if self._changes:
                await self._mirror(ctx)
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
                    )
                )
            wake = min(upcoming or closes, closes)
            try:
                await workflow.wait_condition(
                    lambda: bool(self._changes or self._events or self._rules or self._refire or self._amendments),
                    timeout=ctx.clock.server_time(wake) - workflow.now(),
                )
            except TimeoutError:
                continue
            # An agency acting usually acts on many obligations at once: gather them.
            await workflow.sleep(min(MIRROR_DEBOUNCE, ctx.clock.server_duration(MIRROR_DEBOUNCE_PLAN)))
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
        engine = engine_for(ctx)
        actions: list[FiredAction] = []
        for ob, f in sorted(due, key=lambda x: (x[1].at, x[0].id)):
            ob.fired.append(f.occurrence)
            action = engine.act(ob, f, clock=ctx.clock, office=ctx.office, convener=ctx.convener)
            if action is None:
                continue
            actions.append(action)
            took(ob, action)
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
        # A rule's 责令整改 is followed up like the monthly bulletin's: its own child workflow
        # (abandoned on close: an order outlives the unit's last obligation).
        leads = {ob.id: ob.spec.lead for ob, _ in due}
        orders = [
            order_from_action(a, lead=leads.get(a.obligation_id)) for a in actions if a.kind is ActionKind.rectify
        ]
        if orders and workflow.patched(RULE_ORDERS_PATCH):
            await start_orders(ctx, orders, budget=ctx.max_children)

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
        ctx = self._ctx
        ob = self._obs.get(a.obligation_id)
        if ob is None:
            return f"unknown obligation {a.obligation_id!r} for this unit"
        if ob.state is ObligationState.withdrawn:
            return f"{ob.id} was withdrawn by a plan amendment"
        if a.unit_id not in (ob.spec.unit_id, ctx.office):
            return f"unit {a.unit_id!r} may not act on {ob.id}: it belongs to {ob.spec.unit_id!r}"
        if verb in OFFICE_ONLY and a.unit_id != ctx.office:
            return f"only the office ({ctx.office}) may {OFFICE_ONLY[verb]}"
        if verb == "evaluate":
            if not ob.done:
                return f"{ob.id} is not completed: there is nothing to evaluate yet"
            if ob.evaluation == "accepted":
                return f"{ob.id} is already accepted"
            return None
        if ob.done:
            return f"{ob.id} is already completed"
        if verb == "acknowledge" and ob.state is not ObligationState.assigned:
            return f"{ob.id} is already acknowledged"
        if isinstance(a, ReportProgress) and a.percent < ob.progress:
            return f"progress cannot go back from {ob.progress}% to {a.percent}%"
        if isinstance(a, ReportProgress | Complete):
            return _evidence_problem(a.evidence, ctx)
        if isinstance(a, RequestExtension):
            return self._extension_problem(ob, a)
        if isinstance(a, DecideExtension) and ob.pending_extension is None:
            return f"{ob.id} has no 延期申请 waiting for a decision"
        return None

    def _extension_problem(self, ob: Obligation, a: RequestExtension) -> str | None:
        assert self._ctx is not None
        rules = self._ctx.ruleset.extensions
        engine = engine_for(self._ctx)
        due = engine.due_date(ob)
        today = plan_now(self._ctx).date()
        if a.due <= today:
            return f"the date asked for, {a.due}, is not after today ({today})"
        if a.due <= due:
            return f"the date asked for, {a.due}, is not after the current due date {due}"
        if ob.pending_extension is not None:
            return f"a 延期申请 to {ob.pending_extension} is already waiting for the office"
        if ob.extensions >= rules.max_per_obligation:
            return f"{ob.id} has had {ob.extensions} extension(s): the rule set allows {rules.max_per_obligation}"
        if ob.escalation_level >= rules.not_after_level:
            return f"{ob.id} is escalated to level {ob.escalation_level}: none from level {rules.not_after_level}"
        if engine.calendar.working_days_between(due, a.due) > rules.max_working_days:
            return f"{a.due} is more than {rules.max_working_days} working days after the due date {due}"
        return None

    async def _admit(self, a: ObligationAction, verb: str) -> Obligation:
        """The obligation to act on; or record the refused attempt and fail the Update."""
        assert self._ctx is not None
        reason = self._reason(a, verb)
        # The client's size and SHA-256 are claims: the stored file is checked (patched in, so
        # Updates handled before it replay as they ran).
        if (
            reason is None
            and isinstance(a, ReportProgress | Complete)
            and a.evidence
            and workflow.patched(EVIDENCE_PATCH)
        ):
            reason = await check_evidence(a.evidence)
            self._activities += 1
        if reason is None:
            return self._obs[a.obligation_id]
        error = await record_refusal(
            self._ctx,
            verb=verb,
            subject=a.obligation_id,
            known=a.obligation_id in self._obs,
            actor=a.unit_id,
            reason=reason,
            text=a.text,
        )
        self._activities += 1
        raise error

    def _record(
        self,
        ob: Obligation,
        a: ObligationAction,
        *events: Event,
        kind: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> ObligationView:
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
                event=kind,
                detail=detail or {},
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
        ob.evidence += [e.sha256 for e in a.evidence]
        return self._record(ob, a, Event.progress_reported, detail=_files(a.evidence))

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
        ob.evaluation = None
        ob.evidence += [e.sha256 for e in a.evidence]
        return self._record(ob, a, detail=_files(a.evidence))

    @complete.validator
    def _v_complete(self, a: Complete) -> None:
        self._ready()

    # -- updates: 延期申请, 评价 ---------------------------------------------------------------------

    @workflow.update
    async def request_extension(self, a: RequestExtension) -> ObligationView:
        ob = await self._admit(a, "request_extension")
        ob.pending_extension = a.due
        return self._record(ob, a, kind="extension.requested", detail={"due": a.due.isoformat()})

    @request_extension.validator
    def _v_request_extension(self, a: RequestExtension) -> None:
        self._ready()

    @workflow.update
    async def decide_extension(self, a: DecideExtension) -> ObligationView:
        ob = await self._admit(a, "decide_extension")
        asked, ob.pending_extension = ob.pending_extension, None
        assert asked is not None
        if not a.approve:
            return self._record(ob, a, kind="extension.refused", detail={"due": asked.isoformat()})
        previous = ob.due
        ob.extended_due = asked
        ob.extensions += 1
        # Every pending reminder and escalation moves with the deadline.
        self._refire.add(ob.id)
        detail = {"due": asked.isoformat(), "previous": previous.isoformat()}
        return self._record(ob, a, Event.extension_approved, kind="extension.approved", detail=detail)

    @decide_extension.validator
    def _v_decide_extension(self, a: DecideExtension) -> None:
        self._ready()

    @workflow.update
    async def evaluate(self, a: Evaluate) -> ObligationView:
        ob = await self._admit(a, "evaluate")
        if a.accept:
            ob.evaluation = "accepted"
            return self._record(ob, a, kind="obligation.accepted")
        # Returned with reasons: the work is open again, and the rules take it up from now.
        ob.evaluation = "returned"
        ob.state = ObligationState.in_progress
        ob.completed_at = None
        self._refire.add(ob.id)
        return self._record(ob, a, kind="obligation.returned")

    @evaluate.validator
    def _v_evaluate(self, a: Evaluate) -> None:
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
            extended_due=ob.extended_due,
            pending_extension=ob.pending_extension,
            evaluation=ob.evaluation,
        )
