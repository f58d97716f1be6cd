"""The rule engine over the shipped plan, rule set and China's official calendar."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit_support import line_of, replace_once

from models.obligation import (
    Obligation,
    ObligationSpec,
    ObligationState,
    UnitRole,
    unit_workflow_id,
    workflow_id_of,
)
from models.plan import PhaseKind, Plan
from models.ruleset import ActionKind, Role, Rule, RuleSet
from models.time import CST, Clock, at
from rules.engine import Engine, RuleError
from rules.loading import SourceError, parse_ruleset, parse_yaml
from rules.obligations import expand, units_by_phase

CAMPAIGN = "suixian-2021"
RULESET_PATH = "rules/rulesets/suixian-basic.yaml"
CLOCK = Clock.rehearse(plan_start=at(date(2021, 4, 30)), server_now=datetime(2030, 1, 1, tzinfo=UTC))
FAST = settings(max_examples=100, deadline=None)


@pytest.fixture(scope="module")
def obligations(plan: Plan) -> list[ObligationSpec]:
    return expand(plan, CAMPAIGN)


@pytest.fixture(scope="module")
def by_id(obligations: list[ObligationSpec]) -> dict[str, ObligationSpec]:
    return {o.id: o for o in obligations}


@pytest.fixture(scope="module")
def engine(ruleset: RuleSet, work_calendar) -> Engine:  # type: ignore[no-untyped-def]
    return Engine(ruleset, work_calendar)


def act(engine: Engine, plan: Plan, ob: Obligation, firing):  # type: ignore[no-untyped-def]
    return engine.act(ob, firing, clock=CLOCK, office=plan.joint_meeting.office, convener=plan.joint_meeting.convener)


def fired(engine: Engine, spec: ObligationSpec, until: date = date(2022, 12, 31)) -> list[tuple[str, date]]:
    return [(f.rule.id, f.on) for f in engine.firings(spec, until=until)]


def one_rule(when: str = "true", trigger: str = "{kind: at_due}", action: str = "{kind: remind}") -> str:
    # json.dumps gives a valid YAML double-quoted scalar for these ASCII conditions.
    return (
        "id: test\nversion: 1\nrules:\n  - id: r1\n"
        f"    trigger: {trigger}\n    when: {json.dumps(when)}\n    action: {action}\n"
    )


# -- obligations -------------------------------------------------------------------------------------


def test_expand_counts(plan: Plan, obligations: list[ObligationSpec]) -> None:
    pairs = sum(len(plan.expand((t.lead, *t.responsible))) for t in plan.tasks)
    assert pairs == 344
    by_phase = Counter(o.phase for o in obligations)
    assert by_phase == {PhaseKind.planning: 19, PhaseKind.rollout: 2 * 344}
    assert len(obligations) == 707


def test_obligation_ids_are_unique_and_name_their_unit_workflow(obligations: list[ObligationSpec]) -> None:
    assert len({o.id for o in obligations}) == len(obligations)
    for o in obligations:
        assert workflow_id_of(o.id) == unit_workflow_id(CAMPAIGN, o.phase, o.unit_id)


def test_expand_is_stable(plan: Plan, obligations: list[ObligationSpec]) -> None:
    assert expand(plan, CAMPAIGN) == obligations


def test_no_obligation_for_the_seat_town(obligations: list[ObligationSpec]) -> None:
    assert not [o.id for o in obligations if o.unit_id == "lishan"]


def test_roles(plan: Plan, obligations: list[ObligationSpec]) -> None:
    for o in obligations:
        if o.task_no is None:
            assert (o.role, o.lead, o.phase) == (UnitRole.responsible, "office", PhaseKind.planning)
            assert o.duty == "work_plan"
        else:
            lead = plan.task(o.task_no).lead
            assert o.lead == lead
            assert o.role is (UnitRole.lead if o.unit_id == lead else UnitRole.responsible)
    assert sum(o.role is UnitRole.lead for o in obligations) == 2 * len(plan.tasks)


def test_due_dates_and_units_by_phase(plan: Plan, obligations: list[ObligationSpec]) -> None:
    dues = {(o.phase, o.milestone): o.due for o in obligations}
    assert dues == {
        (PhaseKind.planning, None): date(2021, 4, 30),
        (PhaseKind.rollout, "basic"): date(2021, 12, 31),
        (PhaseKind.rollout, "model"): date(2022, 6, 30),
    }
    phases = units_by_phase(obligations)
    assert set(phases[PhaseKind.planning]) == {u.id for u in plan.units_in_scope()}
    assert len(phases[PhaseKind.rollout]) == 19 + len(
        {t.lead for t in plan.tasks} | {u for t in plan.tasks for u in t.responsible if u != "@local"}
    )


# -- when rules fire ---------------------------------------------------------------------------------


def test_firings_for_the_basic_milestone(engine: Engine, by_id: dict[str, ObligationSpec]) -> None:
    spec = by_id[f"{CAMPAIGN}/rollout/gaocheng/T03-basic"]
    assert spec.due == date(2021, 12, 31)  # a Friday
    # 12-28 is 3 working days before (12-29, 12-30, 12-31); 2022-01-03 is 元旦 (a holiday), so
    # 1 working day after is 01-04 and 5 are 01-04, 05, 06, 07, 10.
    assert fired(engine, spec) == [
        ("remind-before-due", date(2021, 12, 28)),
        ("escalate-to-lead", date(2022, 1, 4)),
        ("escalate-to-office", date(2022, 1, 10)),
    ]
    assert engine.firings(spec, until=date(2022, 12, 31))[0].at == datetime(2021, 12, 28, 9, 0, tzinfo=CST)


def test_firings_for_the_planning_duty(engine: Engine, by_id: dict[str, ObligationSpec]) -> None:
    spec = by_id[f"{CAMPAIGN}/planning/gaocheng/D-work_plan"]
    assert spec.assigned == spec.due == date(2021, 4, 30)
    remind = next(r for r in engine.ruleset.rules if r.id == "remind-before-due")
    assert engine.fire_date(remind, spec) == date(2021, 4, 27)  # before the plan was issued: dropped
    assert fired(engine, spec) == [
        ("escalate-to-lead", date(2021, 5, 6)),
        ("escalate-to-office", date(2021, 5, 11)),
    ]


def test_firings_stop_at_until(engine: Engine, by_id: dict[str, ObligationSpec]) -> None:
    spec = by_id[f"{CAMPAIGN}/rollout/gaocheng/T03-model"]
    assert fired(engine, spec, until=date(2022, 7, 6)) == [
        ("remind-before-due", date(2022, 6, 27)),
        ("escalate-to-lead", date(2022, 7, 1)),
    ]
    assert fired(engine, spec)[-1] == ("escalate-to-office", date(2022, 7, 7))


def test_a_due_date_on_a_rest_day_moves(engine: Engine, by_id: dict[str, ObligationSpec]) -> None:
    spec = by_id[f"{CAMPAIGN}/rollout/gaocheng/T03-basic"].model_copy(update={"due": date(2021, 10, 1)})
    assert engine.due_date(spec) == date(2021, 10, 8)
    assert fired(engine, spec) == [
        ("remind-before-due", date(2021, 9, 28)),  # 09-29, 09-30, 10-08
        ("escalate-to-lead", date(2021, 10, 9)),  # the make-up Saturday
        ("escalate-to-office", date(2021, 10, 14)),  # 10-09, 11, 12, 13, 14
    ]


# -- what they do ------------------------------------------------------------------------------------


def test_a_completed_obligation_fires_nothing(engine: Engine, plan: Plan, by_id: dict[str, ObligationSpec]) -> None:
    spec = by_id[f"{CAMPAIGN}/rollout/gaocheng/T03-basic"]
    done = Obligation(spec=spec, state=ObligationState.completed, progress=100)
    firings = engine.firings(spec, until=plan.end)
    assert firings
    assert [act(engine, plan, done, f) for f in firings] == [None] * len(firings)
    open_ = Obligation(spec=spec, state=ObligationState.in_progress, progress=80)
    assert all(act(engine, plan, open_, f) is not None for f in firings)


def test_actions_for_a_town(engine: Engine, plan: Plan, by_id: dict[str, ObligationSpec]) -> None:
    spec = by_id[f"{CAMPAIGN}/rollout/gaocheng/T03-basic"]
    ob = Obligation(spec=spec, state=ObligationState.acknowledged, progress=30)
    remind, lead, office = (act(engine, plan, ob, f) for f in engine.firings(spec, until=plan.end))
    assert remind is not None and lead is not None and office is not None

    assert (remind.kind, remind.recipient, remind.role, remind.level, remind.notice) == (
        ActionKind.remind,
        "gaocheng",
        Role.unit,
        0,
        False,
    )
    assert (lead.kind, lead.recipient, lead.role, lead.level, lead.notice) == (
        ActionKind.escalate,
        "housing",
        Role.lead,
        1,
        False,
    )
    assert (office.kind, office.recipient, office.role, office.level, office.notice) == (
        ActionKind.escalate,
        "office",
        Role.office,
        2,
        True,
    )

    assert (remind.facts["days_left"], remind.facts["days_overdue"]) == (3, 0)
    assert (lead.facts["days_left"], lead.facts["days_overdue"]) == (-1, 1)
    assert (office.facts["days_left"], office.facts["days_overdue"]) == (-5, 5)
    assert office.facts["state"] == "acknowledged" and office.facts["progress"] == 30

    for a, rule, day in [
        (remind, "remind-before-due", "2021-12-28"),
        (lead, "escalate-to-lead", "2022-01-04"),
        (office, "escalate-to-office", "2022-01-10"),
    ]:
        assert spec.id in a.key and rule in a.key and day in a.key
        assert a.obligation_id == spec.id and a.unit_id == "gaocheng" and a.rule_id == rule
        assert a.due == date(2021, 12, 31)
        assert a.plan_time == datetime.fromisoformat(f"{day}T09:00:00+08:00")
        assert a.server_time == CLOCK.server_time(a.plan_time)
        assert "高城镇" in a.body or "高城镇" in a.title
    assert len({remind.key, lead.key, office.key}) == 3
    assert "还有3个工作日" in remind.body
    assert "逾期5个工作日" in office.body


def test_the_lead_units_own_obligation_escalates_to_the_office(
    engine: Engine, plan: Plan, by_id: dict[str, ObligationSpec]
) -> None:
    spec = by_id[f"{CAMPAIGN}/rollout/housing/T03-basic"]
    assert spec.role is UnitRole.lead and spec.lead == "housing"
    ob = Obligation(spec=spec)
    lead = next(f for f in engine.firings(spec, until=plan.end) if f.rule.id == "escalate-to-lead")
    action = act(engine, plan, ob, lead)
    assert action is not None
    assert action.recipient == "office"


def test_a_duty_escalates_to_the_office(engine: Engine, plan: Plan, by_id: dict[str, ObligationSpec]) -> None:
    spec = by_id[f"{CAMPAIGN}/planning/wanfudian/D-work_plan"]
    first = engine.firings(spec, until=plan.end)[0]
    action = act(engine, plan, Obligation(spec=spec), first)
    assert action is not None
    assert (action.rule_id, action.recipient) == ("escalate-to-lead", "office")


def test_conditions_see_the_facts(work_calendar, plan: Plan, by_id: dict[str, ObligationSpec]) -> None:  # type: ignore[no-untyped-def]
    text = one_rule(
        when='progress < 50 && role == "lead" && days_overdue == 2',
        trigger="{kind: after_due, working_days: 2}",
        action="{kind: escalate, to: convener, level: 3}",
    )
    engine = Engine(parse_ruleset(text, path="t.yaml"), work_calendar)
    lead_spec = by_id[f"{CAMPAIGN}/rollout/housing/T03-basic"]
    town_spec = by_id[f"{CAMPAIGN}/rollout/gaocheng/T03-basic"]
    (firing,) = engine.firings(lead_spec, until=plan.end)
    assert firing.on == date(2022, 1, 5)
    action = act(engine, plan, Obligation(spec=lead_spec, progress=40), firing)
    assert action is not None and action.recipient == "convener" and action.level == 3
    assert act(engine, plan, Obligation(spec=lead_spec, progress=50), firing) is None
    (town_firing,) = engine.firings(town_spec, until=plan.end)
    assert act(engine, plan, Obligation(spec=town_spec, progress=0), town_firing) is None


def test_a_number_compares_with_a_double(work_calendar, plan: Plan, by_id: dict[str, ObligationSpec]) -> None:  # type: ignore[no-untyped-def]
    # `days_left > 1.5` is not a type error: CEL compares int and double numerically, and the
    # cel library follows the spec here, so the rule set loads and the condition works.
    engine = Engine(
        parse_ruleset(one_rule("days_left > 1.5", "{kind: before_due, working_days: 2}"), path="t.yaml"),
        work_calendar,
    )
    spec = by_id[f"{CAMPAIGN}/rollout/gaocheng/T03-basic"]
    (firing,) = engine.firings(spec, until=plan.end)
    assert act(engine, plan, Obligation(spec=spec), firing) is not None
    engine = Engine(
        parse_ruleset(one_rule("days_left > 1.5", "{kind: before_due, working_days: 1}"), path="t.yaml"),
        work_calendar,
    )
    (firing,) = engine.firings(spec, until=plan.end)
    assert act(engine, plan, Obligation(spec=spec), firing) is None


# -- rule sets that cannot run ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("state != ", "condition does not parse"),
        ("state ==== 1", "condition does not parse"),
        ("progres > 50", "unknown fact 'progres'"),
        ('progress > "x"', "does not type-check"),
        ("state + 1 == 2", "does not type-check"),
        ("nosuchfunction(state)", "does not type-check"),
        ("progress", "must be true or false, not int"),
        ("state", "must be true or false, not str"),
        ("progress / times_reminded > 1", "fails on a fresh obligation's facts"),
        ("[1][progress + 1] == 1", "fails on a fresh obligation's facts"),
    ],
)
def test_a_bad_condition_is_refused(work_calendar, when: str, message: str) -> None:  # type: ignore[no-untyped-def]
    text = one_rule(when)
    with pytest.raises(SourceError) as read:
        parse_ruleset(text, path="t.yaml")
    assert message in read.value.message
    assert text.splitlines()[read.value.line - 1].strip().startswith("when:")
    data, _ = parse_yaml(text, path="t.yaml")
    with pytest.raises(RuleError, match=r"^rule r1: ") as info:
        Engine(RuleSet.model_validate(data), work_calendar)
    assert message in str(info.value)
    assert info.value.rule_id == "r1"


def test_an_unknown_role_is_refused_at_its_line(ruleset_text: str) -> None:
    text = replace_once(ruleset_text, "to: lead, level: 1", "to: mayor, level: 1")
    with pytest.raises(SourceError) as info:
        parse_ruleset(text, path=RULESET_PATH)
    err = info.value
    assert err.line == line_of(text, "to: mayor")
    assert str(err).startswith(f"{RULESET_PATH}:{err.line}: rules.1.action.to: Input should be ")


def test_a_duplicate_rule_id_is_refused_at_the_duplicate(ruleset_text: str) -> None:
    text = replace_once(ruleset_text, "id: escalate-to-office", "id: remind-before-due")
    with pytest.raises(SourceError) as info:
        parse_ruleset(text, path=RULESET_PATH)
    err = info.value
    assert err.line == text[: text.rindex("id: remind-before-due")].count("\n") + 1
    assert err.line > line_of(ruleset_text, "id: remind-before-due")
    assert str(err) == f"{RULESET_PATH}:{err.line}: duplicate rule id 'remind-before-due'"


def test_a_reminder_with_a_level_is_refused(ruleset_text: str) -> None:
    text = replace_once(ruleset_text, "action: {kind: remind, to: unit}", "action: {kind: remind, to: unit, level: 1}")
    with pytest.raises(SourceError, match="a remind action has no escalation level") as info:
        parse_ruleset(text, path=RULESET_PATH)
    assert info.value.line == line_of(text, "level: 1}\n\n  - id: escalate-to-lead")


# -- properties ---------------------------------------------------------------------------------------

DUES = st.dates(min_value=date(2021, 5, 1), max_value=date(2025, 6, 30))
STATES = st.sampled_from(list(ObligationState))


@FAST
@given(due=DUES, state=STATES, progress=st.integers(0, 100), unit=st.sampled_from(["gaocheng", "housing"]))
def test_same_input_same_output(  # type: ignore[no-untyped-def]
    engine: Engine, plan: Plan, by_id: dict[str, ObligationSpec], due: date, state, progress: int, unit: str
) -> None:
    spec = by_id[f"{CAMPAIGN}/rollout/{unit}/T05-basic"].model_copy(update={"due": due})
    ob = Obligation(spec=spec, state=state, progress=progress)
    until = due + timedelta(days=60)
    first, second = engine.firings(spec, until=until), engine.firings(spec, until=until)
    assert first == second
    assert [act(engine, plan, ob, f) for f in first] == [act(engine, plan, ob, f) for f in second]


@FAST
@given(a=DUES, b=DUES, days=st.lists(st.integers(0, 40), min_size=1, max_size=4))
def test_a_later_due_date_never_fires_earlier(  # type: ignore[no-untyped-def]
    work_calendar, by_id: dict[str, ObligationSpec], a: date, b: date, days: list[int]
) -> None:
    a, b = sorted((a, b))
    rules = [
        Rule.model_validate(
            {
                "id": f"e{i}",
                "trigger": {"kind": "after_due", "working_days": n},
                "action": {"kind": "escalate", "level": 1},
            }
        )
        for i, n in enumerate(days)
    ]
    engine = Engine(RuleSet(id="p", version=1, rules=tuple(rules)), work_calendar)
    spec = by_id[f"{CAMPAIGN}/rollout/gaocheng/T01-basic"]
    early, late = spec.model_copy(update={"due": a}), spec.model_copy(update={"due": b})
    for rule in rules:
        assert engine.fire_date(rule, early) <= engine.fire_date(rule, late)
        assert engine.fire_date(rule, early) >= engine.due_date(early) >= a


@FAST
@given(due=DUES, days=st.integers(0, 40))
def test_reminders_land_on_working_days(  # type: ignore[no-untyped-def]
    work_calendar, engine: Engine, by_id: dict[str, ObligationSpec], due: date, days: int
) -> None:
    spec = by_id[f"{CAMPAIGN}/rollout/gaocheng/T01-basic"].model_copy(update={"due": due, "assigned": date(2021, 1, 1)})
    rule = Rule.model_validate(
        {"id": "r", "trigger": {"kind": "before_due", "working_days": days}, "action": {"kind": "remind"}}
    )
    custom = Engine(RuleSet(id="p", version=1, rules=(rule,)), work_calendar)
    on = custom.fire_date(rule, spec)
    assert work_calendar.is_working_day(on)
    assert on <= custom.due_date(spec)
    assert work_calendar.working_days_between(on, custom.due_date(spec)) == days
    for f in engine.firings(spec, until=date(2026, 12, 31)):
        if f.rule.action.kind is ActionKind.remind:
            assert work_calendar.is_working_day(f.on)
