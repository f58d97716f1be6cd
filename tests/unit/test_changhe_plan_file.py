"""The 长河镇 plan file: it says what the draft text says, and no more.

Read against the text itself (tests/fixtures/changhe-2021-plan.txt), not a restatement of it: every
numbered task of 三、重点任务 is in the plan word for word, and every task in the plan is in the
text. What the text does not give (lead and responsible units, dates, issuer) is left to fill
in, each with an explicit fallback, never a guessed value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from unit_support import CHANGHE_DIRECTORY_PATH, CHANGHE_PLAN_PATH, CHANGHE_SEED_PATH, replace_once

from models.obligation import UnitRole
from models.open_fields import TO_FILL_TEXT
from models.plan import PhaseKind, Plan, UnitDirectory, UnitKind
from rules.loading import directory_reference, open_field_lines, parse_directory, parse_plan
from rules.obligations import expand

CN_NUMERALS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}


@pytest.fixture(scope="module")
def text() -> str:
    return CHANGHE_PLAN_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def directory() -> UnitDirectory:
    return parse_directory(CHANGHE_DIRECTORY_PATH.read_text(encoding="utf-8"), path=str(CHANGHE_DIRECTORY_PATH))


@pytest.fixture(scope="module")
def plan(text: str, directory: UnitDirectory) -> Plan:
    return parse_plan(text, path=str(CHANGHE_PLAN_PATH), directory=directory)


# -- the draft text --------------------------------------------------------------------------------


def seed() -> str:
    return CHANGHE_SEED_PATH.read_text(encoding="utf-8")


def flat(s: str) -> str:
    """Without whitespace: the draft puts stray spaces inside sentences (省美丽城镇 “一般型”)."""
    return re.sub(r"\s", "", s)


@dataclass(frozen=True)
class SeedTask:
    category: int
    number: int
    """The text's number, restarting in each action."""
    name: str
    text: str


def seed_section(start: str, end: str) -> list[str]:
    lines = [s.strip() for s in seed().splitlines()]
    first = next(i for i, s in enumerate(lines) if s.startswith(start))
    last = next(i for i, s in enumerate(lines) if s.startswith(end) and i > first)
    return [s for s in lines[first + 1 : last] if s]


def seed_categories() -> dict[int, str]:
    return {
        CN_NUMERALS[m[1]]: m[2]
        for s in seed_section("三、重点任务", "四、保障措施")
        if (m := re.fullmatch(r"（([一二三四五六七八九十])）(.+)", s))
    }


def seed_tasks() -> list[SeedTask]:
    """（一）实施设施提升行动，… then 1.NAME。TEXT lines, numbered afresh in each action."""
    out = []
    category = 0
    for s in seed_section("三、重点任务", "四、保障措施"):
        if m := re.fullmatch(r"（([一二三四五六七八九十])）(.+)", s):
            category = CN_NUMERALS[m[1]]
        elif m := re.fullmatch(r"(\d+)\.(.+?)。(.+)", s):
            out.append(SeedTask(category=category, number=int(m[1]), name=m[2], text=m[3]))
        else:
            raise AssertionError(f"a line in 三、重点任务 this test cannot read: {s[:40]}")
    return out


def test_the_seed_text_is_read_completely() -> None:
    # Guards the reader above: the five actions with 4, 5, 3, 2 and 3 numbered tasks.
    tasks = seed_tasks()
    assert [sum(t.category == c for t in tasks) for c in range(1, 6)] == [4, 5, 3, 2, 3]
    for c in range(1, 6):
        assert [t.number for t in tasks if t.category == c] == list(range(1, 1 + sum(t.category == c for t in tasks)))
    assert list(seed_categories()) == [1, 2, 3, 4, 5]


# -- the plan against the text ------------------------------------------------------------------------


def test_the_plan_parses_and_names_its_directory(plan: Plan, text: str) -> None:
    assert plan.id == "changhe-2021"
    assert directory_reference(text, path="x")[0] == "units/changhe.yaml"
    # The heading, as printed: 《长河镇美丽城镇建设》 over （征求意见稿）.
    assert plan.title == "长河镇美丽城镇建设（征求意见稿）"
    assert "《长河镇美丽城镇建设》" in seed() and "（征求意见稿）" in seed()


