"""Working-day arithmetic on China's official calendar, 调休 included, and the office's calendar file."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit_support import CALENDAR_FILE_PATH

from rules import calendar as cal
from rules.calendar import WorkCalendar, build, package_years, parse_calendar_file
from rules.loading import parse_yaml

# Dates well inside the years the package knows, with room for shifts of a few hundred days.
DATES = st.dates(min_value=date(2005, 1, 1), max_value=date(2025, 6, 30))
STEPS = st.integers(min_value=-300, max_value=300)
FAST = settings(max_examples=150, deadline=None)


# -- known facts of 2021-2022 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working", "kind"),
    [
        (date(2021, 4, 25), True, "make-up workday"),  # Sunday before 劳动节
        (date(2021, 5, 3), False, "holiday"),  # Monday in 劳动节
        (date(2021, 5, 8), True, "make-up workday"),  # Saturday after 劳动节
        (date(2021, 5, 9), False, "weekend"),
        (date(2021, 5, 10), True, "workday"),
        (date(2021, 9, 26), True, "make-up workday"),  # Sunday before 国庆节
        (date(2021, 10, 9), True, "make-up workday"),  # Saturday after 国庆节
        (date(2021, 10, 7), False, "holiday"),
        (date(2022, 1, 3), False, "holiday"),  # 元旦 Monday
        (date(2021, 12, 31), True, "workday"),
    ],
)
def test_known_days(work_calendar: WorkCalendar, day: date, working: bool, kind: str) -> None:
    assert work_calendar.is_working_day(day) is working
    assert work_calendar.kind(day) == kind


def test_shift_over_labour_day(work_calendar: WorkCalendar) -> None:
    assert work_calendar.shift(date(2021, 4, 30), 1) == date(2021, 5, 6)
    # 05-06, 05-07, the make-up Saturday 05-08, 05-10, 05-11.
    assert work_calendar.shift(date(2021, 4, 30), 5) == date(2021, 5, 11)


def test_shift_back_over_national_day(work_calendar: WorkCalendar) -> None:
    assert work_calendar.shift(date(2021, 10, 8), -1) == date(2021, 9, 30)


def test_shift_zero_moves_a_rest_day_onto_the_next_working_day(work_calendar: WorkCalendar) -> None:
    assert work_calendar.shift(date(2021, 10, 1), 0) == date(2021, 10, 8)
    assert work_calendar.shift(date(2021, 5, 3), 0) == date(2021, 5, 6)
    assert work_calendar.shift(date(2022, 1, 1), 0) == date(2022, 1, 4)
    assert work_calendar.shift(date(2021, 5, 8), 0) == date(2021, 5, 8)  # a make-up Saturday stays


def test_working_days_between_counts_half_open(work_calendar: WorkCalendar) -> None:
    # (04-30, 05-11]: 05-06, 05-07, 05-08, 05-10, 05-11.
    assert work_calendar.working_days_between(date(2021, 4, 30), date(2021, 5, 11)) == 5
    assert work_calendar.working_days_between(date(2021, 5, 11), date(2021, 4, 30)) == -5
    assert work_calendar.working_days_between(date(2021, 5, 1), date(2021, 5, 5)) == 0


# -- properties -------------------------------------------------------------------------------------


@FAST
@given(d=DATES, n=STEPS.filter(bool))
def test_shift_lands_on_a_working_day(work_calendar: WorkCalendar, d: date, n: int) -> None:
    assert work_calendar.is_working_day(work_calendar.shift(d, n))


@FAST
@given(d=DATES)
def test_shift_zero_is_on_or_after(work_calendar: WorkCalendar, d: date) -> None:
    moved = work_calendar.shift(d, 0)
    assert moved >= d
    assert work_calendar.is_working_day(moved)
    assert not any(work_calendar.is_working_day(d + timedelta(days=i)) for i in range((moved - d).days))


@FAST
@given(d=DATES, n=STEPS.filter(bool))
def test_shift_there_and_back(work_calendar: WorkCalendar, d: date, n: int) -> None:
    back = work_calendar.shift(work_calendar.shift(d, n), -n)
    if work_calendar.is_working_day(d):
        assert back == d == work_calendar.on_or_after(d)
    else:
        # From a rest day the first step already lands on a working day, so the way back ends
        # one working day beyond d, on the side it started from.
        assert back == work_calendar.shift(d, -1 if n > 0 else 1)


@FAST
@given(d=DATES, n=STEPS.filter(bool))
def test_working_days_between_inverts_shift(work_calendar: WorkCalendar, d: date, n: int) -> None:
    d = work_calendar.on_or_after(d)
    assert work_calendar.working_days_between(d, work_calendar.shift(d, n)) == n


@FAST
@given(a=DATES, b=DATES, c=DATES)
def test_working_days_between_is_additive(work_calendar: WorkCalendar, a: date, b: date, c: date) -> None:
    wdb = work_calendar.working_days_between
    assert wdb(a, b) == -wdb(b, a)
    assert wdb(a, b) + wdb(b, c) == wdb(a, c)


@FAST
@given(d=DATES, n=STEPS, m=STEPS)
def test_shift_is_monotonic(work_calendar: WorkCalendar, d: date, n: int, m: int) -> None:
    n, m = sorted((n, m))
    if n == m:
        return
    a, b = work_calendar.shift(d, n), work_calendar.shift(d, m)
    if (n, m) == (0, 1) and not work_calendar.is_working_day(d):
        # shift(d, 0) moves a rest day forward onto the very day shift(d, 1) counts first.
        assert a == b
    else:
        assert a < b


# -- years the package does not know ----------------------------------------------------------------


def test_a_year_past_the_package_falls_back_to_monday_to_friday() -> None:
    # The first year the installed package does not know (2027 for chinesecalendar 1.11): a
    # newer release moves it on, and the test with it.
    last = max(package_years())
    year = last + 1
    data = build(range(last, year + 1))
    assert data.known_years == {last}
    wc = WorkCalendar(data)
    assert wc.missing_years(date(last, 12, 1), date(year, 12, 31)) == [year]
    assert wc.missing_years(date(last, 1, 1), date(last, 12, 31)) == []
    assert not wc.knows(date(year, 1, 1))
    january = [date(year, 1, d) for d in range(1, 32)]
    # New Year's Day is a holiday in fact, but a calendar that does not know the year can only
    # count Monday to Friday.
    assert [wc.is_working_day(d) for d in january] == [d.weekday() < 5 for d in january]
    weekdays = [d for d in january if d.weekday() < 5]
    assert wc.shift(date(last, 12, 31), 2) == weekdays[1]
    assert wc.working_days_between(weekdays[0], weekdays[5]) == 5


FILE_2099 = """
years:
  2099:
    source: 国务院办公厅关于2099年部分节假日安排的通知（测试数据）
    holidays: [2099-01-01, 2099-10-05, 2099-10-06]
    workdays: [2099-09-27, 2099-10-10]
