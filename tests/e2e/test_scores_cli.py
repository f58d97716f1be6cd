"""`duban scores …` as a user runs it: check, template → fill in Excel → import, and enter; exit 0
with a summary, exit 2 naming every problem (a cell, a criterion, a line), never a traceback."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.e2e.conftest import ROOT, Duban

pytestmark = pytest.mark.e2e

SHEETS = ROOT / "plans" / "scoresheets" / "suixian.yaml"
TOWNS_IN_SCOPE = 19


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr


def fill(path: Path, *, scores: int = 4, value: float = 90) -> None:
    """Fill every score cell of a template, as the assessors would in Excel."""
    wb = load_workbook(path)
    ws = wb.active
    assert ws is not None
    for row in ws.iter_rows(min_row=2, min_col=3, max_col=2 + scores):
        for cell in row:
            cell.value = value
    wb.save(path)


def test_scores_check_summarises_the_shipped_sheets(duban: Duban) -> None:
    r = duban("scores", "check")
    assert r.returncode == 0, r.stderr
    assert "ok: 5 sheets for suixian-2021" in r.stdout
    for sheet in ("routine", "field_inspection", "acceptance_basic", "acceptance_model", "annual_review"):
        assert sheet in r.stdout


def test_scores_check_names_the_line_of_a_mistake(duban: Duban, tmp_path: Path) -> None:
    text = SHEETS.read_text(encoding="utf-8")
    broken = text.replace("    pass_mark: 85\n", "    pass_mark: 185\n")
    line = broken[: broken.index("pass_mark: 185")].count("\n") + 1
    bad = tmp_path / "sheets.yaml"
    bad.write_text(broken, encoding="utf-8")
    r = duban("scores", "check", bad)
    assert r.returncode == 2
    assert r.stderr.strip() == f"{bad}:{line}: sheets.3: sheet acceptance_model: pass mark 185 is outside 0–100"
    no_traceback(r)


def test_template_then_import_gives_the_scores_entered(duban: Duban, tmp_path: Path) -> None:
    path = tmp_path / "basic.xlsx"
    r = duban("scores", "template", "acceptance_basic", "--units", "plans/units/suixian.yaml", "--out", path)
    assert r.returncode == 0, r.stderr
    assert f"{TOWNS_IN_SCOPE} units × 4 criteria" in r.stdout
    fill(path, value=85)

    r = duban("scores", "import", "acceptance_basic", path, "--assessor", "县住建局验收组", "--date", "2021-12-28")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert f"ok: {TOWNS_IN_SCOPE} units on acceptance_basic" in first
    assert f"{TOWNS_IN_SCOPE} passed, 0 failed (pass mark 80); mean 85.00" in first
    assert "nothing stored" in r.stderr

    r = duban(
        "scores", "import", "acceptance_basic", path, "--assessor", "县住建局验收组", "--date", "2021-12-28", "--json"
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data) == TOWNS_IN_SCOPE
    assert data[0]["record"]["points"] == {"clean_waste": 85, "clean_water": 85, "tidy": 85, "orderly": 85}
    assert data[0]["record"]["assessed_on"] == "2021-12-28"
    assert data[0]["score"] == data[0]["score"] | {"total": 85, "passed": True}
    assert "lishan" not in {d["record"]["unit_id"] for d in data}


def test_import_with_bad_cells_exits_2_naming_each_and_imports_nothing(duban: Duban, tmp_path: Path) -> None:
    path = tmp_path / "routine.xlsx"
    r = duban("scores", "template", "routine", "--out", path, "--assessor", "张三", "--date", "2021-06-10")
    assert r.returncode == 0, r.stderr
    fill(path)
    wb = load_workbook(path)
    ws = wb.active
    assert ws is not None
    ws["D5"] = 105
    ws["C9"] = "=D9"
    wb.save(path)

    r = duban("scores", "import", "routine", path)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.splitlines()[1:] == ["D5: 分数 105 超过满分 100", "C9: 公式 =D9 不予导入：请填写数值"]
    assert "2 bad cells; nothing imported" in r.stderr.splitlines()[0]
    no_traceback(r)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "x.xlsx"], "no score sheet 'nope'"),
        (["routine", "absent.xlsx"], "absent.xlsx: no such file"),
        (["routine", "plans/units/suixian.yaml"], "not an Excel workbook"),
    ],
)
def test_import_refuses_what_it_cannot_read(duban: Duban, args: list[str], message: str) -> None:
    r = duban("scores", "import", *args)
    assert r.returncode == 2
    assert message in r.stderr
    no_traceback(r)


def test_enter_prints_the_computed_score(duban: Duban) -> None:
    r = duban(
        "scores", "enter", "routine", "高城镇", "clean=90", "tidy=85.5", "orderly=50", "progress=70",
        "--assessor", "张三", "--date", "2021-06-10", "--finding", "背街小巷乱堆乱放",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "score 73.88 / 100, pass mark 60: pass" in r.stdout
    assert "不达标" in r.stdout  # orderly 50 < 60% of 100
    assert "finding: 背街小巷乱堆乱放" in r.stdout
    assert "nothing stored" in r.stderr

    r = duban(
        "scores", "enter", "acceptance_basic", "gaocheng", "clean_waste=80", "clean_water=80", "tidy=80",
        "orderly=79", "--assessor", "验收组", "--date", str(date(2021, 12, 28)), "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["score"]["total"] == 79.75
    assert data["score"]["passed"] is False


def test_enter_exits_2_naming_every_problem(duban: Duban) -> None:
    r = duban(
        "scores", "enter", "field_inspection", "lishan", "environment=105", "townscape=abc",
        "--assessor", "张三", "--date", "2021-09-16",
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0] == "field_inspection lishan: 6 problems; nothing entered"
    assert lines[1:] == [
        "lishan: 不是评分范围内的单位（镇、场、景区）",
        "environment: 分数 105 超过满分 100",
        "townscape: “abc” 不是数字",
        "facilities: 缺少分数",
        "governance: 缺少分数",
        "评分日期 2021-09-16 不是拉练检查日（2021-09-15、2022-03-15、2022-09-15）",
    ]
    no_traceback(r)
