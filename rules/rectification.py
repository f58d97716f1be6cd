"""责令整改 follow-ups: what the campaign's rule set says about an order, asked of the pure engine.

An order is treated as a small synthetic obligation (its unit, its due date, assigned when its
round began, its "lead" the task's lead unit or else the office), so the rule set's reminders
before a due date and escalations after it apply to orders as they do to obligations. Only
triggers counted from the due date apply (before_due, at_due, after_due: not_acknowledged,
monthly and milestone triggers are about obligations), and only remind and escalate actions: an
order is itself the formal paper, so its follow-ups issue no numbered 督办通知 and no order on the
order.

When the due date passes unanswered (at the rule set's time of day on the first working day after
it) the order is overdue: the event `rectification_overdue` fires the rule set's rules on it. A
rule set with no escalation that reaches orders at all (no at_due/after_due escalate rule, no rule
on the event) gets the built-in `rectification-overdue` rule: escalate to the office, level 1. So
an unanswered order is always escalated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from models.obligation import Obligation, ObligationSpec, ObligationState, UnitRole
from models.payloads import FiredAction
from models.rectification import OrderProgress, OrderState, RectificationOrder
from models.ruleset import Action, ActionKind, Event, Role, Rule, RuleSet, Trigger, TriggerKind
from models.time import CST, Clock, at
from rules.engine import Engine, Firing
from rules.rounds import Round

FOLLOW_UP_TRIGGERS = frozenset({TriggerKind.before_due, TriggerKind.at_due, TriggerKind.after_due})
FOLLOW_UP_ACTIONS = frozenset({ActionKind.remind, ActionKind.escalate})

OVERDUE_RULE = Rule(
    id="rectification-overdue",
    description="整改逾期未报告，报办公室督办",
    trigger=Trigger(kind=TriggerKind.event, event=Event.rectification_overdue),
    action=Action(kind=ActionKind.escalate, to=Role.office, level=1),
)
"""Used only when the campaign's rule set escalates nothing about orders."""

_STATE_FACT = {
    OrderState.open: ObligationState.assigned,
    OrderState.escalated: ObligationState.assigned,
    OrderState.sent_back: ObligationState.acknowledged,
    OrderState.rejected: ObligationState.withdrawn,  # closed: nothing follows it up
    OrderState.reported: ObligationState.in_progress,
    OrderState.resolved: ObligationState.completed,
}
"""The `state` fact a rule condition sees for an order (the default rules ask `state != "completed"`)."""


def review_outcome(*, accept: bool, round: int, send_backs: int) -> OrderState:
    """The office's review decides the order: resolved; sent back for a new round while the rule
    set's send-backs last (`round` of them used so far); after them, closed as rejected."""
    if accept:
        return OrderState.resolved
    return OrderState.sent_back if round < send_backs else OrderState.rejected


def order_label(order: RectificationOrder, round: int = 0) -> str:
    """How notices name the order: 2021年12月通报责令整改事项 (退回重报 after a rejection)."""
    what = f"{order.month:%Y年%m月}通报责令整改事项" if order.source == "monthly" and order.month else "责令整改事项"
    return f"{what}（退回重报）" if round else what


def order_obligation(order: RectificationOrder, progress: OrderProgress, *, office: str) -> Obligation:
    """The order's current round as the obligation the engine reasons about."""
    spec = ObligationSpec(
        id=f"{order.key}#r{progress.round}",
        phase=order.phase,
        unit_id=order.unit_id,
        unit_name=progress.unit_name,
        unit_kind=progress.unit_kind,
        role=UnitRole.responsible,
        title=order_label(order, progress.round),
        lead=order.lead or office,
        assigned=progress.assigned,
        due=progress.due,
    )
    return Obligation(
        spec=spec,
        state=_STATE_FACT[progress.state],
        reminders=progress.reminders,
        escalation_level=progress.escalation_level,
        fired=list(progress.fired),
    )


