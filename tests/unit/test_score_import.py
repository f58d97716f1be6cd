"""Importing scores from Excel: all or nothing, every bad cell named by its reference, formulas
refused, and the template round-trips."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.formula import ArrayFormula
from unit_support import ROOT

from activities.score_workbook import WorkbookError, read_cells, write_template
from models.assessment import ScoreBook, ScoreImport, ScoreSheet
from models.plan import Plan, Unit
from rules.score_import import Cell, column_letter, header, read_scores, template
from rules.scoresheets import parse_scorebook

SHEETS_PATH = ROOT / "plans" / "scoresheets" / "suixian.yaml"
DAY = date(2021, 12, 28)


@pytest.fixture(scope="module")
def book(plan: Plan) -> ScoreBook:
    return parse_scorebook(SHEETS_PATH.read_text(encoding="utf-8"), path=str(SHEETS_PATH), plan=plan)


@pytest.fixture(scope="module")
def sheet(book: ScoreBook) -> ScoreSheet:
    return book.sheet("acceptance_basic")


@pytest.fixture(scope="module")
def units(book: ScoreBook, plan: Plan) -> tuple[Unit, ...]:
    return book.units_in_scope(plan.directory)


def filled(sheet: ScoreSheet, units: tuple[Unit, ...]) -> list[list[Cell]]:
    """The template as a grid, every score filled in (80 + row), assessor and date too."""
    n = len(sheet.criteria)
    rows = [[Cell(v) for v in row] for row in template(sheet, units, assessor="张三", on=DAY)]
    for i, row in enumerate(rows[1:], start=1):
        row[2 : 2 + n] = [Cell(80 + i % 20)] * n
    return rows


def errors(got: ScoreImport) -> list[str]:
    assert not got.records
    return [str(e) for e in got.errors]


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 3, 25, 26, 27, 701, 702)] == ["A", "D", "Z", "AA", "AB", "ZZ", "AAA"]


def test_a_clean_grid_gives_one_record_per_row(sheet: ScoreSheet, units: tuple[Unit, ...]) -> None:
    got = read_scores(sheet, units, filled(sheet, units), source="f.xlsx")
    assert got.ok
    assert [r.unit_id for r in got.records] == [u.id for u in units]
    assert got.records[0].points == {c.id: 81 for c in sheet.criteria}
    assert got.records[0].source == "f.xlsx:2"
    assert "lishan" not in {r.unit_id for r in got.records}  # the seat town is not in scope


def test_one_bad_cell_imports_nothing_and_names_exactly_that_cell(sheet: ScoreSheet, units: tuple[Unit, ...]) -> None:
    rows = filled(sheet, units)
    rows[4][3] = Cell(105)  # D5
    assert errors(read_scores(sheet, units, rows, source="f.xlsx")) == ["D5: 分数 105 超过满分 100"]


@pytest.mark.parametrize(
    ("at", "value", "message"),
    [
        ((6, 2), Cell("良好"), "C7: “良好” 不是数字"),
        ((6, 2), Cell(None), "C7: 缺少分数"),
        ((6, 2), Cell("  "), "C7: 缺少分数"),
        ((6, 2), Cell(-2), "C7: 分数 -2 小于 0"),
        ((6, 2), Cell(True), "C7: “True” 不是数字"),
        ((6, 2), Cell(date(2021, 5, 1)), "C7: “2021-05-01” 不是数字"),
        ((6, 2), Cell("=C6+1", formula=True), "C7: 公式 =C6+1 不予导入：请填写数值"),
        ((6, 0), Cell("nowhere"), "A7: 未知单位 “nowhere”：不是评分范围内的镇、场、景区"),
        ((6, 0), Cell("lishan"), "A7: 未知单位 “lishan”：不是评分范围内的镇、场、景区"),
        ((6, 0), Cell("gaocheng"), "A7: 单位 gaocheng（高城镇）重复：已在第 2 行"),
        ((6, 1), Cell("高城镇"), "B7: 单位名称 “高城镇” 与单位代码 wanhe（万和镇）不符"),
        ((6, 7), Cell("2021-02-30"), "H7: “2021-02-30” 不是日期（YYYY-MM-DD）"),
        ((6, 9), Cell("备注"), "J7: “备注” 没有表头：请删去或移入对应列"),
    ],
)
def test_each_kind_of_bad_cell_is_named(
    sheet: ScoreSheet, units: tuple[Unit, ...], at: tuple[int, int], value: Cell, message: str
) -> None:
    rows = filled(sheet, units)
    i, j = at
    rows[i] = [*rows[i], *([Cell(None)] * (j + 1 - len(rows[i])))]
    rows[i][j] = value
    assert errors(read_scores(sheet, units, rows, source="f.xlsx")) == [message]


def test_every_bad_cell_is_listed_in_sheet_order(sheet: ScoreSheet, units: tuple[Unit, ...]) -> None:
    rows = filled(sheet, units)
    rows[9][5] = Cell("x")
    rows[2][2] = Cell(101)
    rows[2][4] = Cell(None)
    got = errors(read_scores(sheet, units, rows, source="f.xlsx"))
    assert [e.split(":")[0] for e in got] == ["C3", "E3", "F10"]


def test_a_header_problem_names_the_header(sheet: ScoreSheet, units: tuple[Unit, ...]) -> None:
    rows = filled(sheet, units)
    rows[0][3] = Cell("干净 [clean]")  # not on this sheet; clean_water's column is gone
    got = errors(read_scores(sheet, units, rows, source="f.xlsx"))
    assert got == [
        "1:1: 缺少列 “干净：污水治理与水域保洁 [clean_water]”",
        "D1: 未知的列 “干净 [clean]”（评分表 acceptance_basic）",
    ]


def test_headers_may_be_relabelled_but_keep_their_key(sheet: ScoreSheet, units: tuple[Unit, ...]) -> None:
    rows = filled(sheet, units)
    rows[0][2] = Cell("垃圾 [clean_waste]")
    rows[0][3] = Cell(sheet.criteria[1].name)  # the criterion's exact name reads too
    assert read_scores(sheet, units, rows, source="f.xlsx").ok


def test_a_field_inspection_score_must_be_on_a_set_date(book: ScoreBook, units: tuple[Unit, ...]) -> None:
    sheet = book.sheet("field_inspection")
    rows = filled(sheet, units)
    date_col = header(sheet).index("评分日期 [date]")
    for row in rows[1:]:
        row[date_col] = Cell(sheet.dates[0])
    rows[3][date_col] = Cell("2021/9/16")
    got = errors(read_scores(sheet, units, rows, source="f.xlsx"))
    assert got == [
        f"{column_letter(date_col)}4: 评分日期 2021-09-16 不是拉练检查日（2021-09-15、2022-03-15、2022-09-15）"
    ]


def test_blank_rows_are_skipped_and_an_empty_sheet_is_refused(sheet: ScoreSheet, units: tuple[Unit, ...]) -> None:
    rows = filled(sheet, units)
    got = read_scores(sheet, units, [*rows[:3], [Cell(None)] * 4, *rows[3:]], source="f.xlsx")
    assert len(got.records) == len(units)
    assert errors(read_scores(sheet, units, rows[:1], source="f.xlsx")) == ["2:2: 没有可导入的评分行"]
    assert errors(read_scores(sheet, units, [], source="f.xlsx")) == ["1:1: 工作表是空的：第 1 行应为表头"]


# -- through real .xlsx files ---------------------------------------------------------------------------


def test_the_template_round_trips(tmp_path: Path, sheet: ScoreSheet, units: tuple[Unit, ...]) -> None:
    path = tmp_path / "t.xlsx"
    write_template(path, sheet, units)
    wb = load_workbook(path)
    ws = wb.active
    assert ws is not None
    assert ws.title == sheet.id
    assert ws.max_row == 1 + len(units)
    assert [ws.cell(row=i, column=1).value for i in range(2, ws.max_row + 1)] == [u.id for u in units]
    entered = {}
    for i in range(2, ws.max_row + 1):
        pts = [60 + (i * 7 + j * 3) % 40 + 0.5 * (j % 2) for j in range(len(sheet.criteria))]
        for j, p in enumerate(pts):
            ws.cell(row=i, column=3 + j, value=p)
        ws.cell(row=i, column=3 + len(pts), value="李四")
        ws.cell(row=i, column=4 + len(pts), value=DAY)
        ws.cell(row=i, column=5 + len(pts), value="背街小巷乱堆乱放\n垃圾未日产日清")
        entered[ws.cell(row=i, column=1).value] = dict(zip((c.id for c in sheet.criteria), pts, strict=True))
    wb.save(path)

    _, rows = read_cells(path, prefer=sheet.id)
    got = read_scores(sheet, units, rows, source=path.name)
    assert got.ok, got.errors
    assert {r.unit_id: r.points for r in got.records} == entered
    assert {r.assessed_on for r in got.records} == {DAY}
    assert got.records[0].findings == ("背街小巷乱堆乱放", "垃圾未日产日清")


def test_a_formula_cell_in_a_file_is_refused_even_when_its_value_would_do(
    tmp_path: Path, sheet: ScoreSheet, units: tuple[Unit, ...]
) -> None:
    path = tmp_path / "t.xlsx"
    write_template(path, sheet, units, assessor="张三", on=DAY)
    wb = load_workbook(path)
    ws = wb.active
    assert ws is not None
    for row in ws.iter_rows(min_row=2, min_col=3, max_col=2 + len(sheet.criteria)):
        for cell in row:
            cell.value = 90
    ws["C4"] = "=80+5"
    ws["F9"] = ArrayFormula("F9", "=SUM(C9:E9)/3")
    wb.save(path)
    _, rows = read_cells(path)
    assert errors(read_scores(sheet, units, rows, source=path.name)) == [
        "C4: 公式 =80+5 不予导入：请填写数值",
        "F9: 公式 =SUM(C9:E9)/3 不予导入：请填写数值",
    ]


def test_not_a_workbook(tmp_path: Path) -> None:
    bad = tmp_path / "scores.xlsx"
    bad.write_text("unit,clean\n", encoding="utf-8")
    with pytest.raises(WorkbookError, match="not an Excel workbook"):
        read_cells(bad)
    with pytest.raises(WorkbookError, match="no such file"):
        read_cells(tmp_path / "absent.xlsx")
