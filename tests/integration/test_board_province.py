"""The board at province size, on real PostgreSQL: a registered campaign whose obligations are
replaced by 137 towns in 14 counties (and two units of no county) × 4 tasks × 2 milestones, due
around the campaign's own today so that every light shows.

- the board of a province is the summary; a county's (the mini campaign's 2 towns) the full grid;
- the summary's counts (SQL GROUP BY) equal the lights the Python side draws line by line, and
  the DB's obligations by state, per county, per task and in all;
- the grid's pages hold every town exactly once (all towns, and a county's), and its routes are
  in the authorization matrix (tests/integration/test_web_access.py).
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.config import Settings
from activities.store import board as board_views
from activities.store import board_province
from activities.store.tables import obligations
from models.board_summary import GRID_PAGE_UNITS, county_of
from services.context import Services
from tests.integration import mini
from tests.integration.web_support import add_accounts, browser, sign_in
from web.app import create_app

pytestmark = pytest.mark.integration

TOWNS = 137  # 3 pages of 50; 14 counties of 10, the last of 7


async def province(engine: AsyncEngine) -> tuple[str, list[str]]:
    """A registered campaign with the generated units; its id and the unit ids."""
    inp, _, _ = await mini.registered(engine)
    cid = inp.context.campaign_id
    async with engine.connect() as conn:
        today = (await board_province.grid_page(conn, cid)).today  # type: ignore[union-attr]
    units = [f"c{n // 10 + 1:03d}-town{n % 10}" for n in range(TOWNS)] + ["seat", "office-x"]
    rows = []
    for i, u in enumerate(units):
        for task in range(1, 5):
            for m, span in (("basic", 10), ("model", 200)):
                k = i * 8 + task * 2 + len(m)
                assigned = today - timedelta(days=span // 2 + k % 7)
                due = today + timedelta(days=(k % 23) - 8 if m == "basic" else span)
                rows.append(
                    {
                        "id": f"{cid}/rollout/{u}/T{task:02d}-{m}",
                        "campaign_id": cid,
                        "phase": "rollout",
                        "unit_id": u,
                        "unit_name": f"单位{u}",
                        "unit_kind": "town",
                        "role": "responsible",
                        "task_no": task,
                        "title": f"任务{task}",
                        "lead": "housing",
                        "assigned": assigned,
                        "due": due,
                        "extended_due": due + timedelta(days=30) if k % 11 == 0 else None,
                        "progress": (i * 37 + task * 13) % 101,
                        "state": ("completed", "in_progress", "assigned", "acknowledged")[k % 4],
                    }
                )
    # 序时进度 exactly half-way: 2.5% rounds to 2 (to even, as Python's round; SQL's round gives 3), 3.5% to 4, so
    # progress 2 is green beside the first and yellow beside the second.
    for task, passed in ((5, 5), (6, 7)):
        rows.append(
            {
                **rows[-1],
                "id": f"{cid}/rollout/seat/T{task:02d}-model",
                "unit_id": "seat",
                "unit_name": "单位seat",
                "task_no": task,
                "assigned": today - timedelta(days=passed),
                "due": today + timedelta(days=200 - passed),
                "extended_due": None,
                "progress": 2,
                "state": "in_progress",
            }
        )
    async with engine.begin() as conn:
        await conn.execute(delete(obligations).where(obligations.c.campaign_id == cid))
        await conn.execute(insert(obligations), rows)
    return cid, units


@pytest.fixture
async def site(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    cid, units = await province(engine)
    async with Services(Settings(env="test", task_queue="unused"), engine=engine) as ctx:
        names = await add_accounts(ctx, f"acc-{uuid.uuid4().hex[:6]}")
        yield create_app(ctx), cid, units, names, engine


async def test_counts_equal_the_lines_and_the_db(site) -> None:  # type: ignore[no-untyped-def]
    _, cid, units, _, engine = site
    async with engine.connect() as conn:
        summary = await board_province.summary(conn, cid)
        lines = await board_views.obligation_lines(conn, cid)
        t = obligations.c
        completed = dict(
            (
                await conn.execute(
                    select(t.task_no, func.count())
                    .where(t.campaign_id == cid, t.state == "completed")
                    .group_by(t.task_no)
                )
            ).all()
        )
    assert summary is not None and lines is not None
    lights = Counter(ob.light.value for ob in lines)
    assert set(lights) == {"red", "yellow", "green"}, "the data should show every light"
    total = summary.total
    assert (total.obligations, total.units) == (len(lines), len(units))
    assert (total.red, total.yellow, total.green) == (lights["red"], lights["yellow"], lights["green"])
    assert total.completed == sum(completed.values())
    assert total.progress == round(sum(ob.progress for ob in lines) / len(lines))
    assert total.schedule == round(sum(ob.schedule for ob in lines) / len(lines))
    by_county = Counter((county_of(ob.unit_id), ob.light.value) for ob in lines)
    assert [c.key for c in summary.counties] == sorted({county_of(u) for u in units})
    for c in summary.counties:
        assert (c.red, c.yellow, c.green) == tuple(by_county[(c.key, x)] for x in ("red", "yellow", "green")), c
        assert c.units == len({u for u in units if county_of(u) == c.key})
    by_task = Counter((str(ob.task_no), ob.light.value) for ob in lines)
    assert [c.key for c in summary.tasks] == ["1", "2", "3", "4", "5", "6"]
    half_way = {
        ob.task_no: (ob.schedule, ob.light.value) for ob in lines if ob.unit_id == "seat" and ob.task_no in (5, 6)
    }
    assert half_way == {5: (2, "green"), 6: (4, "yellow")}
    assert [(c.green, c.yellow) for c in summary.tasks[4:]] == [(1, 0), (0, 1)]
    for c in summary.tasks:
        assert (c.red, c.yellow, c.green) == tuple(by_task[(c.key, x)] for x in ("red", "yellow", "green")), c
        assert c.completed == completed.get(int(c.key), 0)
    overdue = sorted((ob for ob in lines if ob.light.value == "red"), key=lambda ob: ob.working_days_left)
    assert [ob.working_days_left for ob in summary.overdue] == [ob.working_days_left for ob in overdue][:50]


def towns_on(html: str, cid: str) -> list[str]:
    return re.findall(rf'href="/c/{re.escape(cid)}/unit/([^"]+)"', html)


async def test_the_board_pages_every_town_once(site) -> None:  # type: ignore[no-untyped-def]
    app, cid, units, names, engine = site
    small, _, _ = await mini.registered(engine)
    async with browser(app) as client:
        await sign_in(client, names["auditor"])
        board = await client.get(f"/c/{cid}/board")
        assert board.status_code == 200 and "按县汇总" in board.text and "按任务汇总" in board.text
        assert towns_on(board.text, cid) == [], "a province's board draws no town row"
        assert f"/c/{cid}/board/grid?county=c014" in board.text and f"/c/{cid}/board/grid?task=4" in board.text
        whole = await client.get(f"/c/{small.context.campaign_id}/board")
        assert "单位 × 任务" in whole.text and "按县汇总" not in whole.text  # a county's board: the grid
        seen: list[str] = []
        page = 1
        while True:
            r = await client.get(f"/c/{cid}/board/grid", params={"page": page})
            assert r.status_code == 200
            found = towns_on(r.text, cid)
            assert len(found) <= GRID_PAGE_UNITS
            seen += found
            if 'rel="next"' not in r.text:
                break
            page += 1
        assert page == -(-len(units) // GRID_PAGE_UNITS)
        assert sorted(seen) == sorted(units) and len(seen) == len(set(seen))
        past = await client.get(f"/c/{cid}/board/grid", params={"page": page + 1})
        assert past.status_code == 200 and towns_on(past.text, cid) == []
        by_county: list[str] = []
        for county in sorted({county_of(u) for u in units} - {""}):
            r = await client.get(f"/c/{cid}/board/grid", params={"county": county})
            assert 'rel="next"' not in r.text  # 10 towns a county
            by_county += towns_on(r.text, cid)
            assert {county_of(u) for u in towns_on(r.text, cid)} == {county}
        assert sorted(by_county) == sorted(u for u in units if county_of(u))
        no_county = await client.get(f"/c/{cid}/board/grid", params={"county": ""})  # the 本级 row's drill-down
        assert f'href="/c/{cid}/board/grid?county="' in board.text
        assert sorted(towns_on(no_county.text, cid)) == ["office-x", "seat"]
        one_task = await client.get(f"/c/{cid}/board/grid", params={"task": 3})
        assert f"{cid}/rollout/{units[0]}/T03-basic" in one_task.text
        assert f"{cid}/rollout/{units[0]}/T02-basic" not in one_task.text
        bad = await client.get(f"/c/{cid}/board/grid", params={"page": 0})
        assert bad.status_code in (400, 422)
