"""长河镇's score sheets (plans/scoresheets/changhe.yaml): 创建综合评估 and 跟踪检查, each on the
seed's five 提升行动 and the tasks under them, held on the schedule the file sets."""

from __future__ import annotations

import re

import pytest
from unit_support import CHANGHE_DIRECTORY_PATH, CHANGHE_PLAN_PATH, CHANGHE_SEED_PATH, ROOT

from models.assessment import ScoreBook
from models.plan import AssessmentKind, Plan
from rules import calendar as cal
from rules.assessment_schedule import scheduled_rounds
from rules.loading import parse_directory, parse_plan
from rules.scoresheets import parse_scorebook

SHEETS = ROOT / "plans" / "scoresheets" / "changhe.yaml"


@pytest.fixture(scope="module")
def plan() -> Plan:
    d = parse_directory(CHANGHE_DIRECTORY_PATH.read_text(encoding="utf-8"), path=str(CHANGHE_DIRECTORY_PATH))
    return parse_plan(CHANGHE_PLAN_PATH.read_text(encoding="utf-8"), path=str(CHANGHE_PLAN_PATH), directory=d)


@pytest.fixture(scope="module")
def book(plan: Plan) -> ScoreBook:
    return parse_scorebook(SHEETS.read_text(encoding="utf-8"), path=str(SHEETS), plan=plan)


def test_each_assessment_the_text_names_has_a_sheet_of_its_kind(book: ScoreBook, plan: Plan) -> None:
    named = {a.kind: a.name for a in plan.assessments}
    for s in book.sheets:
        assert named[s.kind] in s.name  # 创建综合评估评分表, 跟踪检查评分表
    assert {s.kind for s in book.sheets} == set(named)


def test_the_criteria_are_the_five_actions_and_their_tasks(book: ScoreBook, plan: Plan) -> None:
    seed = CHANGHE_SEED_PATH.read_text(encoding="utf-8")
    actions = re.findall(r"实施(\w+提升行动)，实现(\w+美)", seed)
    assert len(actions) == 5
    for s in book.sheets:
        assert len(s.criteria) == 5
        for c, (action, _) in zip(s.criteria, actions, strict=True):
            assert action in c.name
            category = actions.index(next(a for a in actions if a[0] in c.name)) + 1
            assert set(c.tasks) == {t.no for t in plan.tasks if t.category == category}, (s.id, c.id)


def test_the_office_is_scored_each_quarter_and_each_month_of_2021(book: ScoreBook, plan: Plan) -> None:
    assert [u.id for u in book.units_in_scope(plan.directory)] == ["office"]
    rounds = scheduled_rounds(book, plan, cal.WorkCalendar(cal.build(range(2021, 2023))))
    review = [o.round for o in rounds if o.kind == AssessmentKind.annual_review]
    follow = [o.round for o in rounds if o.kind == AssessmentKind.routine]
    assert review == ["2021-Q1", "2021-Q2", "2021-Q3", "2021-Q4"]
    assert follow == [f"2021-{m:02}" for m in range(1, 13)]
