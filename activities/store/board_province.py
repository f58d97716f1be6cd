"""The read side of the board at province size: 三色 and 序时进度 counted in SQL (GROUP BY county,
task and the whole campaign in one pass over the campaign's obligations), and the units × tasks
grid a page of towns at a time. Read-only, like `board`.

The lights are counted in SQL the way `models.board.light` draws them in Python: the due date in
force against two dates worked out once from the pinned calendar (`due_thresholds`), and 序时进度
rounded half to even as Python's `round` does; tests/integration/test_board_province.py checks
the counts against the lines.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from activities.store.board import pending_extensions, pinned_clock
from activities.store.tables import obligations
from models.board import ObligationLine
from models.board_summary import (
    COUNTY_PATTERN,
    GRID_PAGE_UNITS,
    OVERDUE_SHOWN,
    BoardPage,
    BoardSummary,
    Counts,
    county_label,
    due_thresholds,
)

t = obligations.c
_due = func.coalesce(t.extended_due, t.due)
_county = case((t.unit_id.op("~")(COUNTY_PATTERN), func.split_part(t.unit_id, "-", 1)), else_=literal(""))


def _schedule(today: date) -> ColumnElement[int]:
    """`models.board.schedule_progress` in SQL: integers only, ties to even as `round` does."""
    passed = literal(today) - t.assigned
    span = _due - t.assigned
    q, r = (100 * passed) // span, (100 * passed) % span
    rounded = case((2 * r > span, q + 1), (2 * r == span, q + q % 2), else_=q)
    return case(
        (literal(today) <= t.assigned, 0), (or_(literal(today) >= _due, _due <= t.assigned), 100), else_=rounded
    )


def _light(today: date, red_before: date, yellow_until: date) -> ColumnElement[str]:
    """`models.board.light` in SQL."""
    return case(
        (t.state == "completed", "green"),
        (_due < red_before, "red"),
        (or_(_due <= yellow_until, t.progress < _schedule(today)), "yellow"),
        else_="green",
    )


async def unit_count(conn: AsyncConnection, campaign_id: str) -> int:
    q = select(func.count(t.unit_id.distinct())).where(t.campaign_id == campaign_id)
    return int((await conn.execute(q)).scalar_one())


async def summary(conn: AsyncConnection, campaign_id: str, *, now: Any = None) -> BoardSummary | None:
    """Counts per county, per task and in all (GROUPING SETS: one scan), the most overdue."""
    pinned = await pinned_clock(conn, campaign_id, now)
    if pinned is None:
        return None
    red_before, yellow_until = due_thresholds(pinned.today, pinned.calendar.working_days_between)
    rows = (
        select(
            _county.label("county"),
            t.task_no,
            t.unit_id,
            t.state,
            t.progress,
            _schedule(pinned.today).label("schedule"),
            _light(pinned.today, red_before, yellow_until).label("light"),
        )
        .where(t.campaign_id == campaign_id)
        .subquery()
    )
    r = rows.c
    q = select(
        func.grouping(r.county, r.task_no).label("level"),
        r.county,
        r.task_no,
        func.count(r.unit_id.distinct()).label("units"),
        func.count().label("obligations"),
        *(func.count().filter(r.light == c).label(c) for c in ("red", "yellow", "green")),
        func.count().filter(r.state == "completed").label("completed"),
        cast(func.round(func.avg(r.progress)), Integer).label("progress"),
        cast(func.round(func.avg(r.schedule)), Integer).label("schedule"),
    ).group_by(text("GROUPING SETS ((county), (task_no), ())"))
    counties: list[Counts] = []
    tasks: list[Counts] = []
    total: Counts | None = None
    for row in (await conn.execute(q)).mappings():
        numbers = {k: row[k] for k in ("units", "obligations", "red", "yellow", "green", "completed")}
        means = {"progress": row["progress"] or 0, "schedule": row["schedule"] or 0}
        if row["level"] == 1:  # grouped by county (task_no rolled up)
            counties.append(Counts(key=row["county"], label=county_label(row["county"]), **numbers, **means))
        elif row["level"] == 2:  # grouped by task
            no = row["task_no"]
            tasks.append(Counts(key=str(no or 0), label=f"任务{no or 0}", **numbers, **means))
        else:
            total = Counts(key="", label="合计", **numbers, **means)
    if total is None:
        total = Counts(
            key="", label="合计", units=0, obligations=0, red=0, yellow=0, green=0, completed=0, progress=0, schedule=0
        )
    overdue_q = (
        select(obligations)
        .where(t.campaign_id == campaign_id, t.state != "completed", _due < red_before)
        .order_by(_due, t.unit_id, t.task_no, t.id)
        .limit(OVERDUE_SHOWN)
    )
    return BoardSummary(
        campaign=campaign_id,
        title=pinned.title,
        today=pinned.today,
        total=total,
        counties=sorted(counties, key=lambda c: c.key),
        tasks=sorted(tasks, key=lambda c: int(c.key)),
        overdue=[pinned.line(x) for x in (await conn.execute(overdue_q)).mappings()],
        extensions=await pending_extensions(conn, campaign_id),
    )


async def grid_page(
    conn: AsyncConnection,
    campaign_id: str,
    *,
    page: int = 1,
    county: str | None = None,
    task: int | None = None,
    now: Any = None,
) -> BoardPage | None:
    """Page `page` (from 1) of the units × tasks grid: GRID_PAGE_UNITS units in id order, of one
    county or all; one task's column or all. A page past the end is empty."""
    pinned = await pinned_clock(conn, campaign_id, now)
    if pinned is None:
        return None
    where = [t.campaign_id == campaign_id]
    if county is not None:
        where.append(_county == cast(literal(county), String))
    if task is not None:
        where.append(t.task_no == task)
    units_q = select(t.unit_id, func.min(t.unit_name).label("name")).where(and_(*where)).group_by(t.unit_id)
    total = int((await conn.execute(select(func.count()).select_from(units_q.subquery()))).scalar_one())
    units = [
        (u["unit_id"], u["name"])
        for u in (
            await conn.execute(units_q.order_by(t.unit_id).limit(GRID_PAGE_UNITS).offset((page - 1) * GRID_PAGE_UNITS))
        ).mappings()
    ]
    cells: dict[str, dict[int, list[ObligationLine]]] = {uid: {} for uid, _ in units}
    tasks: set[int] = set()
    if units:
        lines_q = (
            select(obligations)
            .where(*where, t.unit_id.in_([uid for uid, _ in units]))
            .order_by(t.unit_id, t.task_no, t.due, t.id)
        )
        for x in (await conn.execute(lines_q)).mappings():
            ob = pinned.line(x)
            tasks.add(ob.task_no or 0)
            cells[ob.unit_id].setdefault(ob.task_no or 0, []).append(ob)
    return BoardPage(
        campaign=campaign_id,
        title=pinned.title,
        today=pinned.today,
        page=page,
        pages=max(1, -(-total // GRID_PAGE_UNITS)),
        units_total=total,
        county=county,
        task=task,
        units=units,
        tasks=sorted(tasks),
        cells=cells,
    )
