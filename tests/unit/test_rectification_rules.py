"""责令整改 follow-ups read from the campaign's rule set (rules.rectification), on China's calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import unit_support

from models.obligation import ObligationState
from models.payloads import FiredAction
from models.rectification import OrderProgress, OrderState, RectificationOrder, rectification_workflow_id
from models.ruleset import ActionKind, Role, RuleSet
from models.time import Clock, at
from rules.calendar import WorkCalendar
from rules.engine import Engine
from rules.loading import parse_ruleset
from rules.rectification import OrderRules, follow_up, order_from_action, order_label, order_obligation, review_outcome

CLOCK = Clock.rehearse(plan_start=at(date(2021, 4, 30)), server_now=datetime(2030, 1, 1, tzinfo=UTC))
CID = "suixian-2021"
# The December 2021 bulletin's order for a town, published on the 3rd working day of January 2022
# (after the New Year holiday, 1–3 January), due 10 working days later.
ORDER = RectificationOrder(
    key=f"{CID}#rectify#2021-12-01#gaocheng",
    unit_id="gaocheng",
    due=date(2022, 1, 20),
    issued=at(date(2022, 1, 6), "10:00"),
    month=date(2021, 12, 1),
    overdue=4,
)


def progress(**kw: object) -> OrderProgress:
    base: dict[str, object] = {"due": ORDER.due, "assigned": ORDER.issued.date(), "unit_name": "高城镇"}
    return OrderProgress.model_validate({**base, **kw})


def follow_ups(rules: OrderRules, order: RectificationOrder, p: OrderProgress) -> list[tuple[str, str, str, int]]:
    ob = order_obligation(order, p, office="office")
    out = []
    for f in rules.scheduled(ob, until=date(2022, 12, 31)):
        a = rules.act(order, ob, f, clock=CLOCK, office="office", convener="convener")
        assert a is not None
        out.append((f.at.date().isoformat(), a.kind.value, a.recipient, a.level))
    return out


@pytest.fixture(scope="module")
def rules(ruleset: RuleSet, work_calendar: WorkCalendar) -> OrderRules:
    return OrderRules(Engine(ruleset, work_calendar))


def test_the_default_rules_remind_before_the_due_date_and_escalate_to_the_office_after(rules: OrderRules) -> None:
    assert follow_ups(rules, ORDER, progress()) == [
        ("2022-01-17", "remind", "gaocheng", 0),  # 3 working days before
        ("2022-01-21", "escalate", "office", 1),  # "to the lead": a monthly order's lead is the office
        ("2022-01-27", "escalate", "office", 2),
    ]
    assert rules.overdue_at(order_obligation(ORDER, progress(), office="office")) == at(date(2022, 1, 21))
    # The default rules escalate after the due date: no built-in rule is needed.
    assert rules.fallback is None
    assert rules.overdue(at(date(2022, 1, 21)), 0) == []


def test_follow_ups_are_worded_for_the_order_and_never_issue_a_numbered_notice(rules: OrderRules) -> None:
    ob = order_obligation(ORDER, progress(), office="office")
    actions = [
        rules.act(ORDER, ob, f, clock=CLOCK, office="office", convener="convener")
        for f in rules.scheduled(ob, until=date(2022, 12, 31))
    ]
    remind, _, to_office = actions
    assert remind is not None and to_office is not None
    assert remind.title == "整改催办：高城镇（2021年12月通报责令整改事项）"
    assert "2022年01月20日前整改到位" in remind.body and "还有3个工作日" in remind.body
    assert to_office.title == "整改督办（2级）：高城镇（2021年12月通报责令整改事项）"
    assert "逾期5个工作日仍未报告" in to_office.body
    assert not any(a.notice for a in actions if a is not None)  # the default rule's notice: true is not taken
    assert to_office.key == f"{ORDER.key}#r0#escalate-to-office@2022-01-27"


def test_a_rejected_round_follows_its_new_due_date_under_new_keys(rules: OrderRules) -> None:
    new_due = rules.rejected_due(date(2022, 1, 25))
    # 10 working days, with the Spring Festival's make-up Saturday and Sunday (29–30 Jan) and its
    # holiday (31 Jan – 6 Feb).
    assert new_due == date(2022, 2, 11)
    p = progress(state=OrderState.sent_back, round=1, due=new_due, assigned=date(2022, 1, 25))
    ob = order_obligation(ORDER, p, office="office")
    assert ob.state is ObligationState.acknowledged and ob.id == f"{ORDER.key}#r1"
    assert order_label(ORDER, 1) == "2021年12月通报责令整改事项（退回重报）"
    assert [d for d, *_ in follow_ups(rules, ORDER, p)] == ["2022-02-08", "2022-02-14", "2022-02-18"]


def test_a_resolved_order_fires_nothing(rules: OrderRules) -> None:
    ob = order_obligation(ORDER, progress(state=OrderState.resolved), office="office")
    firings = rules.scheduled(ob, until=date(2022, 12, 31))
    assert len(firings) == 3
    assert [rules.act(ORDER, ob, f, clock=CLOCK, office="office", convener="convener") for f in firings] == [None] * 3


def test_a_rule_set_that_escalates_nothing_gets_the_built_in_overdue_escalation(work_calendar: WorkCalendar) -> None:
    text = """