def test_categories_are_the_five_actions(plan: Plan) -> None:
    # The five actions, then 四、保障措施 for the work that section names (组建工作专班 etc.).
    assert {c.no: c.name for c in plan.categories} == {**seed_categories(), 6: "保障措施"}
    for word in ("设施提升", "服务提升", "产业提升", "品质提升", "治理提升"):
        assert sum(word in c.name for c in plan.categories) == 1, word


@pytest.mark.parametrize("seed_task", seed_tasks(), ids=lambda t: f"{t.category}.{t.number}")
def test_every_task_of_the_text_is_in_the_plan_word_for_word(plan: Plan, seed_task: SeedTask) -> None:
    ref = f"（{'一二三四五'[seed_task.category - 1]}）{seed_task.number}"
    [task] = [t for t in plan.tasks if t.ref == ref]
    assert task.name == seed_task.name
    assert task.category == seed_task.category
    assert task.text == seed_task.text


def test_every_task_of_the_plan_is_in_the_text(plan: Plan) -> None:
    seeds = seed_tasks()
    actions = [t for t in plan.tasks if t.category <= 5]
    assert len(actions) == len(seeds) == 17
    assert [(t.category, t.name, t.text) for t in actions] == [(s.category, s.name, s.text) for s in seeds]
    assert [t.no for t in plan.tasks] == list(range(1, 22))
    for t in actions:
        assert flat(f"{t.name}。{t.text}") in flat(seed()), t.no


def test_the_safeguard_work_is_in_the_plan_with_its_open_fields(plan: Plan) -> None:
    # 四、保障措施 names 组建工作专班, 制定实施计划 and the 技术支撑 work but no unit for any of them:
    # each is a task whose text is the seed's own words and whose lead is to_fill.
    safeguards = [t for t in plan.tasks if t.category == 6]
    assert [t.name for t in safeguards] == [
        "组建工作专班",
        "制定实施计划",
        "加快推进国土空间规划编制",
        "推进重要街区、重要地段和重要节点城镇设计全覆盖",
    ]
    for t in safeguards:
        assert t.name in seed(), t.name
        assert t.text is not None and flat(t.text) in flat(seed()), t.no
        i = plan.tasks.index(t)
        assert plan.open_field("tasks", i, "lead") is not None, t.no


def test_the_leading_group_and_its_office_at_chengjianban(plan: Plan, directory: UnitDirectory) -> None:
    text = seed()
    assert "镇成立美丽城镇建设领导小组及办公室，办公室设在城建办，由城建办负责具体工作" in text
    jm = plan.joint_meeting
    assert jm.name == "美丽城镇建设领导小组"
    assert plan.unit(jm.office).kind is UnitKind.office
    assert "城建办" in plan.unit(jm.office).name
    assert plan.unit(jm.convener).kind is UnitKind.convener
    assert plan.unit(jm.convener).name.endswith(jm.name)


def test_the_directory_holds_only_units_the_text_names(directory: UnitDirectory) -> None:
    # No village, community or 镇 department is named in the text, so none is invented here.
    assert [u.id for u in directory.units] == ["leading-group", "office"]
    for u in directory.units:
        core = u.name.removeprefix("长河镇").replace("办公室（城建办）", "")
        assert core in seed(), u.name
    assert not [u for u in directory.units if u.kind.is_local]


def test_supervision_is_monthly_reconciliation_bulletin_and_rectification(plan: Plan) -> None:
    sv = plan.supervision
    assert sv is not None
    for words in (sv.reconciliation, sv.bulletin, sv.rectification):
        assert words in seed(), words
    assert "月度对账" in sv.reconciliation
    assert "每月通报" in sv.bulletin
    assert "通报并责令整改" in sv.rectification


def test_the_2021_target_is_the_milestone_and_2030_the_horizon(plan: Plan) -> None:
    [phase] = plan.phases
    assert phase.name is PhaseKind.rollout and phase.tasks_due_at_milestones
    [m] = phase.milestones
    assert m.name == "一般型"
    assert m.standard is not None and flat(m.standard) in flat(seed())
    assert phase.goal is not None and phase.goal in seed()
    assert phase.goal.startswith("到2030年")
    # Only years are given: the dates are open, on the year's last day meanwhile.
    assert (m.due, phase.end) == (date(2021, 12, 31), date(2030, 12, 31))
    assert plan.open_field("phases", 0, "milestones", 0, "due") is not None
    assert plan.open_field("phases", 0, "end") is not None


