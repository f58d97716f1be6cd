"""A campaign past the calendar's last known year says so once, at launch, naming the years
(长河镇's plan runs to 2030; chinesecalendar knows to 2026 and cn-extra.yaml adds none yet)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import rules.calendar as cal
from activities.config import Settings
from cli import common
from services.plans import load_plan, prepare

ROOT = Path(__file__).resolve().parents[2]


def test_changhe_launch_names_the_years_no_calendar_knows(capsys: pytest.CaptureFixture[str]) -> None:
    plan = load_plan(ROOT / "plans" / "changhe-2021.yaml")
    settings = Settings(calendar_file=ROOT / "plans" / "calendar" / "cn-extra.yaml")
    launch = prepare(
        plan,
        ROOT / "rules" / "rulesets" / "changhe-default.yaml",
        campaign_id="changhe-cal",
        server_now=datetime(2026, 12, 1, tzinfo=UTC),
        live=False,
        settings=settings,
    )
    last = max(cal.package_years())
    assert plan.end.year > last
    assert launch.missing_years == list(range(last + 1, plan.end.year + 2))
    common.warn_missing(launch.missing_years, settings)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1  # once, not once per year
    assert f"{last + 1}–{plan.end.year + 1}" in lines[0]
