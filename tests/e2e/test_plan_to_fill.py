"""`duban plan check` / `plan show` on a plan with fields left to fill in (the 长河镇 draft), and
`--strict`, which the office runs before a live launch."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, Duban

pytestmark = pytest.mark.e2e

CHANGHE = "plans/changhe-2021.yaml"
# Lead and responsible units of each of the 21 tasks; issued, issuer, notice prefix; the phase's
# title, start and end; the 一般型 date.
OPEN = 2 * 21 + 7


def test_plan_check_lists_what_is_left_to_fill_in(duban: Duban) -> None:
    r = duban("plan", "check", CHANGHE)

    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    summary, *listed = r.stdout.splitlines()
    assert summary.startswith(f"{CHANGHE}: ok: 长河镇美丽城镇建设（征求意见稿）: 21 tasks in 6 categories")
    assert summary.endswith(f"; {OPEN} fields to fill in:")
    assert len(listed) == OPEN
    text = (ROOT / CHANGHE).read_text(encoding="utf-8").splitlines()
    for line in listed:
        m = re.fullmatch(rf"{re.escape(CHANGHE)}:(\d+): (.+?): (.+) \(until filled: (.+)\)", line)
        assert m, line
        assert "to_fill:" in text[int(m[1]) - 1], line
        assert m[3] in text[int(m[1]) - 1], line
    issued = _line(text, "issued:")
    until = "2021-01-01, the first phase's start"
    assert listed[0] == f"{CHANGHE}:{issued}: issued: 印发日期：征求意见稿，原文无日期 (until filled: {until})"
    task1 = _line(text, "    lead: {to_fill: 牵头单位：原文未明确}")
    office = "长河镇美丽城镇建设领导小组办公室（城建办） (office)"
    assert f"{CHANGHE}:{task1}: task 1 lead: 牵头单位：原文未明确 (until filled: {office})" in listed


def _line(text: list[str], start: str) -> int:
    return next(i for i, s in enumerate(text, start=1) if s.startswith(start))


def test_plan_check_strict_fails_while_anything_is_open(duban: Duban) -> None:
    r = duban("plan", "check", "--strict", CHANGHE)

    assert r.returncode == 1
    assert len(r.stdout.splitlines()) == 1 + OPEN  # the same listing
    assert r.stderr.splitlines() == [f"{CHANGHE}: {OPEN} fields still to fill in: not ready for a live launch"]


def test_plan_check_strict_passes_a_complete_plan(duban: Duban, tmp_path: Path) -> None:
    r = duban("plan", "check", "--strict", "plans/suixian-2021.yaml")
    assert (r.returncode, r.stderr, len(r.stdout.splitlines())) == (0, "", 1)

    # The 长河镇 plan with every field filled in (values for the test only).
    shutil.copytree(ROOT / "plans" / "units", tmp_path / "units")
    text = (ROOT / CHANGHE).read_text(encoding="utf-8")
    text = re.sub(r"\{to_fill: [^}]*?, year: (\d+)\}", r"\g<1>-06-30", text)
    text = text.replace("{to_fill: 牵头单位：原文未明确}", "office").replace("{to_fill: 责任单位：原文未明确}", "[]")
    text = re.sub(r"issued: \{to_fill: [^}]*\}", "issued: 2021-03-01", text)
    text = re.sub(r"\{to_fill: [^}]*\}", "某某", text)
    (tmp_path / "filled.yaml").write_text(text, encoding="utf-8")

    r = duban("plan", "check", "--strict", "filled.yaml", cwd=tmp_path)

    assert r.returncode == 0, r.stdout + r.stderr
    assert len(r.stdout.splitlines()) == 1
    assert "fill in" not in r.stdout


def test_plan_check_strict_still_reports_a_broken_plan_as_bad_input(duban: Duban, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "plans" / "units", tmp_path / "units")
    text = (ROOT / CHANGHE).read_text(encoding="utf-8").replace("  - no: 5\n", "  - no: 4\n")
    (tmp_path / "broken.yaml").write_text(text, encoding="utf-8")

    r = duban("plan", "check", "--strict", "broken.yaml", cwd=tmp_path)

    assert r.returncode == 2
    assert re.fullmatch(r"broken\.yaml:\d+: duplicate task number 4\n", r.stderr), r.stderr


def test_plan_show_json_marks_what_is_open(duban: Duban) -> None:
    r = duban("plan", "show", CHANGHE, "--json")

    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["to_fill"]) == OPEN
    first = data["to_fill"][0]
    assert first["field"] == "issued" and first["fallback"] == data["issued"] == "2021-01-01"
    assert {"line", "field", "what", "fallback", "until_filled", "because"} <= first.keys()
    for t in data["tasks"]:
        assert t["to_fill"] == {"lead": "牵头单位：原文未明确", "responsible": "责任单位：原文未明确"}, t["no"]
        assert (t["lead_id"], t["responsible_ids"]) == ("office", [])
    assert [t["ref"] for t in data["tasks"][:5]] == ["（一）1", "（一）2", "（一）3", "（一）4", "（二）1"]
    assert data["supervision"]["rectification"] == "对工作推进不力的相关部门进行通报并责令整改"
    [rollout] = data["phases"]
    assert rollout["goal"].startswith("到2030年")

    suixian = json.loads(duban("plan", "show", "plans/suixian-2021.yaml", "--json").stdout)
    assert suixian["to_fill"] == []
    assert all(t["to_fill"] == {} for t in suixian["tasks"])
