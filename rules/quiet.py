"""Quiet hours: when a push (e-mail, webhook) to people may go out.

Never on an official rest day (weekends that are not 调休 make-up workdays, holidays) and never
outside the working window; a push due then waits for the next working morning. The in-app
inbox is not held. Pure: plan time in, plan time out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.delivery import QuietHours
from models.time import CST
from rules.calendar import WorkCalendar


def release_time(plan_time: datetime, calendar: WorkCalendar, quiet: QuietHours) -> datetime:
    """The earliest instant at or after `plan_time` inside a working day's window, in plan time
    (Asia/Shanghai). The window is [start, end): a push due at `end` goes the next working day.

    Never earlier than `plan_time`, always inside a window, and a fixed point: a time already
    inside a window is returned unchanged (so applying it twice changes nothing).
    """
    t = plan_time.astimezone(CST)
    day = t.date()
    if calendar.is_working_day(day):
        opens = datetime.combine(day, quiet.start, tzinfo=CST)
        if t < opens:
            return opens
        if t < datetime.combine(day, quiet.end, tzinfo=CST):
            return t
    return datetime.combine(calendar.on_or_after(day + timedelta(days=1)), quiet.start, tzinfo=CST)


def in_window(plan_time: datetime, calendar: WorkCalendar, quiet: QuietHours) -> bool:
    """Whether a push may go out at `plan_time`."""
    t = plan_time.astimezone(CST)
    return calendar.is_working_day(t.date()) and quiet.start <= t.time() < quiet.end
