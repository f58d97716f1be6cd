"""China's official working days, make-up workdays (调休) included.

`WorkCalendar` is pure arithmetic over `CalendarData`. The data comes from `chinesecalendar` for
the years it knows (2004-2026 in the version pinned here) and from the office's calendar file
for later years; a year in neither source falls back to Monday-Friday, and the calendar says so
(`missing_years`) so the caller can warn, never crash.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import chinese_calendar
from pydantic import BaseModel, ConfigDict, ValidationError

from models.calendar import CalendarData, YearCalendar

PACKAGE_SOURCE = f"chinesecalendar {getattr(chinese_calendar, '__version__', '')}".strip()


def package_years() -> frozenset[int]:
    return frozenset(d.year for d in chinese_calendar.holidays)


def from_package(year: int) -> YearCalendar | None:
    """The year as `chinesecalendar` has it, or None when the package does not know it."""
    if year not in package_years():
        return None
    return YearCalendar(
        year=year,
        holidays=tuple(sorted(d for d in chinese_calendar.holidays if d.year == year)),
        workdays=tuple(sorted(d for d in chinese_calendar.workdays if d.year == year)),
        source=PACKAGE_SOURCE,
    )


class _FileYear(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str
    holidays: list[date] = []
    workdays: list[date] = []


class _CalendarFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    years: dict[int, _FileYear] = {}


def parse_calendar_file(data: Any, *, path: str) -> dict[int, YearCalendar]:
    """The office's calendar file (already parsed YAML): {years: {2027: {source, holidays, workdays}}}."""
    try:
        f = _CalendarFile.model_validate(data or {})
    except ValidationError as e:
        raise ValueError(f"{path}: {e.errors(include_url=False)[0]['msg']}") from None
    out: dict[int, YearCalendar] = {}
    for year, y in f.years.items():
        for d in (*y.holidays, *y.workdays):
            if d.year != year:
                raise ValueError(f"{path}: {d} is listed under year {year}")
        for d in y.workdays:
            if d.weekday() < 5:
                raise ValueError(f"{path}: make-up workday {d} is not a weekend day")
        out[year] = YearCalendar(
            year=year, holidays=tuple(sorted(y.holidays)), workdays=tuple(sorted(y.workdays)), source=y.source
        )
    return out


def build(years: Iterable[int], file_years: dict[int, YearCalendar] | None = None) -> CalendarData:
    """Calendar data for the given years: the package first, then the file. Unknown years are
    left out (and so fall back to Monday-Friday)."""
    out: list[YearCalendar] = []
    for y in sorted(set(years)):
        yc = from_package(y) or (file_years or {}).get(y)
        if yc is not None:
            out.append(yc)
    return CalendarData(years=tuple(out))


class WorkCalendar:
    """Working-day arithmetic over pinned calendar data."""

    def __init__(self, data: CalendarData) -> None:
        self.data = data
        self._holidays = {d for y in data.years for d in y.holidays}
        self._workdays = {d for y in data.years for d in y.workdays}
        self._known = data.known_years
        # Per year, the number of working days on or before each day of it (index 0 = 1 Jan):
        # working-day counts become two lookups instead of a walk over every day between.
        self._prefix: dict[int, list[int]] = {}
        # Shifts asked again and again (every obligation's monthly firing falls on the same few
        # days): a thousand towns' launch walked ~300 calendar days per town for them.
        self._shifts: dict[tuple[date, int], date] = {}

    def knows(self, d: date) -> bool:
        return d.year in self._known

    def missing_years(self, start: date, end: date) -> list[int]:
        return [y for y in range(start.year, end.year + 1) if y not in self._known]

    def is_working_day(self, d: date) -> bool:
        if d in self._workdays:
            return True
        return d.weekday() < 5 and d not in self._holidays

    def kind(self, d: date) -> str:
        """'workday', 'make-up workday' (调休), 'holiday' or 'weekend'."""
        if d in self._workdays:
            return "make-up workday"
        if d in self._holidays:
            return "holiday"
        return "workday" if d.weekday() < 5 else "weekend"

    def on_or_after(self, d: date) -> date:
        """The date itself if it is a working day, else the next one (a deadline on a holiday moves)."""
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def shift(self, d: date, n: int) -> date:
        """The date n working days after d (before, if n < 0); n = 0 is d moved onto a working day."""
        known = self._shifts.get((d, n))
        if known is not None:
            return known
        if n == 0:
            out = self.on_or_after(d)
        else:
            step = timedelta(days=1 if n > 0 else -1)
            left, out = abs(n), d
            while left:
                out += step
                if self.is_working_day(out):
                    left -= 1
        self._shifts[(d, n)] = out
        return out

    def _upto(self, d: date) -> int:
        """Working days from 1 January of d's year to d, inclusive."""
        prefix = self._prefix.get(d.year)
        if prefix is None:
            day, n, prefix = date(d.year, 1, 1), 0, []
            while day.year == d.year:
                n += self.is_working_day(day)
                prefix.append(n)
                day += timedelta(days=1)
            self._prefix[d.year] = prefix
        return prefix[d.timetuple().tm_yday - 1]

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b] when a < b; negative, counting (b, a], when b < a."""
        if a == b:
            return 0
        lo, hi, sign = (a, b, 1) if a < b else (b, a, -1)
        n = self._upto(hi) - self._upto(lo)
        for year in range(lo.year, hi.year):
            n += self._upto(date(year, 12, 31))
        return sign * n
