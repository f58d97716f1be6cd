"""An account's obligations as an iCalendar feed (RFC 5545, via `icalendar`): one all-day event
per open obligation on its due date in force, with a stable UID so a client updates, not adds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from icalendar import Calendar, Event

from models.board import AccountView, ObligationLine


def ics(owner: AccountView, lines: Sequence[ObligationLine]) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//duban//督办//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"督办 {owner.display_name or owner.name}")
    for ob in lines:
        event = Event()
        event.add("uid", f"{ob.id}@duban")
        event.add("summary", f"【截止】{ob.title}（{ob.unit_name}）")
        event.add("dtstart", ob.due)
        event.add("dtend", ob.due + timedelta(days=1))
        event.add("description", f"{ob.id}\n状态 {ob.state}，进度 {ob.progress}%，序时进度 {ob.schedule}%")
        cal.add_component(event)
    data: bytes = cal.to_ical()
    return data
