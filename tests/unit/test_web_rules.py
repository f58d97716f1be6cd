"""The pure rules the web door shows: 三色 and 序时进度, roles, and the bind check."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import SecretStr

from activities.config import Settings
from models.board import Light, light, parse_role, schedule_progress
from web.serve import bind_refusal


def test_schedule_progress_is_the_share_of_time_passed() -> None:
    assigned, due = date(2021, 5, 1), date(2021, 5, 11)
    assert schedule_progress(assigned, due, date(2021, 4, 1)) == 0
    assert schedule_progress(assigned, due, date(2021, 5, 6)) == 50
    assert schedule_progress(assigned, due, date(2021, 6, 1)) == 100


@pytest.mark.parametrize(
    ("state", "progress", "schedule", "left", "want"),
    [
        ("completed", 100, 100, -3, Light.green),
        ("in_progress", 90, 100, -1, Light.red),
        ("acknowledged", 50, 40, 5, Light.yellow),
        ("in_progress", 30, 40, 20, Light.yellow),
        ("in_progress", 50, 40, 20, Light.green),
    ],
)
def test_three_lights(state: str, progress: int, schedule: int, left: int, want: Light) -> None:
    assert light(state=state, progress=progress, schedule=schedule, working_days_left=left) is want


def test_roles() -> None:
    assert parse_role("agency:east") == ("agency", "east")
    assert parse_role("auditor") == ("auditor", None)
    for bad in ("agency:", "office:x", "king", "agency:a b"):
        with pytest.raises(ValueError, match="not a role"):
            parse_role(bad)


def test_a_public_address_needs_a_real_secret() -> None:
    assert bind_refusal("127.0.0.1", Settings(env="test")) is None
    assert bind_refusal("::1", Settings(env="test")) is None
    assert "DUBAN_WEB_SECRET" in (bind_refusal("0.0.0.0", Settings(env="test")) or "")
    weak = Settings(env="test", web_secret=SecretStr("changeme"))
    assert bind_refusal("10.0.0.5", weak) is not None
    strong = Settings(env="test", web_secret=SecretStr("x" * 40))
    assert bind_refusal("10.0.0.5", strong) is None
