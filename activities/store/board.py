"""The read side of the web door's pages: a campaign's obligations as lines with their lights,
the office's board, pending 延期申请 (from the audit chain), the campaigns there are.

Read-only, like `views`. Plan time "today" comes from the campaign's pinned clock; working days
from its pinned calendar, so the page counts as the workflows do.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.audit import payload_of
from activities.store.tables import audit_events, bulletins, campaigns, obligations
from models.board import Board, ExtensionRequest, Light, ObligationLine, light, schedule_progress
from models.calendar import CalendarData
from models.time import CST, Clock
from models.views import CampaignHead
from rules.calendar import WorkCalendar


async def campaign_list(conn: AsyncConnection) -> list[CampaignHead]:
    office = campaigns.c.plan["joint_meeting"]["office"].astext
    q = select(
        campaigns.c.id, campaigns.c.status, campaigns.c.plan_title, campaigns.c.closed_plan_time, office.label("office")
    ).order_by(campaigns.c.launched_server_time.desc())
    return [CampaignHead.model_validate(dict(r)) for r in (await conn.execute(q)).mappings()]


_CALENDARS: dict[str, WorkCalendar] = {}
"""Working-day calendars by their hash: a campaign's is pinned at launch and never changes, and
parsing it is most of an agency page's time (scripts/bench_web.py)."""


def _calendar(digest: str, data: Any) -> WorkCalendar:
    found = _CALENDARS.get(digest)
    if found is None:
        if len(_CALENDARS) > 64:
            _CALENDARS.clear()
        found = _CALENDARS[digest] = WorkCalendar(CalendarData.model_validate(data))
    return found


class Pinned:
    def __init__(self, row: Any, now: datetime, calendar: WorkCalendar) -> None:
        clock = Clock.model_validate(row["clock"]) if row["clock"] else Clock(offset_seconds=row["offset_seconds"])
        self.today = clock.plan_time(now).astimezone(CST).date()
        self.calendar = calendar
        self.title: str = row["plan_title"]

    def line(self, r: Any) -> ObligationLine:
        due = r["extended_due"] or r["due"]
        schedule = schedule_progress(r["assigned"], due, self.today)
        left = self.calendar.working_days_between(self.today, due)
        return ObligationLine(
            id=r["id"],
            campaign=r["campaign_id"],
            unit_id=r["unit_id"],
            unit_name=r["unit_name"],
            task_no=r["task_no"],
            title=r["title"],
            assigned=r["assigned"],
            due=due,
            state=r["state"],
            progress=r["progress"],
            schedule=schedule,
            working_days_left=left,
            light=light(state=r["state"], progress=r["progress"], schedule=schedule, working_days_left=left),
            evidence=list(r["evidence"] or []),
        )


async def pinned_clock(conn: AsyncConnection, campaign_id: str, now: datetime | None) -> Pinned | None:
    """The campaign's plan day (by its pinned clock), calendar and title; None: no such campaign."""
    c = campaigns.c
    q = select(c.clock, c.offset_seconds, c.calendar_hash, c.plan_title).where(c.id == campaign_id)
    row = (await conn.execute(q)).mappings().first()
    if row is None:
        return None
    calendar = _CALENDARS.get(row["calendar_hash"])
    if calendar is None:
        data = (await conn.execute(select(c.calendar).where(c.id == campaign_id))).scalar_one()
        calendar = _calendar(row["calendar_hash"], data)
    return Pinned(row, now or datetime.now(UTC), calendar)


async def obligation_lines(
    conn: AsyncConnection,
    campaign_id: str,
    *,
    unit: str | None = None,
    obligation: str | None = None,
    now: datetime | None = None,
) -> list[ObligationLine] | None:
    """The campaign's obligations (a unit's, or one), in unit and task order; None: no campaign."""
    pinned = await pinned_clock(conn, campaign_id, now)
    if pinned is None:
        return None
    t = obligations
    q = select(t).where(t.c.campaign_id == campaign_id).order_by(t.c.unit_id, t.c.task_no, t.c.due, t.c.id)
    if unit is not None:
        q = q.where(t.c.unit_id == unit)
    if obligation is not None:
        q = q.where(t.c.id == obligation)
    return [pinned.line(r) for r in (await conn.execute(q)).mappings()]


async def pending_extensions(conn: AsyncConnection, campaign_id: str) -> list[ExtensionRequest]:
    """延期申请 still waiting for the office: each obligation's latest request with no answer after it."""
    t = audit_events
    q = (
        select(t.c.kind, t.c.obligation_id, t.c.unit_id, t.c.plan_time, t.c.payload)
        .where(t.c.campaign_id == campaign_id, t.c.kind.like("extension.%"))
        .order_by(t.c.seq)
    )
    waiting: dict[str, ExtensionRequest] = {}
    for r in (await conn.execute(q)).mappings():
        if r["kind"] == "extension.requested":
            p = payload_of(r)
            waiting[r["obligation_id"]] = ExtensionRequest(
                obligation=r["obligation_id"],
                unit_id=r["unit_id"],
                due=p["due"],
                reason=p.get("text") or "",
                plan_time=r["plan_time"],
                account=p.get("account"),
            )
        else:
            waiting.pop(r["obligation_id"], None)
    return list(waiting.values())


async def board(conn: AsyncConnection, campaign_id: str, *, now: datetime | None = None) -> Board | None:
    pinned = await pinned_clock(conn, campaign_id, now)
    lines = await obligation_lines(conn, campaign_id, now=now)
    if pinned is None or lines is None:
        return None
    units: dict[str, str] = {}
    cells: dict[str, dict[int, list[ObligationLine]]] = {}
    for ob in lines:
        units.setdefault(ob.unit_id, ob.unit_name)
        cells.setdefault(ob.unit_id, {}).setdefault(ob.task_no or 0, []).append(ob)
    return Board(
        campaign=campaign_id,
        title=pinned.title,
        today=pinned.today,
        units=sorted(units.items()),
        tasks=sorted({ob.task_no or 0 for ob in lines}),
        cells=cells,
        overdue=sorted((ob for ob in lines if ob.light is Light.red), key=lambda ob: ob.working_days_left),
        extensions=await pending_extensions(conn, campaign_id),
    )


async def bulletin_months(conn: AsyncConnection, campaign_id: str) -> list[date]:
    """The months a campaign has published a 通报 for, oldest first."""
    q = select(bulletins.c.month).where(bulletins.c.campaign_id == campaign_id).order_by(bulletins.c.month)
    return list((await conn.execute(q)).scalars())