id: remind-only
version: 1
rules:
  - id: remind-before-due
    trigger: {kind: before_due, working_days: 3}
    when: state != "completed"
    action: {kind: remind, to: unit}
  - id: sign-for-it
    trigger: {kind: not_acknowledged, working_days: 2}
    action: {kind: remind, to: unit}
"""
    rules = OrderRules(Engine(parse_ruleset(text, path="remind-only.yaml"), work_calendar))
    ob = order_obligation(ORDER, progress(), office="office")
    # not_acknowledged is about obligations: an order is not signed for.
    assert [f.rule.id for f in rules.scheduled(ob, until=date(2022, 12, 31))] == ["remind-before-due"]
    [(engine, firing)] = rules.overdue(rules.overdue_at(ob), 0)
    action = rules.act(ORDER, ob, firing, engine=engine, clock=CLOCK, office="office", convener="convener")
    assert action is not None
    assert (action.kind, action.recipient, action.level, action.rule_id) == (
        ActionKind.escalate,
        "office",
        1,
        "rectification-overdue",
    )
    assert action.key == f"{ORDER.key}#r0#rectification-overdue@rectification_overdue:r0"
    assert action.facts["days_overdue"] == 1


def test_a_rule_on_the_overdue_event_is_the_rule_set_s_own(work_calendar: WorkCalendar) -> None:
    text = """
id: on-event
version: 1
rules:
  - id: overdue-to-convener
    trigger: {kind: event, event: rectification_overdue}
    action: {kind: escalate, to: convener, level: 3}
