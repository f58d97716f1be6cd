"""A unit's Updates (签收, 进展上报, 办结, 延期申请 and its decision, 评价) and its query.

The state they share with the loop is set up here; `workflows.unit.UnitWorkflow` adds the loop
(timers, firings, mirroring) on top. A refused Update is recorded by its handler, never by the
validator, so that auditors see every refused attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow

from models.obligation import Obligation, ObligationState
from models.payloads import (
    Acknowledge,
    CampaignContext,
    Complete,
    DecideExtension,
    Evaluate,
    Evidence,
    FiredAction,
    Instruct,
    ObligationAction,
    ObligationView,
    PhaseAmendment,
    ReportProgress,
    RequestExtension,
    RulesChange,
    StateChange,
)
from models.ruleset import Event
from rules.arming import catch_up
from rules.convener import INSTRUCTED, not_answerable
from rules.engine import Firing
from rules.evidence import policy_problem
from workflows.common import (
    NO_BASELINE,
    engine_for,
    plan_now,
    record_refusal,
    refuse,
)
from workflows.evidence import EVIDENCE_PATCH, check_evidence

OFFICE_ONLY = {"decide_extension": "decide a 延期申请", "evaluate": "evaluate completed work"}


def _files(evidence: list[Evidence]) -> dict[str, Any]:
    return {"evidence": [e.model_dump() for e in evidence]} if evidence else {}


def _evidence_problem(evidence: list[Evidence], ctx: CampaignContext) -> str | None:
    for e in evidence:
        if why := policy_problem(e.name, e.size, ctx.ruleset.evidence):
            return why
    return None


class UnitUpdates:
    """The Updates and the query of `UnitWorkflow`, and the state they share with its loop."""

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
        self._acting: str | None = None
        """A rehearsal's simulated move being applied in the workflow: its id, as the Update's would be."""
        self._baseline = NO_BASELINE
        """The run's patches (`workflows.common.Baseline`), decided first thing in its run."""
        self._armed: dict[str, str] = {}
        """Live campaigns: reminders armed ahead and not yet delivered (key → `rules.arming.mark`)."""
        self._firings: dict[str, list[Firing]] = {}
        """Each obligation's firings, as the loop schedules them."""
        self._quiet: list[datetime] = []
        """The instants the loop sleeps through, found acting on nothing (`rules.arming.next_acting`)."""
        self._late: list[FiredAction] = []
        """Actions a catch-up found, for the loop to deliver (none unless the look ahead was wrong)."""

    def _catch_up(self) -> None:
        """Before the obligations change (an Update, the loop's own pass): the quiet instants
        already passed are marked fired on the state they were found quiet on, as their
        wake-ups would have; the others are looked at again once the change is made."""
        quiet, self._quiet = self._quiet, []
        if not quiet:
            return
        assert self._ctx is not None
        ctx = self._ctx
        now = plan_now(ctx)
        # Strictly before: an Update at the instant itself comes before its firings, as it did
        # when the unit woke there (the SDK hands a task's Updates to the workflow before its timers).
        passed = [t for t in quiet if t < now]
        if passed:
            self._late += catch_up(
                engine_for(ctx), self._obs.values(), self._firings, passed,
                clock=ctx.clock, office=ctx.office, convener=ctx.convener,
            )  # fmt: skip

    def _token(self) -> str:
        """What keys this change: the Update's id, the simulated move's, or the instant."""
        info = workflow.current_update_info()
        return info.id if info else self._acting or workflow.now().isoformat()

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
        if isinstance(a, Instruct):  # 批示: the convener's, on any state of the work
            if a.unit_id != ctx.convener:
                return f"only the convener ({ctx.convener}) may answer an escalation (批示), not {a.unit_id!r}"
            return not_answerable(ctx.ruleset, ob.id, ob.escalation_level)
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
        self._catch_up()
        reason = self._reason(a, verb)
        # The client's size and SHA-256 are claims: the stored file is checked (patched in, so
        # Updates handled before it replay as they ran).
        if (
            reason is None
            and isinstance(a, ReportProgress | Complete)
            and a.evidence
            and self._baseline.patched(EVIDENCE_PATCH)
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
            account=a.account,
            role=a.role,
            token=self._token(),
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
        now = workflow.now()
        token = self._token()
        engine = engine_for(self._ctx)
        for e in events:
            self._events += [(ob, f) for f in engine.on_event(e, self._ctx.clock.plan_time(now), token)]
        self._changes.append(
            StateChange(
                key=f"{ob.id}#update:{token}",
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
                account=a.account,
                role=a.role,
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

    # -- update: the convener's 批示 ------------------------------------------------------------------

    @workflow.update
    async def instruct(self, a: Instruct) -> ObligationView:
        """The convener answers an escalation that reached it. Nothing about the work changes: the
        answer goes on the chain and, by the mirror, to the unit's and the office's inbox."""
        ob = await self._admit(a, "instruct")
        assert self._ctx is not None
        to = list(dict.fromkeys([ob.spec.unit_id, self._ctx.office]))
        return self._record(ob, a, kind=INSTRUCTED, detail={"level": ob.escalation_level, "to": to})

    @instruct.validator
    def _v_instruct(self, a: Instruct) -> None:
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