def order_from_action(action: FiredAction, *, lead: str | None = None) -> RectificationOrder:
    """A rule's 责令整改 (ActionKind.rectify, written by `deliver`) as an order to follow up."""
    if action.kind is not ActionKind.rectify or action.rectify_due is None:
        raise ValueError(f"{action.key} is not a rectification order")
    return RectificationOrder(
        key=action.key,
        unit_id=action.unit_id,
        due=action.rectify_due,
        issued=action.plan_time,
        month=action.plan_time.astimezone(CST).date().replace(day=1),
        overdue=int(action.facts.get("days_overdue", 0)),
        source=f"rule:{action.rule_id}",
        obligation_id=action.obligation_id,
        lead=lead,
        reason=action.title,
    )


def order_from_round(r: Round, *, leads: Mapping[str, str]) -> RectificationOrder:
    """A unit's round of a rule's 责令整改 (`rules.rounds.order_rounds`) as one order to follow up:
    its items, the first action's due date; escalating "to the lead" goes to the items' lead when
    they share one, else to the office."""
    first = r.actions[0]
    if first.rectify_due is None:
        raise ValueError(f"{first.key} is not a rectification order")
    ids = r.obligation_ids
    shared = {leads.get(i) for i in ids}
    return RectificationOrder(
        key=r.key,
        unit_id=r.unit_id,
        due=first.rectify_due,
        issued=first.plan_time,
        month=first.plan_time.astimezone(CST).date().replace(day=1),
        overdue=len(ids),
        source=f"rule:{first.rule_id}",
        obligation_id=ids[0] if len(ids) == 1 else None,
        lead=shared.pop() if len(shared) == 1 else None,
        reason=first.title if len(ids) == 1 else f"{len(ids)}项任务逾期未办结",
        items=ids,
    )


class OrderRules:
    """The campaign's engine, read for orders."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        rules = engine.ruleset.rules
        escalates = any(
            r.action.kind is ActionKind.escalate
            and (
                r.trigger.kind in (TriggerKind.at_due, TriggerKind.after_due)
                or r.trigger.event is Event.rectification_overdue
            )
            for r in rules
        )
        self.fallback: Engine | None = None
        if not escalates:
            fallback = RuleSet(
                id="rectification-default", version=1, time_of_day=engine.ruleset.time_of_day, rules=(OVERDUE_RULE,)
            )
            self.fallback = Engine(fallback, engine.calendar)

    def rejected_due(self, today: date) -> date:
        """A sent-back report's new due date when the office names none: the rule set's
        rectification working days from today, as for a new order."""
        return self.engine.calendar.shift(today, self.engine.ruleset.monthly.rectification_working_days)

    def overdue_at(self, ob: Obligation) -> datetime:
        """When the due date has passed: the first working day after it, at the rules' time of day."""
        return at(self.engine.calendar.shift(self.engine.due_date(ob), 1), self.engine.ruleset.time_of_day)

    def scheduled(self, ob: Obligation, *, until: date, since: datetime | None = None) -> list[Firing]:
        """The rule set's reminders and escalations for this round, in plan-time order."""
        return [
            f
            for f in self.engine.firings(ob, until=until, since=since)
            if f.rule.trigger.kind in FOLLOW_UP_TRIGGERS and f.rule.action.kind in FOLLOW_UP_ACTIONS
        ]

    def overdue(self, when: datetime, round: int) -> list[tuple[Engine, Firing]]:
        """The firings of `rectification_overdue` for a round, each with the engine that decides it."""
        token = f"r{round}"
        out = [
            (self.engine, f)
            for f in self.engine.on_event(Event.rectification_overdue, when, token)
            if f.rule.action.kind in FOLLOW_UP_ACTIONS
        ]
        if self.fallback is not None:
            out += [(self.fallback, f) for f in self.fallback.on_event(Event.rectification_overdue, when, token)]
        return out

    def act(
        self,
        order: RectificationOrder,
        ob: Obligation,
        firing: Firing,
        *,
        engine: Engine | None = None,
        clock: Clock,
        office: str,
        convener: str,
    ) -> FiredAction | None:
        """The follow-up a firing takes now, worded for an order, or None when its condition is false."""
        action = (engine or self.engine).act(ob, firing, clock=clock, office=office, convener=convener)
        if action is None:
            return None
        title, body = _wording(order, ob, action)
        return action.model_copy(update={"notice": False, "title": title, "body": body})