"""
    rules = OrderRules(Engine(parse_ruleset(text, path="on-event.yaml"), work_calendar))
    assert rules.fallback is None
    ob = order_obligation(ORDER, progress(), office="office")
    [(engine, firing)] = rules.overdue(rules.overdue_at(ob), 0)
    action = rules.act(ORDER, ob, firing, engine=engine, clock=CLOCK, office="office", convener="convener")
    assert action is not None and (action.recipient, action.level) == ("convener", 3)


def test_an_order_from_a_rule_escalates_to_its_task_s_lead(rules: OrderRules) -> None:
    ob_id = f"{CID}/rollout/gaocheng/T03-basic"
    fired = FiredAction(
        key=f"{ob_id}#rectify-late@2022-01-10",
        kind=ActionKind.rectify,
        rule_id="rectify-late",
        obligation_id=ob_id,
        unit_id="gaocheng",
        recipient="gaocheng",
        role=Role.unit,
        title="责令整改：高城镇 整治城镇秩序",
        body="…",
        due=date(2021, 12, 31),
        rectify_due=date(2022, 1, 24),
        plan_time=at(date(2022, 1, 10)),
        server_time=CLOCK.server_time(at(date(2022, 1, 10))),
        facts={"days_overdue": 5},
    )
    order = order_from_action(fired, lead="zhujianju")
    assert (order.source, order.obligation_id, order.overdue, order.due) == (
        "rule:rectify-late",
        ob_id,
        5,
        date(2022, 1, 24),
    )
    assert order_label(order) == "责令整改事项"
    p = progress(due=order.due, assigned=date(2022, 1, 10))
    assert [(k, to) for _, k, to, _ in follow_ups(rules, order, p)] == [
        ("remind", "gaocheng"),
        ("escalate", "zhujianju"),
        ("escalate", "office"),
    ]
    assert (
        rectification_workflow_id(CID, order.key) == f"{CID}/rectify/rollout/gaocheng/T03-basic#rectify-late@2022-01-10"
    )
    assert rectification_workflow_id(CID, ORDER.key) == f"{CID}/rectify/2021-12-01#gaocheng"
    with pytest.raises(ValueError, match="not a rectification order"):
        order_from_action(fired.model_copy(update={"kind": ActionKind.remind}))


def test_a_late_wake_up_judges_each_follow_up_on_the_facts_the_earlier_ones_left(work_calendar: WorkCalendar) -> None:
    """A wake-up long after the due date (a worker down, a fast drill clock) catches up on the
    lead's, the office's and the convener's escalations at once. The convener's rule asks
    `escalation_level >= 2`: it must see the office's level-2 escalation of the same batch. Taken
    once per batch (the old way), the facts said level 0: the convener's escalation was marked
    fired and never sent."""
    path = unit_support.ROOT / "rules" / "rulesets" / "suixian-default.yaml"
    rules = OrderRules(Engine(parse_ruleset(path.read_text(encoding="utf-8"), path=str(path)), work_calendar))
    late = at(date(2022, 6, 1))

    def catch_up(per_firing: bool) -> list[tuple[str, int]]:
        r = follow_up(
            rules,
            ORDER,
            progress(),
            now=late,
            until=date(2022, 12, 31),
            since=None,
            clock=CLOCK,
            office="office",
            convener="convener",
            facts_per_firing=per_firing,
        )
        assert r.newly_overdue and r.progress.state is OrderState.escalated
        return [(a.recipient, a.level) for a in r.actions if a.kind is ActionKind.escalate]

    assert catch_up(True) == [("office", 1), ("office", 2), ("convener", 3)]
    assert ("convener", 3) not in catch_up(False)


@pytest.mark.parametrize(
    ("accept", "round", "outcome"),
    [
        (True, 0, OrderState.resolved),
        (True, 2, OrderState.resolved),
        (False, 0, OrderState.sent_back),  # the first failing report: a new round
        (False, 1, OrderState.sent_back),  # the second: the last send-back
        (False, 2, OrderState.rejected),  # the third, after two send-backs: closed as 整改不到位
    ],
)
def test_a_failing_report_is_sent_back_until_the_rule_sets_send_backs_are_used_then_rejected(
    accept: bool, round: int, outcome: OrderState
) -> None:
    assert review_outcome(accept=accept, round=round, send_backs=2) is outcome
    assert RuleSet.model_fields["rectification"].default.send_backs == 2
    assert OrderState.rejected.closed and OrderState.resolved.closed
    assert not OrderState.rejected.awaiting_report and OrderState.sent_back.awaiting_report


def test_an_order_carried_over_from_before_reads_its_old_rejected_as_the_sent_back_round() -> None:
    # Before the final rejection, "rejected" named the round a send-back opened; a rejected
    # order now ends its workflow, so it is never carried over continue-as-new.
    assert progress(state="rejected", round=1).state is OrderState.sent_back
    assert progress(state="sent_back", round=1).state is OrderState.sent_back
