"""`duban scores check` and `template` as a user runs them: exit 0 with a summary, exit 2 naming
the line of a mistake, never a traceback. (Import and enter store into a campaign's database:
tests/integration/test_scores.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.e2e.conftest import ROOT, Duban
from tests.support import no_traceback

pytestmark = pytest.mark.e2e

SHEETS = ROOT / "plans" / "scoresheets" / "suixian.yaml"
TOWNS_IN_SCOPE = 19


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


def test_template_has_a_row_per_town_in_scope_and_a_column_per_criterion(duban: Duban, tmp_path: Path) -> None:
    """Importing and entering scores needs a campaign to store them in: tests/integration/test_scores.py."""
    path = tmp_path / "basic.xlsx"
    r = duban("scores", "template", "acceptance_basic", "--units", "plans/units/suixian.yaml", "--out", path)
    assert r.returncode == 0, r.stderr
    assert f"{TOWNS_IN_SCOPE} units × 4 criteria" in r.stdout
    ws = load_workbook(path).active
    assert ws is not None
    assert ws.max_row == 1 + TOWNS_IN_SCOPE
    assert "lishan" not in [c.value for c in ws["A"]]
