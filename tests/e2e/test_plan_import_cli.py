"""`duban plan import` / `plan export --xlsx` as the office runs them: the exit codes, the messages,
and no file written on refusal."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import openpyxl
import pytest

from tests.e2e.conftest import ROOT, Duban

pytestmark = pytest.mark.e2e


def test_import_the_changhe_text_then_check_it(duban: Duban, tmp_path: Path) -> None:
    (tmp_path / "units").mkdir()
    shutil.copy(ROOT / "plans" / "units" / "changhe.yaml", tmp_path / "units" / "changhe.yaml")
    draft = tmp_path / "changhe.yaml"
    r = duban(
        "plan", "import", ROOT / "tests/fixtures/changhe-2021-plan.txt", "--units", tmp_path / "units/changhe.yaml",
        "-o", draft,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("41 fields to fill in")
    r = duban("plan", "check", draft)
    assert r.returncode == 0, r.stderr
    listed = r.stdout.splitlines()[1:]
    text = draft.read_text(encoding="utf-8").splitlines()
    assert len(listed) == 41
    for line in listed:  # each at the line of its to_fill marker
        m = re.match(rf"{re.escape(str(draft))}:(\d+): ", line)
        assert m and "to_fill:" in text[int(m[1]) - 1], line
    assert duban("plan", "check", "--strict", draft).returncode == 1


def test_a_text_not_in_plan_form_is_refused_with_its_line(duban: Duban, tmp_path: Path) -> None:
    src = tmp_path / "memo.txt"
    src.write_text("备忘\n一、事项\n无。\n", encoding="utf-8")
    r = duban("plan", "import", src)
    assert r.returncode == 2
    assert r.stderr.strip() == f"{src}:2: no 重点任务 section: nothing to draft tasks from"
    assert "Traceback" not in r.stderr + r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["memo.txt"]


def test_xlsx_round_trip_and_a_bad_cell(duban: Duban, tmp_path: Path) -> None:
    book = tmp_path / "s.xlsx"
    plan = ROOT / "plans" / "suixian-2021.yaml"
    assert duban("plan", "export", plan, "--xlsx", book).returncode == 0
    back = ROOT / "plans" / f".e2e-{tmp_path.name}.yaml"  # beside the directory it names
    try:
        r = duban("plan", "import", book, "--plan", plan, "-o", back)
        assert r.returncode == 0, r.stderr
        digest = duban("plan", "show", back, "--json").stdout
        assert '"hash"' in digest
        assert duban("plan", "show", plan, "--json").stdout == digest.replace(str(back.name), plan.name)
    finally:
        back.unlink(missing_ok=True)
    wb = openpyxl.load_workbook(book)
    wb["任务分解表"]["C7"] = "县教育局局"
    wb.save(book)
    r = duban("plan", "import", book, "--plan", plan, "-o", tmp_path / "o.yaml")
    assert (r.returncode, r.stderr.strip()) == (2, f"{book}: 任务分解表!C7: 未知单位 县教育局局")
    assert not (tmp_path / "o.yaml").exists()