def _wording(order: RectificationOrder, ob: Obligation, a: FiredAction) -> tuple[str, str]:
    unit, what = ob.spec.unit_name, ob.spec.title
    when = f"{a.due:%Y年%m月%d日}"
    if a.kind is ActionKind.remind:
        left = a.facts.get("days_left", 0)
        return (
            f"整改催办：{unit}（{what}）",
            f"{unit}：{what}应于{when}前整改到位并书面报告整改情况，还有{left}个工作日，请抓紧整改并及时报告。",
        )
    overdue = a.facts.get("days_overdue", 0)
    late = f"现已逾期{overdue}个工作日仍未报告" if overdue else "今日到期，尚未报告"
    reason = f"（{order.reason}）" if order.reason else ""
    return (
        f"整改督办（{a.level}级）：{unit}（{what}）",
        f"{unit}{what}{reason}应于{when}前整改到位并书面报告，{late}，请督促落实。",
    )


class FollowUp(BaseModel):
    """What one wake-up of an order's workflow does: the actions due by then, in plan-time order,
    the order's progress after them, and when to look again."""

    model_config = ConfigDict(frozen=True)

    progress: OrderProgress
    actions: list[FiredAction]
    newly_overdue: bool
    overdue_at: datetime
    upcoming: datetime | None


def follow_up(
    rules: OrderRules,
    order: RectificationOrder,
    progress: OrderProgress,
    *,
    now: datetime,
    until: date,
    since: datetime | None,
    clock: Clock,
    office: str,
    convener: str,
    facts_per_firing: bool = True,
) -> FollowUp:
    """The firings of the current round due by `now` (a wake-up may come late and catch up on
    several), each judged on the facts as the earlier ones left them: the convener's escalation
    (`escalation_level >= 2`) sees the office's escalation fired in the same batch.
    `facts_per_firing=False` is the old behaviour (facts taken once per batch), kept for histories
    recorded before the `rectification-facts-per-firing` patch."""
    p = progress.model_copy(deep=True)
    ob = order_obligation(order, p, office=office)
    due: list[tuple[Engine | None, Firing]] = []
    upcoming: datetime | None = None
    for f in rules.scheduled(ob, until=until, since=since):
        if f.occurrence in p.fired:
            continue
        if f.at <= now:
            due.append((None, f))
        elif upcoming is None or f.at < upcoming:
            upcoming = f.at
    overdue_at = rules.overdue_at(ob)
    pending_overdue = p.round not in p.overdue_rounds
    newly_overdue = pending_overdue and overdue_at <= now
    if newly_overdue:
        due += [(e, f) for e, f in rules.overdue(overdue_at, p.round)]
    elif pending_overdue and (upcoming is None or overdue_at < upcoming):
        upcoming = overdue_at
    actions: list[FiredAction] = []
    for engine, f in sorted(due, key=lambda x: (x[1].at, x[1].rule.id)):
        p.fired.append(f.occurrence)
        if facts_per_firing:
            ob = order_obligation(order, p, office=office)
        a = rules.act(order, ob, f, engine=engine, clock=clock, office=office, convener=convener)
        if a is None:
            continue
        actions.append(a)
        if a.kind is ActionKind.remind:
            p.reminders += 1
        else:
            p.escalation_level = max(p.escalation_level, a.level)
    if newly_overdue:
        p.overdue_rounds.append(p.round)
        p.state = OrderState.escalated
    return FollowUp(progress=p, actions=actions, newly_overdue=newly_overdue, overdue_at=overdue_at, upcoming=upcoming)