"""


def file_years(text: str) -> dict[int, cal.YearCalendar]:
    data, _ = parse_yaml(text, path="cn-extra.yaml")
    return parse_calendar_file(data, path="cn-extra.yaml")


def test_the_calendar_file_supplies_a_year() -> None:
    # A year far past any package release, so the file is the only source of it.
    years = file_years(FILE_2099)
    assert set(years) == {2099}
    y = years[2099]
    assert y.holidays == (date(2099, 1, 1), date(2099, 10, 5), date(2099, 10, 6))
    assert y.workdays == (date(2099, 9, 27), date(2099, 10, 10))
    assert y.source.startswith("国务院办公厅")

    wc = WorkCalendar(build([2098, 2099], years))
    assert wc.missing_years(date(2099, 1, 1), date(2099, 12, 31)) == []
    assert not wc.is_working_day(date(2099, 1, 1))  # a Thursday holiday
    assert wc.kind(date(2099, 10, 10)) == "make-up workday"
    assert wc.is_working_day(date(2099, 9, 27))  # a Sunday
    assert wc.shift(date(2098, 12, 31), 1) == date(2099, 1, 2)
    assert wc.shift(date(2099, 10, 2), 1) == date(2099, 10, 7)  # over the weekend and two holidays
    assert wc.shift(date(2099, 10, 9), 1) == date(2099, 10, 10)


def test_the_package_wins_over_the_file_for_a_year_it_knows() -> None:
    fake = parse_calendar_file({"years": {2026: {"source": "a mistake", "holidays": [date(2026, 3, 3)]}}}, path="f")
    data = build([2026], fake)
    assert data.years[0].source == cal.PACKAGE_SOURCE
    assert WorkCalendar(data).is_working_day(date(2026, 3, 3))


def test_the_shipped_calendar_file_is_empty_and_valid() -> None:
    assert file_years(CALENDAR_FILE_PATH.read_text(encoding="utf-8")) == {}
    assert parse_calendar_file(None, path="f") == {}


def test_a_make_up_workday_must_be_a_weekend_day() -> None:
    with pytest.raises(ValueError, match=r"^cn-extra\.yaml: make-up workday 2099-10-08 is not a weekend day$"):
        file_years(FILE_2099.replace("2099-10-10]", "2099-10-08]"))


def test_a_date_must_be_listed_under_its_own_year() -> None:
    with pytest.raises(ValueError, match=r"^cn-extra\.yaml: 2098-01-01 is listed under year 2099$"):
        file_years(FILE_2099.replace("[2099-01-01,", "[2098-01-01,"))


def test_a_malformed_calendar_file_is_refused_with_its_path() -> None:
    with pytest.raises(ValueError, match=r"^cn-extra\.yaml: Field required"):
        file_years("years:\n  2027:\n    holidays: [2027-01-01]\n")
    with pytest.raises(ValueError, match=r"^cn-extra\.yaml: Input should be a valid date"):
        parse_calendar_file({"years": {2027: {"source": "x", "holidays": ["2027-02-30"]}}}, path="cn-extra.yaml")
