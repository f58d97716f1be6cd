"""责令整改: one workflow per rectification order, from its issue to the office's acceptance.

The order has a due date. Before it, the campaign's rule set reminds the unit; after it, the rule
set escalates (rules.rectification reads the engine for orders). When the due date passes with no
report, the order is `escalated` and the event `rectification_overdue` is recorded and fired. The
unit answers with the `report` Update (its 整改报告, with references to evidence files); the office
`review`s it: accepted resolves the order; not accepted (with reasons) sends it back for a new
round with a new due date, or, once the rule set's `rectification.send_backs` are used, closes
it rejected (整改不到位). Every step is mirrored to `rectification_orders` and recorded on the
audit chain; the monthly bulletin reads the row's state, so an unresolved order shows in the
next bulletin.

Who starts it: any parent that issued an order, through `workflows.orders.start_orders` (the
MonthlyWorkflow for the bulletin's laggards, a unit workflow for its rules' orders). Orders are
abandoned by their parent on purpose: an order outlives the month that issued it and the parent's
continue-as-new; it ends when resolved or rejected, or when the campaign ends (at the end of its
last day, as unit workflows do), its row left in its last state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from temporalio import workflow

from models.obligation import Obligation
from models.payloads import (
    Act,
    CampaignContext,
    EngineCost,
    FiredAction,
    OpenOrder,
    RectificationInput,
    RectificationStep,
    RulesChange,
)
from models.rectification import (
    OpenedOrder,
    OrderNotice,
    OrderProgress,
    OrderState,
    RectificationOrder,
    RectificationView,
    ReportRectification,
    ReviewRectification,
)
from models.time import CST, at
from rules.rectification import OrderRules, follow_up, order_label, order_obligation, review_outcome
from workflows.common import (
    HISTORY_LIMIT,
    engine_for,
    own_cost,
    plan_now,
    provenance,
    record_refusal,
    refuse,
    write_effect,
)
from workflows.pokes import poke, pushes
from workflows.rectification_answers import OrderAnswers

FACTS_PATCH = "rectification-facts-per-firing"
"""Each follow-up firing of a batch sees the facts the earlier ones left (histories before: per batch)."""
LAST_LOOK_PATCH = "rectification-last-look"
"""An order whose workflow wakes after the campaign's end acts on what fell due before it."""
FINAL_REJECTION_PATCH = "rectification-final-rejection"
"""After the rule set's send-backs a failing report closes the order rejected (before: sent back)."""


