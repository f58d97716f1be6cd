"""Quiet hours: pushes to people go out only inside a working day's window, China's calendar
with its 调休 make-up days; anything due outside waits for the next working morning."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models.delivery import QuietHours
from models.time import CST, at
from rules.calendar import WorkCalendar
from rules.quiet import in_window, release_time

DEFAULT = QuietHours()

# Inside the years chinesecalendar knows, with room for the next working day after the last one.
instants = st.datetimes(min_value=datetime(2005, 1, 1), max_value=datetime(2025, 12, 20)).map(
    lambda d: d.replace(tzinfo=CST)
)


@st.composite
def windows(draw: st.DrawFn) -> QuietHours:
    start = draw(st.times(max_value=time(23, 58)))
    minutes = start.hour * 60 + start.minute
    end_minutes = draw(st.integers(min_value=minutes + 1, max_value=23 * 60 + 59))
    return QuietHours(start=start, end=time(end_minutes // 60, end_minutes % 60))


@settings(max_examples=400, deadline=None)
@given(t=instants, quiet=st.one_of(st.just(DEFAULT), windows()))
def test_release_is_the_earliest_instant_in_a_window(
    t: datetime, quiet: QuietHours, work_calendar: WorkCalendar
) -> None:
    r = release_time(t, work_calendar, quiet)
    assert r >= t, "never earlier than asked"
    assert in_window(r, work_calendar, quiet), "always inside a working day's window"
    assert release_time(r, work_calendar, quiet) == r, "idempotent"
    assert r.utcoffset() == timedelta(hours=8), "in plan time"
    if r != t:
        # Held: to the opening of a window, and no window opened in between.
        assert r.timetz() == quiet.start.replace(tzinfo=CST)
        assert not in_window(t, work_calendar, quiet)
        local = t.astimezone(CST)
        first = local.date() + timedelta(days=0 if local.time() < quiet.start else 1)
        skipped = [first + timedelta(days=i) for i in range((r.date() - first).days)]
        assert not any(work_calendar.is_working_day(d) for d in skipped)


@settings(max_examples=200, deadline=None)
@given(t=instants)
def test_the_time_zone_of_the_input_does_not_matter(t: datetime, work_calendar: WorkCalendar) -> None:
    assert release_time(t.astimezone(UTC), work_calendar, DEFAULT) == release_time(t, work_calendar, DEFAULT)


@pytest.mark.parametrize(
    ("due", "released", "why"),
    [
        ("2021-09-17 10:00", "2021-09-17 10:00", "a Friday morning: at once"),
        ("2021-09-17 18:00", "2021-09-18 08:30", "the window closes at 18:00; Saturday 9-18 is a make-up workday"),
        ("2021-09-18 10:00", "2021-09-18 10:00", "make-up Saturday (调休): at once"),
        ("2021-09-18 07:59", "2021-09-18 08:30", "make-up Saturday, before the window"),
        ("2021-09-19 10:00", "2021-09-22 08:30", "Mid-Autumn holiday 9-19…21"),
        ("2021-09-25 12:00", "2021-09-26 08:30", "an ordinary Saturday; Sunday 9-26 is a make-up workday"),
        ("2021-09-30 17:59", "2021-09-30 17:59", "the last minute before National Day"),
        ("2021-09-30 20:00", "2021-10-08 08:30", "the night before National Day: after the whole holiday"),
        ("2021-10-01 09:00", "2021-10-08 08:30", "National Day"),
        ("2021-10-07 23:59", "2021-10-08 08:30", "the holiday's last night"),
        ("2021-10-08 19:00", "2021-10-09 08:30", "Friday night; Saturday 10-9 is a make-up workday"),
        ("2021-10-09 20:00", "2021-10-11 08:30", "make-up Saturday night; Sunday 10-10 is a rest day"),
    ],
)
def test_2021_national_day_and_make_up_days(due: str, released: str, why: str, work_calendar: WorkCalendar) -> None:
    d, hhmm = due.split()
    e, ehhmm = released.split()
    assert release_time(at(date.fromisoformat(d), hhmm), work_calendar, DEFAULT) == at(date.fromisoformat(e), ehhmm), (
        why
    )


def test_a_configured_window(work_calendar: WorkCalendar) -> None:
    quiet = QuietHours(start=time(9), end=time(17, 30))
    assert release_time(at(date(2021, 10, 8), "08:45"), work_calendar, quiet) == at(date(2021, 10, 8), "09:00")
    assert release_time(at(date(2021, 10, 8), "17:30"), work_calendar, quiet) == at(date(2021, 10, 9), "09:00")


def test_a_window_must_open_before_it_closes() -> None:
    with pytest.raises(ValidationError, match="must start before it ends"):
        QuietHours(start=time(18), end=time(8, 30))
    with pytest.raises(ValidationError):
        QuietHours(start=time(9), end=time(9))
