"""The office's board at province size: counts per county and per task (三色 and 序时进度), and
the town × task grid a page of towns at a time.

A county's board (随县: 23 units) is drawn whole; a province's (1,000 towns, 30,000 obligations)
is 4 MB of HTML drawn whole, so above `FULL_BOARD_MAX_UNITS` the board is the summary, and the
grid comes in pages of `GRID_PAGE_UNITS` towns. Pure: the read side fills these in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict

from models.board import DUE_SOON_WORKING_DAYS, ExtensionRequest, ObligationLine

FULL_BOARD_MAX_UNITS = 60
"""Up to this many units the board is the whole units × tasks grid (a county's is about 25)."""

GRID_PAGE_UNITS = 50
"""Towns on one page of a province's grid (each a row of 15 tasks × 2 milestones)."""

OVERDUE_SHOWN = 50
"""The most overdue obligations a province's board lists by name; the rest are counted."""

_COUNTY = re.compile(r"^(c[0-9]+)-")
COUNTY_PATTERN = "^c[0-9]+-"
"""Town ids of a generated province carry their county (`c007-gaocheng`: rules/province.py)."""


def county_of(unit_id: str) -> str:
    """The county a unit belongs to, from its id (`c007-gaocheng` → `c007`); "" when it names none."""
    found = _COUNTY.match(unit_id)
    return found.group(1) if found else ""


def county_label(county: str) -> str:
    """`c007` → 第7县 (as rules/province.py names its copies); "" → 本级."""
    return f"第{int(county[1:])}县" if county else "本级"


def due_thresholds(today: date, working_days_between: Callable[[date, date], int]) -> tuple[date, date]:
    """The two dates that decide a light from the due date alone, so that SQL can count lights:
    (red_before, yellow_until): an open obligation is red when due < red_before (working days
    left < 0), and yellow by its date when due <= yellow_until (working days left <=
    DUE_SOON_WORKING_DAYS). Working days left grow with the due date, so a threshold is found by
    walking from today over the holidays and weekends around it."""
    red_before = today
    while working_days_between(today, red_before - timedelta(days=1)) >= 0:
        red_before -= timedelta(days=1)
    yellow_until = today
    while working_days_between(today, yellow_until + timedelta(days=1)) <= DUE_SOON_WORKING_DAYS:
        yellow_until += timedelta(days=1)
    return red_before, yellow_until


class Counts(BaseModel):
    """One row of the summary: a county's, a task's, or the campaign's."""

    model_config = ConfigDict(frozen=True)

    key: str
    """The county id (`c007`, "" for units of no county), the task number, or "" for the total."""
    label: str
    units: int
    obligations: int
    red: int
    yellow: int
    green: int
    completed: int
    progress: int
    """Mean 进度 (percent)."""
    schedule: int
    """Mean 序时进度 (percent)."""


class BoardSummary(BaseModel):
    """A province's board: counts by county and by task, the most overdue, 延期申请 waiting."""

    model_config = ConfigDict(frozen=True)

    campaign: str
    title: str
    today: date
    total: Counts
    counties: list[Counts]
    tasks: list[Counts]
    overdue: list[ObligationLine]
    """The OVERDUE_SHOWN most overdue; `total.red` counts them all."""
    extensions: list[ExtensionRequest]


class BoardPage(BaseModel):
    """One page of the units × tasks grid, of a county's towns or of all, maybe one task's."""

    model_config = ConfigDict(frozen=True)

    campaign: str
    title: str
    today: date
    page: int
    pages: int
    units_total: int
    county: str | None = None
    task: int | None = None
    units: list[tuple[str, str]]
    tasks: list[int]
    cells: dict[str, dict[int, list[ObligationLine]]]