def test_assessment_names_are_the_texts(plan: Plan) -> None:
    for a in plan.assessments:
        assert a.name in seed()


# -- what is left to fill in ------------------------------------------------------------------------


def test_nothing_the_text_does_not_give_has_a_real_value(plan: Plan) -> None:
    for i, t in enumerate(plan.tasks):
        lead, responsible = plan.open_field("tasks", i, "lead"), plan.open_field("tasks", i, "responsible")
        assert lead is not None and lead.what == "牵头单位：原文未明确", t.no
        assert responsible is not None and responsible.what == "责任单位：原文未明确", t.no
        assert (t.lead, t.responsible) == ("office", ())  # the fallbacks, recorded above
        assert (lead.fallback, responsible.fallback) == ("office", "")
    fields = {f.field for f in plan.open_fields}
    assert {"issued", "issuer", "notice_prefix", "phase rollout start", "phase rollout title"} <= fields
    assert (plan.issuer, plan.notice_prefix, plan.phases[0].title) == (TO_FILL_TEXT,) * 3
    assert len(plan.open_fields) == 2 * 21 + 7


def test_open_fields_are_listed_at_their_lines(plan: Plan, text: str) -> None:
    listed = open_field_lines(plan, text, path=str(CHANGHE_PLAN_PATH))
    lines = text.splitlines()
    assert [n for n, _ in listed] == sorted(n for n, _ in listed)
    assert len({n for n, _ in listed}) == len(listed)  # one field per line in this file
    for n, f in listed:
        assert "to_fill:" in lines[n - 1] and f.what in lines[n - 1], (n, f.field)
    assert sum("to_fill:" in s for s in lines if not s.lstrip().startswith("#")) == len(listed)


def test_every_obligation_falls_to_the_office_at_the_2021_target(plan: Plan) -> None:
    obs = expand(plan, "c")
    assert len(obs) == 21  # 17 tasks of 三、重点任务 and 4 of 四、保障措施
    assert {(o.unit_id, o.role, o.lead, o.due, o.milestone) for o in obs} == {
        ("office", UnitRole.lead, "office", date(2021, 12, 31), "general")
    }
    assert obs[4].title == "（二）1．提升住房建设水平（一般型）"


def test_filling_a_field_in_closes_it(text: str, directory: UnitDirectory) -> None:
    filled = replace_once(
        text,
        "    due: {to_fill: 达标日期：原文只写“在2021年”, year: 2021}",
        "    due: 2021-11-30",
    )
    plan = parse_plan(filled, path="p.yaml", directory=directory)
    assert plan.phases[0].milestones[0].due == date(2021, 11, 30)
    assert plan.open_field("phases", 0, "milestones", 0, "due") is None
    assert len(plan.open_fields) == 2 * 21 + 6


def test_a_plan_with_every_field_filled_in_has_none_open(text: str, directory: UnitDirectory) -> None:
    filled = re.sub(r"\{to_fill: [^}]*?, year: (\d+)\}", r"\g<1>-06-30", text)
    filled = filled.replace("{to_fill: 牵头单位：原文未明确}", "office").replace(
        "{to_fill: 责任单位：原文未明确}", "[]"
    )
    filled = re.sub(r"issued: \{to_fill: [^}]*\}", "issued: 2021-03-01", filled)
    filled = re.sub(r"\{to_fill: [^}]*\}", "某某", filled)
    plan = parse_plan(filled, path="p.yaml", directory=directory)
    assert plan.open_fields == ()
    assert "open_fields" not in plan.model_dump(mode="json")


def test_the_ten_year_plan_is_rehearsed_at_double_speed(plan: Plan) -> None:
    # The time-skipping server ends any workflow after 10 years; 2021-01-01 … 2030-12-31 is longer.
    from rules.launch import rehearsal_speed

    assert plan.end - plan.start > timedelta(days=3650)
    assert rehearsal_speed(plan) == 2
    shorter = plan.model_copy(update={"phases": (plan.phases[0].model_copy(update={"end": date(2022, 12, 31)}),)})
    assert rehearsal_speed(shorter) == 1