@workflow.defn
class RectificationWorkflow(OrderAnswers):
    """An order's loop, its unit's 整改报告 and the office's review; the convener's 批示 is
    `OrderAnswers`'."""

    def __init__(self) -> None:
        self._ctx: CampaignContext | None = None
        self._order: RectificationOrder | None = None
        self._p: OrderProgress | None = None
        self._changed = False
        self._activities = 0

    # -- the loop ----------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: RectificationInput) -> EngineCost:
        ctx = self._ctx = inp.context
        order = self._order = inp.order
        if inp.carried is not None:
            self._p = inp.carried
        else:
            now = workflow.now()
            opening = OpenOrder(
                provenance=provenance(ctx),
                order=order,
                workflow_id=workflow.info().workflow_id,
                plan_time=ctx.clock.plan_time(now),
                server_time=now,
                issued_server_time=ctx.clock.server_time(order.issued),
            )
            opened: OpenedOrder = await write_effect(Act.rectification_open, opening, result_type=OpenedOrder)
            self._activities += 1
            self._p = OrderProgress(
                due=order.due,
                assigned=order.issued.astimezone(CST).date(),
                unit_name=opened.unit_name,
                unit_kind=opened.unit_kind,
            )
        closes = at(ctx.ends + timedelta(days=1), "00:00")
        while True:
            # Cleared before deciding, so that an Update arriving meanwhile wakes the next wait.
            self._changed = False
            ctx = self._ctx
            if self._p.state.closed:  # accepted, or closed as rejected
                break
            now = plan_now(ctx)
            if now >= closes:  # the campaign is over: the row keeps the order's last state
                # A wake-up that came after the end (a worker down, a fast drill clock) first does
                # what fell due before it.
                if self._p.state.awaiting_report and workflow.patched(LAST_LOOK_PATCH):
                    await self._follow_up(ctx, closes)
                break
            upcoming = await self._follow_up(ctx, now) if self._p.state.awaiting_report else None
            if workflow.info().get_current_history_length() > HISTORY_LIMIT:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    RectificationInput(
                        context=self._ctx,
                        order=order,
                        carried=self._p,
                        cost=self._cost(inp).add(EngineCost(continued_as_new=1)),
                    )
                )
            delay = ctx.clock.server_time(min(upcoming or closes, closes)) - workflow.now()
            if delay <= timedelta(0):
                continue
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._changed, timeout=delay)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._cost(inp)

    def _cost(self, inp: RectificationInput) -> EngineCost:
        return own_cost(self._activities, inp.cost)

    def _rules(self, ctx: CampaignContext) -> OrderRules:
        return OrderRules(engine_for(ctx))

    def _obligation(self) -> Obligation:
        assert self._ctx is not None and self._order is not None and self._p is not None
        return order_obligation(self._order, self._p, office=self._ctx.office)

    async def _follow_up(self, ctx: CampaignContext, now: datetime) -> datetime | None:
        """Act on what the rules say is due by now in the current round; return the next instant."""
        assert self._order is not None and self._p is not None
        order = self._order
        r = follow_up(
            self._rules(ctx),
            order,
            self._p,
            now=now,
            until=ctx.ends,
            since=ctx.rules_since,
            clock=ctx.clock,
            office=ctx.office,
            convener=ctx.convener,
            facts_per_firing=workflow.patched(FACTS_PATCH),
        )
        p = self._p = r.progress
        if r.newly_overdue:
            await self._step(
                "overdue",
                actor="rule:rectification_overdue",
                event_key=f"{order.key}#overdue#r{p.round}",
                actions=r.actions,
                plan_time=r.overdue_at,
            )
        elif r.actions:
            await self._step("follow_up", actor="rules", actions=r.actions, plan_time=r.actions[-1].plan_time)
        return r.upcoming

    async def _step(
        self,
        step: str,
        *,
        actor: str,
        event_key: str | None = None,
        text: str = "",
        evidence: Sequence[str] = (),
        reason: str = "",
        actions: Sequence[FiredAction] = (),
        notices: Sequence[OrderNotice] = (),
        plan_time: datetime | None = None,
        who: tuple[str | None, str | None] = (None, None),
        level: int | None = None,
    ) -> None:
        """Mirror the order's state and record the step (and its follow-ups) in one activity;
        `who`: the account and role an Update carried; `level`: the one a 批示 answered."""
        assert self._ctx is not None and self._order is not None and self._p is not None
        ctx, p = self._ctx, self._p
        p.seq += 1
        now = workflow.now()
        when = plan_time or ctx.clock.plan_time(now)
        step_input = RectificationStep(
            provenance=provenance(ctx),
            order_key=self._order.key,
            unit_id=self._order.unit_id,
            seq=p.seq,
            step=step,
            state=p.state,
            round=p.round,
            due=p.due,
            actor=actor,
            event_key=event_key,
            text=text,
            evidence=list(evidence),
            reason=reason,
            actions=list(actions),
            notices=list(notices),
            quiet_hours=ctx.ruleset.quiet_hours,
            plan_time=when,
            server_time=ctx.clock.server_time(when),
            account=who[0],
            role=who[1],
            level=level,
        )
        await write_effect(Act.rectification_step, step_input)
        self._activities += 1
        if ctx.push and (notices or pushes(actions)):
            await poke(ctx)

    @workflow.signal
    def install_rules(self, change: RulesChange) -> None:
        """A rule set installed on the campaign applies to this order's future follow-ups."""
        if self._ctx is not None:
            self._ctx = self._ctx.model_copy(
                update={"ruleset": change.ruleset, "ruleset_hash": change.ruleset_hash, "rules_since": change.since}
            )
            self._changed = True

    # -- updates: 整改报告 and the office's review --------------------------------------------------

    def _ready(self) -> None:
        if self._p is None:
            raise refuse("this rectification order is still opening: try again in a moment")

    async def _admit(
        self,
        verb: str,
        actor: str,
        reason: str | None,
        text: str = "",
        who: tuple[str | None, str | None] = (None, None),
    ) -> None:
        """Nothing, or record the refused attempt and fail the Update (see UnitWorkflow._admit)."""
        if reason is None:
            return
        assert self._ctx is not None and self._order is not None
        error = await record_refusal(
            self._ctx,
            verb=verb,
            subject=self._order.key,
            known=False,  # an order, not an obligation: the audit row names it in its payload
            actor=actor,
            reason=reason,
            text=text,
            account=who[0],
            role=who[1],
        )
        self._activities += 1
        raise error

    def _update_key(self, what: str) -> str:
        assert self._order is not None
        info = workflow.current_update_info()
        return f"{self._order.key}#{what}:{info.id if info else workflow.now().isoformat()}"

    @workflow.update
    async def report(self, r: ReportRectification) -> RectificationView:
        assert self._ctx is not None and self._order is not None and self._p is not None
        p, order = self._p, self._order
        reason = None
        if r.unit_id != order.unit_id:
            reason = f"unit {r.unit_id!r} may not report on {order.key}: it was ordered to {order.unit_id!r}"
        elif p.state is OrderState.reported:
            reason = f"{order.key} is already reported and awaits the office's review"
        elif p.state.closed:
            reason = f"{order.key} is already {p.state.value}"
        await self._admit("rectify.report", r.unit_id, reason, r.text, (r.account, r.role))
        p.state = OrderState.reported
        p.report_text = r.text
        p.evidence = list(r.evidence)
        self._changed = True
        await self._step(
            "reported",
            actor=r.unit_id,
            event_key=self._update_key("report"),
            text=r.text,
            evidence=r.evidence,
            who=(r.account, r.role),
            notices=[
                OrderNotice(
                    key=self._update_key("report") + "#office",
                    recipient=self._ctx.office,
                    title=f"整改报告待审核：{p.unit_name}（{order_label(order, p.round)}）",
                    body=f"{p.unit_name}已报送整改报告：{r.text}",
                )
            ],
        )
        return self._view()

    @report.validator
    def _v_report(self, r: ReportRectification) -> None:
        self._ready()

    @workflow.update
    async def review(self, r: ReviewRectification) -> RectificationView:
        assert self._ctx is not None and self._order is not None and self._p is not None
        ctx, p, order = self._ctx, self._p, self._order
        today = plan_now(ctx).date()
        reason = None
        if r.reviewer != ctx.office:
            reason = f"only the office ({ctx.office!r}) reviews rectification reports, not {r.reviewer!r}"
        elif p.state.closed:
            reason = f"{order.key} is already {p.state.value}"
        elif p.state is not OrderState.reported:
            reason = f"{order.key} has not been reported ({p.state.value}): there is no report to review"
        elif r.new_due is not None and r.new_due <= today:
            reason = f"the new due date {r.new_due} must be after today ({today})"
        await self._admit("rectify.review", r.reviewer, reason, r.reason, (r.account, r.role))
        label = order_label(order, p.round)
        key = self._update_key("review")
        # Histories from before the final rejection: every failed report was sent back.
        send_backs = ctx.ruleset.rectification.send_backs if workflow.patched(FINAL_REJECTION_PATCH) else p.round + 1
        outcome = review_outcome(accept=r.accept, round=p.round, send_backs=send_backs)
        if outcome is OrderState.resolved:
            p.state = outcome
            title = f"整改验收通过：{p.unit_name}（{label}）"
            body = f"{p.unit_name}报送的整改报告已审核通过，{label}办结。{r.reason}".strip()
        elif outcome is OrderState.rejected:
            p.state = outcome
            title = f"整改不到位：{p.unit_name}（{label}）"
            body = (
                f"{p.unit_name}报送的整改报告经{p.round}次退回后仍未通过审核：{r.reason}。"
                f"{label}按整改不到位办结，记入督办台账和考核。"
            )
        else:
            p.state = OrderState.sent_back
            p.round += 1
            p.due = r.new_due or self._rules(ctx).rejected_due(today)
            p.assigned = today
            p.reminders = p.escalation_level = 0
            p.fired = []
            title = f"整改报告退回：{p.unit_name}（{label}）"
            body = (
                f"{p.unit_name}报送的整改报告未通过审核：{r.reason}。请于{p.due:%Y年%m月%d日}前重新整改到位并书面报告。"
            )
        p.review_reason = r.reason
        self._changed = True
        await self._step(
            {OrderState.resolved: "accepted", OrderState.sent_back: "sent_back"}.get(outcome, "rejected"),
            actor=r.reviewer,
            event_key=key,
            reason=r.reason,
            who=(r.account, r.role),
            notices=[OrderNotice(key=f"{key}#unit", recipient=order.unit_id, title=title, body=body)],
        )
        return self._view()

    @review.validator
    def _v_review(self, r: ReviewRectification) -> None:
        self._ready()

    # -- queries -----------------------------------------------------------------------------------

    @workflow.query
    def view(self) -> RectificationView:
        return self._view()

    def _view(self) -> RectificationView:
        assert self._order is not None and self._p is not None
        return RectificationView(
            key=self._order.key,
            workflow_id=workflow.info().workflow_id,
            unit_id=self._order.unit_id,
            state=self._p.state,
            due=self._p.due,
            round=self._p.round,
            report_text=self._p.report_text,
            review_reason=self._p.review_reason,
            office=self._ctx.office if self._ctx else "",
        )
