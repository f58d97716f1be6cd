"""The rule-set language beyond due dates: triggers, actions, the ladder, provenance, what-if,
and the shipped rule sets with their scenario tables. Pure: no servers."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit_support import ROOT, replace_once

from models.obligation import Obligation, ObligationSpec, ObligationState, UnitRole
from models.plan import PhaseKind, Plan, content_hash
from models.ruleset import ActionKind, RuleSet, TriggerKind
from models.time import CST, Clock, at
from rules import calendar as cal
from rules.engine import Engine
from rules.loading import SourceError, parse_ruleset
from rules.scenarios import parse_scenarios
from rules.scenarios import run as run_scenario
from rules.whatif import Happening, Outcome, compare, replay

RULESETS = ROOT / "rules" / "rulesets"
DEFAULT = RULESETS / "suixian-default.yaml"
MILESTONES = {"basic": date(2021, 12, 31), "model": date(2022, 6, 30)}


@pytest.fixture(scope="module")
def default_text() -> str:
    return DEFAULT.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def default(plan: Plan, default_text: str) -> RuleSet:
    return parse_ruleset(default_text, path=str(DEFAULT), plan=plan)


@pytest.fixture(scope="module")
def engine(default: RuleSet, work_calendar: cal.WorkCalendar) -> Engine:
    return Engine(default, work_calendar, MILESTONES)


def spec(due: date = date(2021, 12, 31), assigned: date = date(2021, 5, 6), milestone: str = "basic") -> ObligationSpec:
    return ObligationSpec(
        id="c/rollout/gaocheng/T01-basic",
        phase=PhaseKind.rollout,
        unit_id="gaocheng",
        unit_name="高城镇",
        unit_kind="town",
        role=UnitRole.responsible,
        task_no=1,
        category=1,
        milestone=milestone,
        title="任务",
        lead="housing",
        assigned=assigned,
        due=due,
    )


def refused(text: str, plan: Plan | None = None) -> SourceError:
    with pytest.raises(SourceError) as info:
        parse_ruleset(text, path="r.yaml", plan=plan)
    return info.value


def line(text: str, needle: str) -> int:
    return next(i for i, x in enumerate(text.splitlines(), 1) if needle in x)


# -- bad input: FILE:LINE, never a traceback --------------------------------------------------------


def test_the_shipped_rule_sets_read_and_run_against_their_plans(plan: Plan) -> None:
    for path in sorted(RULESETS.glob("*.yaml")):
        if path.name.endswith(".scenarios.yaml"):
            continue
        rs = parse_ruleset(path.read_text(encoding="utf-8"), path=str(path))
        assert rs.rules, path


def test_a_repeated_rung_is_a_cycle_in_the_ladder(default_text: str) -> None:
    text = replace_once(default_text, "ladder: [unit, lead, office, convener]", "ladder: [unit, lead, office, lead]")
    e = refused(text)
    assert "the escalation ladder has a cycle: lead → office → lead" in e.message
    assert e.line == line(text, "ladder:")


def test_an_escalation_that_goes_back_down_the_ladder_is_a_cycle(default_text: str) -> None:
    text = replace_once(
        default_text, "action: {kind: escalate, to: convener, level: 3", "action: {kind: escalate, to: lead, level: 3"
    )
    e = refused(text)
    assert "rule escalate-to-convener: the escalation ladder has a cycle: level 3 goes back down to lead" in e.message
    assert e.line == line(text, "to: lead, level: 3")


def test_an_unknown_trigger_is_refused_at_its_line(default_text: str) -> None:
    text = replace_once(default_text, "{kind: not_acknowledged, working_days: 5}", "{kind: fortnightly}")
    e = refused(text)
    assert "trigger.kind" in e.message and "fortnightly" not in e.message.split(":")[0]
    assert e.line == line(text, "fortnightly")


def test_a_milestone_the_plan_lacks_is_refused_at_its_line(default_text: str, plan: Plan) -> None:
    text = replace_once(default_text, "milestone: basic, working_days: 20", "milestone: premium, working_days: 20")
    parse_ruleset(text, path="r.yaml")  # on its own it reads: only the plan can say
    e = refused(text, plan)
    assert "has no milestone 'premium' (it has: basic, model)" in e.message
    assert e.line == line(text, "milestone: premium")


def test_a_type_error_hidden_behind_and_is_found_when_read(default_text: str) -> None:
    # On a fresh obligation `state == "assigned"` is true, so the second half runs: but on a
    # completed one it would not; the sample facts try both.
    text = replace_once(
        default_text, 'when: state != "completed" && days_overdue > 0', 'when: state == "completed" && progress > "x"'
    )
    e = refused(text)
    assert "does not type-check" in e.message
    assert e.line == line(text, 'progress > "x"')


MALFORMED = [
    # (text in the default rule set, what it becomes, the message, the line it is reported at)
    ("{kind: event, event: progress_reported}", "{kind: event}", "names its event", "{kind: event}"),
    (
        "{kind: milestone, milestone: basic, working_days: 20}",
        "{kind: milestone}",
        "its milestone",
        "{kind: milestone}",
    ),
    ("{kind: monthly, working_days: 3}", "{kind: monthly, working_days: 0}", "1 to 10", "working_days: 0"),
    ("{kind: rectify, to: unit, working_days: 10,", "{kind: rectify, to: unit,", "gives the working", "kind: rectify"),
    ("to: office, level: 2, notice: true,", "to: office, level: 0, notice: true,", "1 or more", "level: 0"),
    (
        "to: convener, level: 3, channels: [inbox, email]}",
        "to: convener, level: 3, channels: [fax]}",
        "channels",
        "fax",
    ),
]


@pytest.mark.parametrize(("old", "new", "message", "at"), MALFORMED)
def test_malformed_rules_are_refused_at_their_line(
    default_text: str, old: str, new: str, message: str, at: str
) -> None:
    text = replace_once(default_text, old, new)
    e = refused(text)
    assert message in e.message
    assert e.line == line(text, at)


def test_a_version_1_rule_set_keeps_the_hash_it_was_pinned_with() -> None:
    """Fields added since version 1 are left out of the digest at their defaults: a campaign
    launched on a version-1 rule set still matches its pinned hash."""
    basic = parse_ruleset((RULESETS / "suixian-basic.yaml").read_text(encoding="utf-8"), path="b.yaml")
    v1 = basic.model_dump(mode="json")
    for k in (
        "deadline_shift",
        "quiet_hours",
        "extensions",
        "evidence",
        "severity",
        "ladder",
        "rectification",
        "launch",
    ):
        del v1[k]
    for r in v1["rules"]:
        del r["trigger"]["milestone"], r["trigger"]["event"], r["action"]["working_days"]
    assert basic.digest() == content_hash(v1)


# -- triggers ----------------------------------------------------------------------------------------


def test_monthly_fires_on_the_nth_working_day_across_make_up_days(engine: Engine, default: RuleSet) -> None:
    rule = next(r for r in default.rules if r.id == "list-in-bulletin")
    days = engine.fire_dates(rule, spec(), until=date(2022, 2, 28))
    # October 2021: 1–7 National Day, Saturday the 9th a make-up day → 8, 9, 11.
    assert date(2021, 10, 11) in days and date(2022, 2, 9) in days and date(2022, 1, 6) in days
    assert len(days) == 10  # May 2021 … February 2022


def test_not_acknowledged_is_moot_once_signed_for(engine: Engine) -> None:
    signed = Obligation(spec=spec(), state=ObligationState.acknowledged, acknowledged_at=at(date(2021, 5, 7)))
    f = next(
        f
        for f in engine.firings(signed, until=date(2021, 6, 30))
        if f.rule.trigger.kind is TriggerKind.not_acknowledged
    )
    assert f.on == date(2021, 5, 12)
    assert engine.act(signed, f, clock=Clock(), office="office", convener="convener") is None
    fresh = Obligation(spec=spec())
    a = engine.act(fresh, f, clock=Clock(), office="office", convener="convener")
    assert a is not None and a.kind is ActionKind.remind and "尚未签收" in a.body


@pytest.mark.parametrize(
    ("shift", "due"),
    [("next_working_day", date(2021, 10, 8)), ("previous_working_day", date(2021, 9, 30)), ("none", date(2021, 10, 3))],
)
def test_a_deadline_on_a_holiday_moves_as_the_rule_set_says(
    default_text: str, work_calendar: cal.WorkCalendar, shift: str, due: date
) -> None:
    text = replace_once(default_text, "deadline_shift: next_working_day", f"deadline_shift: {shift}")
    e = Engine(parse_ruleset(text, path="r.yaml"), work_calendar, MILESTONES)
    assert e.due_date(spec(due=date(2021, 10, 3))) == due
    for f in e.firings(spec(due=date(2021, 10, 3)), until=date(2022, 3, 1)):
        assert work_calendar.is_working_day(f.on), f  # firings never land on a rest day


def test_an_event_fires_its_rules_once_per_event(engine: Engine) -> None:
    when = datetime(2021, 12, 27, 10, tzinfo=CST)
    firings = engine.on_event(next(iter(engine._on_event)), when, "u1")  # acknowledged: no rule
    assert firings == []
    from models.ruleset import Event

    (f,) = engine.on_event(Event.progress_reported, when, "u1")
    assert f.occurrence == "escalate-slow-progress@progress_reported:u1"
    ob = Obligation(spec=spec(), state=ObligationState.in_progress, progress=30)
    a = engine.act(ob, f, clock=Clock(), office="office", convener="convener")
    assert a is not None and (a.recipient, a.level, a.facts["event"]) == ("housing", 1, "progress_reported")
    ob.progress = 60
    assert engine.act(ob, f, clock=Clock(), office="office", convener="convener") is None


# -- provenance and determinism ----------------------------------------------------------------------


def test_a_fired_action_records_the_rule_and_the_facts_it_saw(engine: Engine) -> None:
    ob = Obligation(spec=spec())
    f = next(f for f in engine.firings(ob, until=date(2022, 3, 1)) if f.rule.id == "escalate-to-office")
    a = engine.act(ob, f, clock=Clock(), office="office", convener="convener")
    assert a is not None
    assert (a.rule_id, a.notice, a.recipient, a.level) == ("escalate-to-office", True, "office", 2)
    assert a.facts["days_overdue"] == 5 and a.facts["state"] == "assigned"
    assert a.key == f"{ob.id}#escalate-to-office@2022-01-10"


STATES = st.sampled_from(list(ObligationState))


@settings(max_examples=150, deadline=None)
@given(
    due=st.dates(date(2021, 6, 1), date(2024, 12, 31)),
    on=st.dates(date(2021, 5, 1), date(2025, 6, 30)),
    state=STATES,
    progress=st.integers(0, 100),
    reminded=st.integers(0, 5),
    level=st.integers(0, 3),
)
def test_the_fast_check_decides_as_every_fact_and_every_rule_would(  # type: ignore[no-untyped-def]
    engine, default, due, on, state, progress, reminded, level
) -> None:
    ob = Obligation(spec=spec(due=due), state=state, progress=progress, reminders=reminded, escalation_level=level)
    facts = engine.facts(ob, on)
    slow = [r for r in default.rules if engine.holds(r, facts)]
    assert engine.check(ob, on) == slow


@settings(max_examples=60, deadline=None)
@given(a=st.dates(date(2021, 6, 1), date(2025, 12, 31)), b=st.dates(date(2021, 6, 1), date(2025, 12, 31)))
def test_the_default_rules_never_escalate_a_later_due_date_earlier(engine, a, b) -> None:  # type: ignore[no-untyped-def]
    a, b = sorted((a, b))
    early = {f.rule.id: f.on for f in engine.firings(spec(due=a), until=date(2026, 12, 31))}
    late = {f.rule.id: f.on for f in engine.firings(spec(due=b), until=date(2026, 12, 31))}
    for rid, on in early.items():
        rule = next(r for r in engine.ruleset.rules if r.id == rid)
        if rule.action.kind is ActionKind.escalate and rule.trigger.kind is TriggerKind.after_due and rid in late:
            assert on <= late[rid]
    for f in engine.firings(spec(due=b), until=date(2026, 12, 31)):
        if f.rule.action.kind is ActionKind.remind:
            assert engine.calendar.is_working_day(f.on)


@settings(max_examples=40, deadline=None)
@given(due=st.dates(date(2021, 6, 1), date(2025, 12, 31)), done=st.integers(0, 60))
def test_same_input_same_actions(engine, due, done) -> None:  # type: ignore[no-untyped-def]
    happens = [Happening(at=at(date(2021, 5, 10), "10:00"), state=ObligationState.acknowledged, token="a")]
    first = replay(engine, spec(due=due), happens, until=date(2026, 12, 31))
    second = replay(engine, spec(due=due), list(happens), until=date(2026, 12, 31))
    assert [a.model_dump() for a in first] == [a.model_dump() for a in second]


# -- what-if and scenarios ---------------------------------------------------------------------------


def test_compare_tells_moved_from_added_and_dropped() -> None:
    def o(d: int, kind: str = "remind", rule: str = "r") -> Outcome:
        return Outcome(on=date(2022, 1, d), kind=kind, role="unit", level=0, rule_id=rule)

    diff = compare("x", [o(3), o(5, "bulletin")], [o(4, rule="r2"), o(6, "rectify")])
    assert diff is not None
    assert [x.on.day for x in diff.only_before] == [5] and [x.on.day for x in diff.only_after] == [6]
    assert [(a.on.day, b.on.day) for a, b in diff.moved] == [(3, 4)]
    assert compare("x", [o(3)], [o(3)]) is None


def test_the_shipped_scenarios_pass_and_a_wrong_expectation_fails(
    engine: Engine, work_calendar: cal.WorkCalendar
) -> None:
    path = RULESETS / "suixian-default.scenarios.yaml"
    text = path.read_text(encoding="utf-8")
    table, _ = parse_scenarios(text, path=str(path))
    assert all(run_scenario(engine, s).passed for s in table.scenarios)
    wrong = replace_once(
        text, "{on: 2022-01-24, kind: escalate, to: convener", "{on: 2022-01-21, kind: escalate, to: convener"
    )
    table, _ = parse_scenarios(wrong, path=str(path))
    result = run_scenario(engine, table.scenarios[0])
    assert not result.passed
    assert [e.on for e in result.missing] == [date(2022, 1, 21)]
    assert [o.label() for o in result.unexpected] == ["2022-01-24 督办 L3 → convener (escalate-to-convener)"]


def test_a_scenario_file_with_a_bad_field_names_its_line(tmp_path: Path) -> None:
    text = (
        "scenarios:\n  - name: x\n    obligation: {assigned: 2021-05-06, due: 2021-12-31}\n"
        "    expect:\n      - {on: 2021-12-28, kind: remindd}\n"
    )
    with pytest.raises(SourceError) as info:
        parse_scenarios(text, path="s.yaml")
    assert info.value.line == 5
