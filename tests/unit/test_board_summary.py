"""The two due dates that let SQL count the 三色 lights (models.board_summary.due_thresholds):
for every due date around every day of 2021–2022 (weekends, 春节, 国庆, make-up working days),
`due < red_before` is exactly "working days left < 0" and `due <= yellow_until` exactly
"working days left <= DUE_SOON_WORKING_DAYS"; and a town's county from its id."""

from __future__ import annotations

from datetime import date, timedelta

from models.board import DUE_SOON_WORKING_DAYS
from models.board_summary import county_label, county_of, due_thresholds
from rules.calendar import WorkCalendar


def test_thresholds_agree_with_working_days_left(work_calendar: WorkCalendar) -> None:
    between = work_calendar.working_days_between
    today = date(2021, 1, 1)
    while today < date(2022, 12, 1):
        red_before, yellow_until = due_thresholds(today, between)
        for d in range(-30, 31):
            due = today + timedelta(days=d)
            left = between(today, due)
            assert (due < red_before) == (left < 0), (today, due, left)
            assert (due <= yellow_until) == (left <= DUE_SOON_WORKING_DAYS), (today, due, left)
        today += timedelta(days=1)


def test_county_of_a_unit() -> None:
    assert county_of("c007-gaocheng") == "c007" and county_label("c007") == "第7县"
    assert county_of("c012-town3-2") == "c012"
    assert county_of("gaocheng") == county_of("city-office") == "" and county_label("") == "本级"
