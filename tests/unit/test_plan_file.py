"""The shipped plan file: it parses, it says what the published plan says, and broken copies of it
are refused with the file and line of the mistake.

The expected tasks are read from the published text (tests/fixtures/suixian-2021-plan.txt) here,
not restated, so these tests check the transcription rather than repeat it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from unit_support import PLAN_PATH, SEED_PATH, line_of, replace_once

from models.plan import LOCAL_UNITS, AssessmentKind, PhaseKind, Plan, UnitDirectory, UnitKind
from rules.loading import SourceError, directory_reference, parse_plan, parse_yaml

PATH = "plans/suixian-2021.yaml"
LOCAL_TEXT = "各镇、场、景区人民政府或管委会"
CN_NUMERALS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}


# -- the published text ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedTask:
    no: int
    name: str
    category: int
    text: str
    lead: str
    responsible: tuple[str, ...]
    """Agency names as printed, then LOCAL_TEXT."""


def _section(lines: list[str], start: str, end: str) -> list[str]:
    first = next(i for i, s in enumerate(lines) if s.startswith(start))
    last = next(i for i, s in enumerate(lines) if s.startswith(end) and i > first)
    return [s.strip() for s in lines[first + 1 : last]]


def seed_lines() -> list[str]:
    return SEED_PATH.read_text(encoding="utf-8").splitlines()


def seed_categories() -> dict[int, str]:
    """（一）补齐规划设计短板。 … in 二、重点任务."""
    out = {}
    for s in _section(seed_lines(), "二、重点任务", "三、实施步骤"):
        if m := re.fullmatch(r"（([一二三四五六七八九十])）(.+?)。", s):
            out[CN_NUMERALS[m[1]]] = m[2]
    return out


def seed_tasks() -> list[SeedTask]:
    """N．NAME。TEXT（牵头单位：X；责任单位：A、B，各镇、场、景区人民政府或管委会）"""
    out = []
    category = 0
    for s in _section(seed_lines(), "二、重点任务", "三、实施步骤"):
        if m := re.fullmatch(r"（([一二三四五六七八九十])）(.+?)。", s):
            category = CN_NUMERALS[m[1]]
        elif m := re.fullmatch(r"(\d+)．(.+?)。(.*)（牵头单位：([^；]+)；责任单位：(.+)）", s):
            responsible: list[str] = []
            for part in m[5].split("，"):
                responsible.extend([part] if part == LOCAL_TEXT else part.split("、"))
            out.append(
                SeedTask(
                    no=int(m[1]),
                    name=m[2],
                    category=category,
                    text=m[3],
                    lead=m[4],
                    responsible=tuple(responsible),
                )
            )
        else:
            assert not s, f"a line in 二、重点任务 this test cannot read: {s[:40]}"
    return out


@pytest.fixture(scope="module")
def ids_by_name(directory: UnitDirectory) -> dict[str, str]:
    names = [u.name for u in directory.units]
    assert len(set(names)) == len(names), "unit names must be unique to map the text onto ids"
    return {u.name: u.id for u in directory.units} | {LOCAL_TEXT: LOCAL_UNITS}


def test_the_seed_text_is_read_completely() -> None:
    # Guards the parser above: if it silently skipped tasks, the checks below would prove little.
    tasks = seed_tasks()
    assert [t.no for t in tasks] == list(range(1, 16))
    assert sorted({t.category for t in tasks}) == list(range(1, 8))
    assert all(t.responsible[-1] == LOCAL_TEXT for t in tasks)


# -- the shipped plan -----------------------------------------------------------------------------


def test_shipped_plan_parses(plan: Plan) -> None:
    assert plan.id == "suixian-2021"
    assert plan.issued == date(2021, 4, 30)
    assert plan.exclude_seat is True
    assert len(plan.tasks) == 15


def test_plan_names_its_directory_file(plan_text: str) -> None:
    ref, line = directory_reference(plan_text, path=PATH)
    assert ref == "units/suixian.yaml"
    assert line == line_of(plan_text, "directory: units/suixian.yaml")
    assert (PLAN_PATH.parent / ref).is_file()


def test_categories_match_the_seven_headings(plan: Plan) -> None:
    assert {c.no: c.name for c in plan.categories} == seed_categories()


@pytest.mark.parametrize("seed", seed_tasks(), ids=lambda t: f"task{t.no}")
def test_task_matches_the_published_text(plan: Plan, ids_by_name: dict[str, str], seed: SeedTask) -> None:
    task = plan.task(seed.no)
    assert task.name == seed.name
    assert task.category == seed.category
    assert task.lead == ids_by_name[seed.lead]
    assert task.responsible == tuple(ids_by_name[n] for n in seed.responsible)
    assert task.text == seed.text


def test_tasks_are_in_published_order(plan: Plan) -> None:
    assert [t.no for t in plan.tasks] == [t.no for t in seed_tasks()]


def test_local_units_are_the_nineteen_outside_the_seat(plan: Plan, directory: UnitDirectory) -> None:
    local = [u for u in directory.units if u.kind.is_local]
    seats = [u for u in local if u.seat]
    assert [(u.id, u.name) for u in seats] == [("lishan", "厉山镇")]
    in_scope = plan.units_in_scope()
    assert len(in_scope) == 19
    assert {u.id for u in in_scope} == {u.id for u in local} - {"lishan"}
    assert {u.kind for u in in_scope} == {UnitKind.town, UnitKind.farm, UnitKind.scenic_area}


def test_every_task_reaches_every_local_unit_but_the_seat(plan: Plan) -> None:
    in_scope = {u.id for u in plan.units_in_scope()}
    for task in plan.tasks:
        units = plan.expand(task.responsible)
        assert in_scope <= set(units), task.no
        assert "lishan" not in units, task.no
        assert LOCAL_UNITS not in units
        assert len(units) == len(set(units))


def test_seat_is_in_scope_when_the_plan_does_not_exclude_it(plan: Plan) -> None:
    # The seat's exclusion comes from exclude_seat, not from the directory leaving it out.
    everyone = plan.model_copy(update={"exclude_seat": False})
    assert "lishan" in everyone.expand((LOCAL_UNITS,))
    assert len(everyone.units_in_scope()) == 20


def test_phases(plan: Plan) -> None:
    planning, rollout, evaluation = plan.phases
    assert [p.name for p in plan.phases] == [PhaseKind.planning, PhaseKind.rollout, PhaseKind.evaluation]
    assert planning.end == date(2021, 4, 30)
    assert [d.due for d in planning.duties] == [date(2021, 4, 30)]
    assert planning.duties[0].units == (LOCAL_UNITS,)
    assert (rollout.start, rollout.end) == (date(2021, 5, 1), date(2022, 6, 30))
    assert rollout.tasks_due_at_milestones
    assert [(m.id, m.name, m.due) for m in rollout.milestones] == [
        ("basic", "基础型", date(2021, 12, 31)),
        ("model", "示范型", date(2022, 6, 30)),
    ]
    assert (evaluation.start, evaluation.end) == (date(2022, 6, 1), date(2022, 12, 31))
    assert plan.end == date(2022, 12, 31)


def test_phase_titles_and_milestone_names_are_the_published_ones(plan: Plan) -> None:
    steps = _section(seed_lines(), "三、实施步骤", "四、保障措施")
    titles = [m[1] for s in steps if (m := re.fullmatch(r"（[一二三]）(.+?)（.+）。", s))]
    assert [p.title for p in plan.phases] == titles
    text = "".join(steps)
    for m in plan.phase(PhaseKind.rollout).milestones:
        assert f"“{m.name}”" in text


def test_joint_meeting(plan: Plan) -> None:
    jm = plan.joint_meeting
    assert (jm.convener, jm.office) == ("convener", "office")
    assert plan.unit(jm.convener).kind is UnitKind.convener
    assert plan.unit(jm.office).kind is UnitKind.office
    assert "县住建局" in plan.unit(jm.office).name  # 县住建局负责联席会议日常工作
    seed = SEED_PATH.read_text(encoding="utf-8")
    assert f"{jm.name}制度" in seed
    assert "分管副县长为召集人" in seed


def test_assessments(plan: Plan) -> None:
    seed = SEED_PATH.read_text(encoding="utf-8")
    published = re.search(r"按照“(.+?)”的原则", seed)
    assert published
    assert [a.name for a in plan.assessments] == published[1].split("、")
    assert [a.kind for a in plan.assessments] == [
        AssessmentKind.routine,
        AssessmentKind.field_inspection,
        AssessmentKind.annual_review,
        AssessmentKind.acceptance,
    ]


def test_digest_is_stable_and_content_sensitive(plan: Plan, plan_text: str, directory: UnitDirectory) -> None:
    again = parse_plan(plan_text, path=PATH, directory=directory)
    assert again.digest() == plan.digest()
    edited = parse_plan(
        replace_once(plan_text, "name: 整治沿街立面", "name: 整治沿街门面"), path=PATH, directory=directory
    )
    assert edited.digest() != plan.digest()


# -- broken plans -----------------------------------------------------------------------------------


def refused(text: str, directory: UnitDirectory) -> SourceError:
    with pytest.raises(SourceError) as info:
        parse_plan(text, path=PATH, directory=directory)
    err = info.value
    assert err.path == PATH
    assert str(err).startswith(f"{PATH}:{err.line}: ")
    return err


def test_bad_date(plan_text: str, directory: UnitDirectory) -> None:
    text = replace_once(plan_text, "start: 2021-05-01", "start: 2021-06-31")
    err = refused(text, directory)
    assert err.line == line_of(text, "start: 2021-06-31")
    assert "2021-06-31" in err.message
    assert "day is out of range" in err.message


def test_unknown_lead(plan_text: str, directory: UnitDirectory) -> None:
    text = replace_once(plan_text, "lead: transport", "lead: roads")
    err = refused(text, directory)
    assert err.line == line_of(text, "lead: roads")
    assert "task 7: unknown unit 'roads'" in err.message


def test_unknown_responsible_unit_points_at_the_item(plan_text: str, directory: UnitDirectory) -> None:
    # Block style, so the item's line differs from the `responsible:` key's.
    block = 'responsible:\n      - education\n      - schools\n      - health\n      - "@local"'
    text = replace_once(plan_text, 'responsible: [education, housing, health, "@local"]', block)
    err = refused(text, directory)
    assert err.line == line_of(text, "- schools")
    assert "task 9: unknown unit 'schools'" in err.message


def test_unknown_responsible_unit_in_a_flow_list(plan_text: str, directory: UnitDirectory) -> None:
    old = 'responsible: [public-security, urban-management, "@local"]'
    text = replace_once(plan_text, old, 'responsible: [public-security, city-mgmt, "@local"]')
    err = refused(text, directory)
    assert err.line == line_of(text, "city-mgmt")
    assert "task 7: unknown unit 'city-mgmt'" in err.message


def test_unknown_category(plan_text: str, directory: UnitDirectory) -> None:
    text = replace_once(plan_text, "    category: 4\n    lead: transport", "    category: 8\n    lead: transport")
    err = refused(text, directory)
    assert err.line == line_of(text, "category: 8")
    assert "task 7: unknown category 8" in err.message


def test_unknown_joint_meeting_unit(plan_text: str, directory: UnitDirectory) -> None:
    text = replace_once(plan_text, "office: office ", "office: secretariat ")
    err = refused(text, directory)
    assert err.line == line_of(text, "office: secretariat")
    assert "unknown unit 'secretariat'" in err.message


def test_duplicate_task_number_points_at_the_second(plan_text: str, directory: UnitDirectory) -> None:
    text = replace_once(plan_text, "  - no: 12\n", "  - no: 11\n")
    err = refused(text, directory)
    assert err.line == text[: text.rindex("  - no: 11")].count("\n") + 1
    assert err.line != line_of(text, "name: 整治沿街立面") - 1  # not the first task 11
    assert "duplicate task number 11" in err.message


def test_phase_ending_before_it_starts(plan_text: str, directory: UnitDirectory) -> None:
    text = replace_once(plan_text, "end: 2022-12-31", "end: 2022-05-31")
    err = refused(text, directory)
    assert err.line == line_of(text, "end: 2022-05-31")
    assert "phase evaluation ends (2022-05-31) before it starts (2022-06-01)" in err.message


def test_milestone_outside_its_phase(plan_text: str, directory: UnitDirectory) -> None:
    text = replace_once(plan_text, "due: 2022-06-30", "due: 2022-07-31")
    err = refused(text, directory)
    assert err.line == line_of(text, "due: 2022-07-31")
    assert "milestone model due 2022-07-31 is outside phase rollout" in err.message


def test_yaml_syntax_error(plan_text: str, directory: UnitDirectory) -> None:
    text = replace_once(plan_text, "issuer: 随县人民政府办公室", "issuer: 随县: 人民政府办公室")
    err = refused(text, directory)
    assert err.line == line_of(text, "issuer: 随县: 人民政府办公室")
    assert err.message.startswith("YAML syntax error: mapping values are not allowed")


def test_duplicate_mapping_key(plan_text: str, directory: UnitDirectory) -> None:
    text = replace_once(plan_text, "    lead: transport\n", "    lead: transport\n    lead: emergency\n")
    err = refused(text, directory)
    assert err.line == line_of(text, "lead: emergency\n    responsible: [public-security")
    assert err.message == "duplicate key 'lead'"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(text: str, directory: UnitDirectory) -> None:
    err = refused(text, directory)
    assert err.line == 1
    assert err.message == "the file is empty"


def test_not_a_mapping(directory: UnitDirectory) -> None:
    err = refused("- a\n- b\n", directory)
    assert (err.line, err.message) == (1, "a plan file is a mapping (id, title, tasks, phases, …)")


def test_missing_task_number_points_at_the_task(plan_text: str, directory: UnitDirectory) -> None:
    text = replace_once(plan_text, "  - no: 7\n", "  - nr: 7\n")
    err = refused(text, directory)
    assert err.line == line_of(text, "- nr: 7")
    assert err.message.startswith("tasks.6.no: Field required")


# -- YAML 1.2 booleans ------------------------------------------------------------------------------


def test_no_is_a_key_not_false() -> None:
    # Under YAML 1.1 (PyYAML's default) `no:` is the boolean False, and every task would lose
    # its number. The loader reads only true/false as booleans.
    data, lines = parse_yaml("no: 3\nyes: true\non: off\nn: False\n", path="x.yaml")
    assert data == {"no": 3, "yes": True, "on": "off", "n": False}
    assert lines[("no",)] == 1
    assert lines[("on",)] == 3


def test_every_task_keeps_its_number_key(plan_text: str) -> None:
    data, lines = parse_yaml(plan_text, path=PATH)
    assert [t["no"] for t in data["tasks"]] == list(range(1, 16))
    assert all(False not in t and isinstance(t["no"], int) for t in data["tasks"])
    assert lines[("tasks", 6, "no")] == line_of(plan_text, "  - no: 7\n")


def test_a_yes_no_value_is_not_a_number(plan_text: str, directory: UnitDirectory) -> None:
    # YAML 1.1 would read `no: off` as {False: False} and report a missing field far from here.
    text = replace_once(plan_text, "  - no: 7\n", "  - no: off\n")
    err = refused(text, directory)
    assert err.line == line_of(text, "no: off")
    assert err.message.startswith("tasks.6.no: Input should be a valid integer")
