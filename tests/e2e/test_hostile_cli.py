"""Hostile files through the CLI as a user runs it: exit 2 with `FILE:LINE: message`, never a
traceback or a hang (each command bounded by the runner's timeout)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.e2e.conftest import ROOT, Duban, clean_env

PLAN = ROOT / "plans" / "suixian-2021.yaml"
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def plan_with(tmp_path: Path, edit: str) -> str:
    shutil.copytree(ROOT / "plans" / "units", tmp_path / "units")
    text = PLAN.read_text(encoding="utf-8")
    if edit == "bomb":
        text += BOMB
    elif edit == "nul":
        text = text.replace("title:", "title: \x00", 1)
    elif edit == "deep":
        text += "x: " + "[" * 5000 + "]" * 5000 + "\n"
    elif edit == "environ":
        text = text.replace("directory: units/suixian.yaml", "directory: /proc/self/environ")
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    return "p.yaml"


@pytest.mark.parametrize("edit", ["bomb", "nul", "deep", "environ"])
def test_plan_check_refuses_hostile_plans_with_their_line(duban: Duban, tmp_path: Path, edit: str) -> None:
    r = duban("plan", "check", plan_with(tmp_path, edit), cwd=tmp_path, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert re.match(r"^p\.yaml:\d+: ", r.stderr), r.stderr


def test_a_plan_over_the_obligation_bound_is_refused_at_check(duban: Duban, tmp_path: Path) -> None:
    r = duban("plan", "check", PLAN, env=clean_env(DUBAN_MAX_OBLIGATIONS="500"))
    assert r.returncode == 2 and "707 obligations, more than the 500 allowed" in r.stderr, r.stderr


def test_scores_import_of_a_far_corner_cell_is_refused_at_once(duban: Duban, tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws["XFD1048576"] = 1
    wb.save(tmp_path / "corner.xlsx")
    r = duban("scores", "import", "suixian-x", "acceptance_basic", tmp_path / "corner.xlsx", timeout=60)
    assert r.returncode == 2, r.stderr
    assert "XFD1048576: beyond the bounds" in r.stderr and "Traceback" not in r.stderr
