"""Paths and small text helpers shared by the unit tests (imported as a top-level module: pytest
puts tests/unit on sys.path because the directory is not a package)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLAN_PATH = ROOT / "plans" / "suixian-2021.yaml"
DIRECTORY_PATH = ROOT / "plans" / "units" / "suixian.yaml"
RULESET_PATH = ROOT / "rules" / "rulesets" / "suixian-basic.yaml"
CALENDAR_FILE_PATH = ROOT / "plans" / "calendar" / "cn-extra.yaml"
SEED_PATH = ROOT / "tests" / "fixtures" / "suixian-2021-plan.txt"
"""The plan as the county published it: the text the plan file was transcribed from."""
CHANGHE_PLAN_PATH = ROOT / "plans" / "changhe-2021.yaml"
CHANGHE_DIRECTORY_PATH = ROOT / "plans" / "units" / "changhe.yaml"
CHANGHE_SEED_PATH = ROOT / "tests" / "fixtures" / "changhe-2021-plan.txt"
"""长河镇美丽城镇建设（征求意见稿）, as received: the text plans/changhe-2021.yaml transcribes."""


def replace_once(text: str, old: str, new: str) -> str:
    """`text` with its one occurrence of `old` replaced, so an edit cannot land somewhere unmeant."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the one occurrence of `needle` in `text`."""
    assert text.count(needle) == 1, f"{needle!r} occurs {text.count(needle)} times"
    return text[: text.index(needle)].count("\n") + 1
