"""Calendar data: which dates are holidays and which weekend dates are make-up workdays (调休).

The data is built outside workflows (from chinesecalendar or the updatable calendar file) and
handed to a campaign at launch, so the working-day arithmetic inside workflows is pure and the
calendar a campaign ran on is pinned by hash like its plan and rule set.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from models.frozen import Frozen
from models.plan import content_hash


class YearCalendar(Frozen):
    year: int
    holidays: tuple[date, ...] = ()
    """Weekdays that are official rest days (法定节假日 and bridged days)."""
    workdays: tuple[date, ...] = ()
    """Weekend dates that are official working days (调休 make-up days)."""
    source: str


class CalendarData(Frozen):
    years: tuple[YearCalendar, ...] = Field(default=())

    def digest(self) -> str:
        return content_hash(self.model_dump(mode="json"))

    @property
    def known_years(self) -> frozenset[int]:
        return frozenset(y.year for y in self.years)
