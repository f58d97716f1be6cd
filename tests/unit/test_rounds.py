"""Papers per unit (`rules.rounds`): one 督办通知 and one 责令整改 per unit per round, every action
still on its paper; an order's measure climbs with repeated non-response; the grace at launch."""

from __future__ import annotations

from datetime import date

import pytest

from models.payloads import FiredAction
from models.plan import Plan
from models.rectification import OrderState
from models.ruleset import ActionKind, Role, RuleSet
from models.time import Clock, at
from rules import calendar as cal
from rules.launch import grace_until
from rules.obligations import expand, graced
from rules.rectification import order_from_round
from rules.rounds import PriorOrder, audit_keys, notice_rounds, order_level, order_rounds, raised_level

CID = "c"
CLOCK = Clock()


def act(unit: str, task: str, kind: ActionKind, *, notice: bool = False, rule: str = "r") -> FiredAction:
    ob = f"{CID}/rollout/{unit}/{task}"
    when = at(date(2022, 1, 10))
    return FiredAction(
        key=f"{ob}#{rule}@2022-01-10T09:00",
        kind=kind,
        rule_id=rule,
        obligation_id=ob,
        unit_id=unit,
        recipient="office",
        role=Role.office,
        level=2,
        notice=notice,
        title=f"{kind} {task}",
        body="…",
        due=date(2021, 12, 31),
        rectify_due=date(2022, 1, 24) if kind is ActionKind.rectify else None,
        plan_time=when,
        server_time=CLOCK.server_time(when),
        facts={"days_overdue": 5},
    )


BATCH = [
    act("west", "T01", ActionKind.escalate, notice=True),
    act("west", "T02", ActionKind.escalate, notice=True),
    act("west", "T02", ActionKind.remind, rule="remind"),
    act("east", "T01", ActionKind.escalate, notice=True),
    act("west", "T03", ActionKind.escalate),  # an escalation without a notice
    act("west", "T01", ActionKind.rectify, rule="rectify"),
    act("west", "T02", ActionKind.rectify, rule="rectify"),
]


def test_one_notice_and_one_order_per_unit_list_every_obligation_of_the_round() -> None:
    notices = notice_rounds(BATCH)
    assert [(r.unit_id, r.obligation_ids) for r in notices] == [
        ("west", [f"{CID}/rollout/west/T01", f"{CID}/rollout/west/T02"]),
        ("east", [f"{CID}/rollout/east/T01"]),
    ]
    # The first action's own notice key, as an escalation's notice had before: papers code reads it.
    assert notices[0].key == f"{BATCH[0].key}#notice"
    [order] = order_rounds(BATCH)
    assert order.key == f"{CID}#rectify#rectify@2022-01-10T09:00#west"
    assert order.obligation_ids == [f"{CID}/rollout/west/T01", f"{CID}/rollout/west/T02"]
    rectification = order_from_round(order, leads={i: "roads" for i in order.obligation_ids})
    assert (rectification.items, rectification.lead, rectification.due) == (
        order.obligation_ids,
        "roads",
        date(2022, 1, 24),
    )
    assert order_from_round(order, leads={order.obligation_ids[0]: "roads"}).lead is None  # leads differ: the office


def test_every_action_keeps_its_audit_row_and_each_paper_has_one() -> None:
    grouped = audit_keys(BATCH, per_unit=True)
    assert {a.key for a in BATCH} <= grouped
    assert grouped - {a.key for a in BATCH} == {r.key for r in notice_rounds(BATCH)} | {
        r.key for r in order_rounds(BATCH)
    }
    # As batches were delivered before: a notice per escalation, the rectify actions their own orders.
    old = audit_keys(BATCH, per_unit=False)
    assert old == {a.key for a in BATCH} | {f"{a.key}#notice" for a in BATCH if a.notice}


def prior(state: OrderState, level: int = 1, unanswered: bool = False) -> PriorOrder:
    return PriorOrder(state, level, unanswered)


@pytest.mark.parametrize(
    ("orders", "level"),
    [
        ([], 1),
        ([prior(OrderState.resolved)], 1),  # answered and accepted: the next is a first again
        ([prior(OrderState.resolved, unanswered=True)], 2),  # answered only after its due date
        ([prior(OrderState.escalated, unanswered=True)], 2),  # 通报批评
        ([prior(OrderState.resolved, unanswered=True), prior(OrderState.escalated, 2, True)], 3),  # 约谈
        ([prior(OrderState.escalated, 3, True)] * 3, 3),  # never past the last measure
        ([prior(OrderState.sent_back, unanswered=True)], 2),
    ],
)
def test_repeated_non_response_raises_the_measure(orders: list[PriorOrder], level: int) -> None:
    assert order_level(orders, measures=3) == level


@pytest.mark.parametrize(
    ("state", "overdue", "level", "raised"),
    [
        (OrderState.open, False, 1, 1),  # ordered again before its due date: items added, same rung
        (OrderState.reported, True, 1, 1),  # it answered: the report awaits review
        (OrderState.open, True, 1, 2),  # not answering: 责令整改 → 通报批评
        (OrderState.escalated, True, 2, 3),  # → 约谈
        (OrderState.escalated, True, 3, 3),  # the last rung stays
        (OrderState.sent_back, True, 1, 2),  # sent back, and the new due date passed unanswered
    ],
)
def test_an_open_order_ordered_again_climbs_only_when_not_answered(
    state: OrderState, overdue: bool, level: int, raised: int
) -> None:
    assert raised_level(level=level, state=state, overdue=overdue, measures=3) == raised


def test_the_measures_are_the_rule_sets(ruleset: RuleSet) -> None:
    assert ruleset.rectification.measures == ("责令整改", "通报批评", "约谈")
    assert order_level([prior(OrderState.escalated, unanswered=True)] * 5, measures=2) == 2


def test_work_due_at_launch_gets_the_offices_date_on_the_record(plan: Plan, ruleset: RuleSet) -> None:
    calendar = cal.WorkCalendar(cal.build(range(2021, 2024)))
    until = grace_until(ruleset, calendar.data, plan.issued)
    # 2021-04-30 + 10 official working days, past the May Day holiday (2021-05-01…05, 05-08 worked).
    assert until == date(2021, 5, 18)
    plain = {o.id: o.due for o in expand(plan, CID)}
    moved = {o.id: o.due for o in expand(plan, CID, grace_until=until)}
    changed = {i for i in plain if plain[i] != moved[i]}
    assert len(changed) == 19 and all(moved[i] == until for i in changed)  # the towns' 工作方案
    assert {i for ids in graced(plan, CID, until).values() for i in ids} == changed
    none = ruleset.model_copy(update={"launch": ruleset.launch.model_copy(update={"grace_working_days": 0})})
    assert grace_until(none, calendar.data, plan.issued) is None


def test_rule_sets_that_do_not_name_the_new_settings_keep_their_hash(ruleset: RuleSet) -> None:
    again = RuleSet.model_validate(
        {k: v for k, v in ruleset.model_dump().items() if k not in ("launch", "rectification")}
    )
    assert again.digest() == ruleset.digest()
    other = ruleset.model_copy(update={"launch": ruleset.launch.model_copy(update={"grace_working_days": 3})})
    assert other.digest() != ruleset.digest()
