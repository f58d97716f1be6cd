"""Score-sheet files: the shipped one loads and matches the plan; broken ones are refused with the
file and line of the mistake."""

from __future__ import annotations

import math

import pytest
from unit_support import ROOT, line_of, replace_once

from models.assessment import ScoreBook
from models.plan import AssessmentKind, Plan
from rules.loading import SourceError
from rules.scoresheets import parse_scorebook

SHEETS_PATH = ROOT / "plans" / "scoresheets" / "suixian.yaml"
PATH = "sheets.yaml"

MINI = """\
plan: suixian-2021
evaluation: {commendations: 0}
sheets:
  - id: basic_check
    name: 基础型验收
    kind: acceptance
    milestone: basic
    pass_mark: 80
    criteria:
      - {id: clean, name: 干净, weight: 40, max_points: 100}
      - {id: tidy, name: 整洁, weight: 30, max_points: 100}
      - {id: orderly, name: 有序, weight: 30, max_points: 10, tasks: [4]}
"""


@pytest.fixture(scope="module")
def book(plan: Plan) -> ScoreBook:
    return parse_scorebook(SHEETS_PATH.read_text(encoding="utf-8"), path=str(SHEETS_PATH), plan=plan)


def test_the_shipped_sheets_cover_the_four_kinds_and_both_standards(book: ScoreBook) -> None:
    assert {s.kind for s in book.sheets} == set(AssessmentKind)
    assert {s.milestone for s in book.sheets if s.kind == AssessmentKind.acceptance} == {"basic", "model"}
    for s in book.sheets:
        assert math.isclose(sum(c.weight for c in s.criteria), 100)
    basic = next(s for s in book.sheets if s.milestone == "basic")
    names = "".join(c.name for c in basic.criteria)
    for word in ("干净", "整洁", "有序"):  # the plan's words for 基础型
        assert word in names
    model = next(s for s in book.sheets if s.milestone == "model")
    names = "".join(c.name for c in model.criteria)
    for word in ("配套完善", "宜居宜业", "特色鲜明"):  # and for 示范型
        assert word in names
    assert book.sheet("field_inspection").dates


def test_the_mini_sheet_parses() -> None:
    book = parse_scorebook(MINI, path=PATH)
    assert [c.id for c in book.sheet("basic_check").criteria] == ["clean", "tidy", "orderly"]


# (edit, the text on the line the error points at, words the message contains)
BROKEN = {
    "weights short of 100": (("weight: 40", "weight: 35"), "    criteria:", ["sum to 95", "100"]),
    "a weight of zero": (("weight: 40", "weight: 0"), "{id: clean", ["weight", "greater than 0"]),
    "duplicate criterion": (("{id: tidy,", "{id: clean,"), "{id: clean, name: 整洁", ["clean", "twice"]),
    "pass mark above 100": (("pass_mark: 80", "pass_mark: 120"), "pass_mark: 120", ["pass mark 120"]),
    "pass mark below 0": (("pass_mark: 80", "pass_mark: -1"), "pass_mark: -1", ["pass mark -1"]),
    "acceptance without milestone": (("    milestone: basic\n", ""), "    kind: acceptance", ["names the milestone"]),
    "dates on an acceptance": (
        ("    pass_mark: 80\n", "    pass_mark: 80\n    dates: [2021-09-15]\n"),
        "    dates:",
        ["only a field inspection"],
    ),
    "a re-check interval of zero": (
        ("    pass_mark: 80\n", "    pass_mark: 80\n    recheck_working_days: 0\n"),
        "recheck_working_days: 0",
        ["recheck_working_days", "greater than or equal to 1"],
    ),
    "zero max points": (("max_points: 10,", "max_points: 0,"), "{id: orderly", ["max_points"]),
    "unknown key": (("    pass_mark: 80\n", "    pass_mark: 80\n    passmark: 70\n"), "passmark", ["passmark"]),
    "evaluation weights": (
        ("evaluation: {commendations: 0}", "evaluation: {commendations: 0, timeliness: 50}"),
        "evaluation:",
        ["evaluation weights sum to 110"],
    ),
    "no sheet for the commendation milestone": (
        ("evaluation: {commendations: 0}", "evaluation:\n  commendations: 3\n  commendation_milestone: model"),
        "commendation_milestone: model",
        ["model"],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_sheet_names_its_line(case: str) -> None:
    (old, new), at, words = BROKEN[case]
    text = replace_once(MINI, old, new)
    with pytest.raises(SourceError) as e:
        parse_scorebook(text, path=PATH)
    assert e.value.path == PATH
    assert e.value.line == line_of(text, at), str(e.value)
    for w in words:
        assert w in e.value.message, (w, str(e.value))


def test_a_field_inspection_needs_set_dates() -> None:
    text = replace_once(MINI, "kind: acceptance\n    milestone: basic\n", "kind: field_inspection\n")
    with pytest.raises(SourceError, match="set dates") as e:
        parse_scorebook(text, path=PATH)
    assert e.value.line == line_of(text, "  - id: basic_check")


def test_duplicate_sheet_ids_point_at_the_second() -> None:
    second = MINI.split("sheets:\n", 1)[1].replace("name: 基础型验收", "name: 再验收")
    text = MINI + second
    with pytest.raises(SourceError, match="appears twice") as e:
        parse_scorebook(text, path=PATH)
    assert e.value.line == text.count("\n", 0, text.rindex("  - id: basic_check")) + 1


@pytest.mark.parametrize(
    ("old", "new", "at", "word"),
    [
        ("    milestone: basic\n", "    milestone: golden\n", "milestone: golden", "unknown milestone 'golden'"),
        ("tasks: [4]", "tasks: [4, 16]", "tasks: [4, 16]", "no task 16"),
        ("plan: suixian-2021", "plan: other-plan", "plan: other-plan", "other-plan"),
    ],
)
def test_checked_against_the_plan(plan: Plan, old: str, new: str, at: str, word: str) -> None:
    text = replace_once(MINI, old, new)
    parse_scorebook(text, path=PATH)  # fine on its own: only the plan knows
    with pytest.raises(SourceError) as e:
        parse_scorebook(text, path=PATH, plan=plan)
    assert e.value.line == line_of(text, at)
    assert word in e.value.message
