"""Rehearsals' simulated units answer 督办通知 and 责令整改 as a county's do (`rules.simulated_answers`)."""

from __future__ import annotations

from collections import Counter
from datetime import date

from models.plan import Plan
from models.ruleset import RuleSet
from rules import calendar as cal
from rules.launch import grace_until
from rules.obligations import expand
from rules.simulated_answers import ANSWER_TEXT, REPLY_DAYS, order_answer_day, order_review
from rules.simulation import never_answering, notice_after, schedule

CALENDAR = cal.WorkCalendar(cal.build(range(2021, 2024)))


def plan_days(plan: Plan, ruleset: RuleSet, cid: str, *, answers: bool) -> dict[str, list[tuple[date, str, str, str]]]:
    until = grace_until(ruleset, CALENDAR.data, plan.issued)
    days = schedule(
        plan,
        expand(plan, cid, grace_until=until),
        CALENDAR,
        seed=7,
        silent=never_answering(plan, 7, 1),
        until=date(2022, 12, 31),
        notice_after=notice_after(ruleset) if answers else None,
    )
    return {
        wf.split("/", 1)[1]: [
            (d.plan_time.date(), m.verb, m.obligation_id.split("/", 1)[1], m.text) for d in ds for m in d.moves
        ]
        for wf, ds in days.items()
    }


def test_units_answer_most_notices_within_the_reply_period_and_the_silent_town_never(
    plan: Plan, ruleset: RuleSet
) -> None:
    assert notice_after(ruleset) == 5  # escalate-to-office, with its 督办通知
    days = plan_days(plan, ruleset, "c", answers=True)
    silent = never_answering(plan, 7, 1)[0]
    assert not any(f"/{silent}" in wf for wf in days)
    answers = [(wf, d, ob) for wf, moves in days.items() for d, verb, ob, text in moves if text == ANSWER_TEXT]
    assert answers
    # Every answer comes after its item's notice; most within the reply period.
    lag: Counter[str] = Counter()
    due = {o.id.split("/", 1)[1]: o.due for o in expand(plan, "c", grace_until=date(2021, 5, 18))}
    for _, d, ob in answers:
        noticed = CALENDAR.shift(CALENDAR.on_or_after(due[ob]), 5)
        assert d >= noticed
        lag["in time" if CALENDAR.working_days_between(noticed, d) <= REPLY_DAYS else "late"] += 1
    assert lag["in time"] > 2 * lag["late"] > 0, lag
    # The answers never make a unit's progress go back (the Update would refuse it), nor report
    # progress on work already reported done.
    for wf, moves in plan_days_with_percent(plan, ruleset).items():
        last: dict[str, int] = {}
        done: set[str] = set()
        for _, verb, ob, percent in moves:
            assert ob not in done, (wf, ob)
            if verb == "progress":
                assert percent >= last.get(ob, 0), (wf, ob)
                last[ob] = percent
            elif verb == "complete":
                done.add(ob)


def plan_days_with_percent(plan: Plan, ruleset: RuleSet) -> dict[str, list[tuple[date, str, str, int]]]:
    days = schedule(
        plan,
        expand(plan, "c", grace_until=grace_until(ruleset, CALENDAR.data, plan.issued)),
        CALENDAR,
        seed=7,
        silent=never_answering(plan, 7, 1),
        until=date(2022, 12, 31),
        notice_after=notice_after(ruleset),
    )
    return {
        wf: [(d.plan_time.date(), m.verb, m.obligation_id, m.percent) for d in ds for m in d.moves]
        for wf, ds in days.items()
    }


def test_the_same_seed_answers_the_same_whatever_the_campaign_is_called(plan: Plan, ruleset: RuleSet) -> None:
    assert plan_days(plan, ruleset, "a", answers=True) == plan_days(plan, ruleset, "b", answers=True)
    due, began = date(2022, 1, 20), date(2022, 1, 6)
    for key in ("a#rectify#2021-12-01#west", "b#rectify#2021-12-01#west"):
        assert order_answer_day(CALENDAR, seed=7, key=key, round=0, began=began, due=due, silent=False) == (
            order_answer_day(
                CALENDAR, seed=7, key="x#rectify#2021-12-01#west", round=0, began=began, due=due, silent=False
            )
        )
        assert order_review(CALENDAR, seed=7, key=key, round=0, reported=due) == order_review(
            CALENDAR, seed=7, key="x#rectify#2021-12-01#west", round=0, reported=due
        )


def test_orders_are_mostly_answered_before_their_due_date_mostly_accepted_and_some_end_rejected() -> None:
    began, due = date(2022, 1, 6), date(2022, 1, 20)
    keys = [f"c#rectify#2022-{m:02d}-01#u{i}" for m in range(1, 13) for i in range(20)]
    days = [order_answer_day(CALENDAR, seed=7, key=k, round=0, began=began, due=due, silent=False) for k in keys]
    kinds = Counter("never" if d is None else "in time" if d <= due else "late" for d in days)
    assert kinds["in time"] > kinds["late"] > kinds["never"] > 0, kinds
    assert all(d is None or d > began for d in days)
    assert order_answer_day(CALENDAR, seed=7, key=keys[0], round=0, began=began, due=due, silent=True) is None
    accepted = Counter(order_review(CALENDAR, seed=7, key=k, round=0, reported=due)[1] for k in keys)
    assert accepted[True] > 2 * accepted[False] > 0, accepted
    # A report sent back is the harder case: fewer pass the more rounds an order has had, and
    # some fail three times running (after the default two send-backs: closed rejected).
    passed = [sum(order_review(CALENDAR, seed=7, key=k, round=r, reported=due)[1] for k in keys) for r in range(3)]
    assert passed[0] > passed[1] > passed[2] > 0, passed
    failed_thrice = sum(
        not any(order_review(CALENDAR, seed=7, key=k, round=r, reported=due)[1] for r in range(3)) for k in keys
    )
    assert 0 < failed_thrice < len(keys) // 10, failed_thrice
