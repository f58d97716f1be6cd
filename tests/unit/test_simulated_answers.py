"""Rehearsals' simulated units answer 督办通知 and 责令整改 as a county's do (`rules.simulated_answers`)."""

from __future__ import annotations

from collections import Counter
from datetime import date

from models.plan import PhaseKind, Plan
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


def test_lateness_is_a_units_trait_and_a_unit_on_track_is_never_late_enough_for_a_notice(
    plan: Plan, ruleset: RuleSet
) -> None:
    """Issue 14.1: units, not obligations, are late. The 督办 rounds the fates predict (a unit with
    an item still open at due + the notice threshold) are few, and come only from units behind
    on that due day's work; a unit on track finishes in time or a little late, before a notice."""
    from rules.simulation import behind, trait

    cid, threshold = "c", notice_after(ruleset)
    assert threshold is not None
    obligations = expand(plan, cid, grace_until=grace_until(ruleset, CALENDAR.data, plan.issued))
    silent = never_answering(plan, 7, 1)
    days = schedule(
        plan, obligations, CALENDAR, seed=7, silent=silent, until=date(2022, 12, 31), notice_after=threshold
    )
    done = {
        m.obligation_id: d.plan_time.date() for ds in days.values() for d in ds for m in d.moves if m.verb == "complete"
    }
    rounds: set[tuple[str, date]] = set()
    for o in obligations:
        on = CALENDAR.shift(CALENDAR.on_or_after(o.due), threshold)
        if o.unit_id in silent or (done.get(o.id) or date.max) < on:
            continue
        rounds.add((o.unit_id, on))
        # Never a unit on track, but where the window is short: work can only be done on a
        # paperwork day after the unit has signed for it, which may already be past the threshold
        # (the 工作方案, due 12 working days after the plan's issue).
        assert behind(7, o.unit_id, o.due) or o.phase is PhaseKind.planning, o.id
    units = {o.unit_id for o in obligations}
    assert Counter(trait(7, u) for u in units).most_common(1)[0][0] == "diligent"
    # One paper per unit per round: an order of magnitude under one per overdue obligation.
    assert 0 < len(rounds) <= len(units)
