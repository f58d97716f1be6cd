"""What the web door shows: accounts, an obligation as a line of the board, the board itself,
and the three lights (三色) with 序时进度. Pure: the lights are worked out here from dates and
progress, so the board, an agency's page and the tests agree on them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

Role = Literal["office", "agency", "auditor", "convener"]

DUE_SOON_WORKING_DAYS = 5
"""Yellow from this many working days before the due date (or when progress lags 序时进度)."""


class Light(StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"


class AccountView(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    display_name: str = ""
    role: str
    """office | agency:<unit> | auditor | convener"""
    disabled: bool = False
    failed_attempts: int = 0
    locked_until: datetime | None = None

    @property
    def kind(self) -> Role:
        kind = self.role.split(":", 1)[0]
        assert kind in ("office", "agency", "auditor", "convener")
        return kind  # type: ignore[return-value]

    @property
    def unit(self) -> str | None:
        return self.role.split(":", 1)[1] if self.role.startswith("agency:") else None


def parse_role(text: str) -> tuple[Role, str | None]:
    """`office`, `agency:<unit>`, `auditor`, `convener` → (kind, unit); ValueError otherwise."""
    kind, _, unit = text.strip().partition(":")
    if kind in ("office", "auditor", "convener") and not unit:
        return kind, None  # type: ignore[return-value]
    if kind == "agency" and unit and len(unit) <= 64 and unit.isprintable() and " " not in unit:
        return "agency", unit
    raise ValueError(f"{text!r} is not a role: office, agency:<unit id>, auditor or convener")


def schedule_progress(assigned: date, due: date, today: date) -> int:
    """序时进度: the share of the time from assignment to the due date that has passed, in percent."""
    if today <= assigned:
        return 0
    if today >= due or due <= assigned:
        return 100
    return round(100 * (today - assigned).days / (due - assigned).days)


def light(*, state: str, progress: int, schedule: int, working_days_left: int) -> Light:
    """三色: red overdue; yellow due within DUE_SOON_WORKING_DAYS working days or behind 序时进度;
    green on time (and every completed obligation)."""
    if state == "completed":
        return Light.green
    if working_days_left < 0:
        return Light.red
    if working_days_left <= DUE_SOON_WORKING_DAYS or progress < schedule:
        return Light.yellow
    return Light.green


class ObligationLine(BaseModel):
    """One obligation as a page shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    campaign: str
    unit_id: str
    unit_name: str
    task_no: int | None
    title: str
    assigned: date
    due: date
    """The due date in force: an approved extension's, else the plan's."""
    state: str
    progress: int
    schedule: int
    """序时进度 (percent)."""
    working_days_left: int
    """Negative: working days overdue."""
    light: Light
    evidence: list[dict[str, object]] = []


class ExtensionRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    obligation: str
    unit_id: str
    due: date
    reason: str
    plan_time: datetime
    account: str | None = None


class Board(BaseModel):
    """The office's board: units × tasks, each cell the obligation's light."""

    model_config = ConfigDict(frozen=True)

    campaign: str
    title: str
    today: date
    units: list[tuple[str, str]]
    """(unit id, name) in board order."""
    tasks: list[int]
    cells: dict[str, dict[int, list[ObligationLine]]]
    overdue: list[ObligationLine]
    extensions: list[ExtensionRequest]
