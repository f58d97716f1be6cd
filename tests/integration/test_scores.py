"""`duban scores enter/import/list` on a campaign, as a user runs them: scores are checked against
the score book the campaign pinned, stored with an audit row each (a correction supersedes what
it corrects), all or nothing from Excel, and refused by a closed campaign; exit 2 naming every
problem (a cell, a criterion), never a traceback."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.campaign import CampaignActivities
from activities.store.audit import verify
from activities.store.tables import assessment_scores, audit_events, campaigns
from models.payloads import Provenance, RegisterCampaign
from rules.scoresheets import parse_scorebook
from services.plans import DEFAULT_PLAN, DEFAULT_RULES, load_plan, prepare
from tests.integration import mini
from tests.support import fill, no_traceback

pytestmark = pytest.mark.integration

SHEETS = mini.ROOT / "plans" / "scoresheets" / "suixian.yaml"
TOWNS_IN_SCOPE = 19
Duban = Callable[..., subprocess.CompletedProcess[str]]


async def register(engine: AsyncEngine, *, sheets: bool = True) -> str:
    """A 随县 campaign registered through its activity (no workflows), with the shipped sheets."""
    plan = load_plan(DEFAULT_PLAN)
    book = parse_scorebook(SHEETS.read_text(encoding="utf-8"), path=str(SHEETS), plan=plan) if sheets else None
    cid = f"scores-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    inp = prepare(plan, DEFAULT_RULES, campaign_id=cid, server_now=now, live=False, scorebook=book).input
    ctx = inp.context
    prov = Provenance(
        campaign_id=cid, plan_hash=ctx.plan_hash, ruleset_hash=ctx.ruleset_hash, workflow_id=cid, run_id="r1"
    )
    await CampaignActivities(engine).register_campaign(
        RegisterCampaign(
            context=ctx, plan=plan, provenance=prov, server_time=now, plan_time=inp.launched_plan_time, scorebook=book
        )
    )
    return cid


@pytest.fixture
def duban(db_url: str, tmp_path: Path) -> Duban:
    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return mini.duban(*map(str, args), db_url=db_url, var_dir=tmp_path / "var")

    return run


async def stored(engine: AsyncEngine, cid: str) -> list[tuple[str, str, float, int | None]]:
    s = assessment_scores
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(s.c.unit_id, s.c.sheet_id, s.c.total, s.c.supersedes).where(s.c.campaign_id == cid).order_by(s.c.id)
        )
        return [(u, sh, float(t), sup) for u, sh, t, sup in rows]


async def test_template_then_import_stores_every_row_once(engine: AsyncEngine, duban: Duban, tmp_path: Path) -> None:
    cid = await register(engine)
    path = tmp_path / "basic.xlsx"
    r = duban("scores", "template", "acceptance_basic", "--units", "plans/units/suixian.yaml", "--out", path)
    assert r.returncode == 0, r.stderr
    assert f"{TOWNS_IN_SCOPE} units × 4 criteria" in r.stdout
    fill(path, value=85)

    args = ("scores", "import", cid, "acceptance_basic", path, "--assessor", "县住建局验收组", "--date", "2021-12-28")
    r = duban(*args, "--by", "张三")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert f"ok: {TOWNS_IN_SCOPE} units on acceptance_basic" in first
    assert f"{TOWNS_IN_SCOPE} passed, 0 failed (pass mark 80); mean 85.00" in first
    assert f"stored {TOWNS_IN_SCOPE} scores in {cid}" in r.stderr
    rows = await stored(engine, cid)
    assert len(rows) == TOWNS_IN_SCOPE and {t for _, _, t, _ in rows} == {85.0}
    assert "lishan" not in {u for u, *_ in rows}  # the seat town is not scored

    # The same file again changes nothing; --json prints what was read.
    r = duban(*args, "--json")
    assert r.returncode == 0, r.stderr
    assert f"{TOWNS_IN_SCOPE} unchanged (already stored)" in r.stderr
    data = json.loads(r.stdout)
    assert data[0]["record"]["points"] == {"clean_waste": 85, "clean_water": 85, "tidy": 85, "orderly": 85}
    assert data[0]["score"] == data[0]["score"] | {"total": 85, "passed": True}
    assert len(await stored(engine, cid)) == TOWNS_IN_SCOPE

    async with engine.connect() as conn:
        entered = (
            await conn.execute(
                select(audit_events.c.actor, audit_events.c.workflow_id).where(
                    audit_events.c.campaign_id == cid, audit_events.c.kind == "score.entered"
                )
            )
        ).all()
        chain = await verify(conn, cid)
    assert set(entered) == {("张三", "cli:scores")} and len(entered) == TOWNS_IN_SCOPE
    assert chain.ok, chain.problems


async def test_an_import_with_one_bad_cell_stores_nothing_and_names_the_cell(
    engine: AsyncEngine, duban: Duban, tmp_path: Path
) -> None:
    cid = await register(engine)
    path = tmp_path / "routine.xlsx"
    r = duban("scores", "template", "routine", "--out", path, "--assessor", "张三", "--date", "2021-06-10")
    assert r.returncode == 0, r.stderr
    fill(path)
    wb = load_workbook(path)
    ws = wb.active
    assert ws is not None
    ws["D5"] = 105
    wb.save(path)

    r = duban("scores", "import", cid, "routine", path)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        f"{path} (worksheet routine): 1 bad cells; nothing imported",
        "D5: 分数 105 超过满分 100",
    ]
    no_traceback(r)
    assert await stored(engine, cid) == []


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["routine", "absent.xlsx"], "absent.xlsx: no such file", 2),
        (["routine", "plans/units/suixian.yaml"], "not an Excel workbook", 2),
    ],
)
async def test_import_refuses_what_it_cannot_read(
    engine: AsyncEngine, duban: Duban, args: list[str], message: str, code: int
) -> None:
    r = duban("scores", "import", "any-campaign", *args)
    assert r.returncode == code
    assert message in r.stderr
    no_traceback(r)


async def test_enter_stores_and_a_second_entry_corrects_the_first(engine: AsyncEngine, duban: Duban) -> None:
    cid = await register(engine)
    common = ("--assessor", "张三", "--date", "2021-06-10", "--finding", "背街小巷乱堆乱放")
    r = duban(
        "scores", "enter", cid, "routine", "高城镇", "clean=90", "tidy=85.5", "orderly=50", "progress=70", *common
    )
    assert r.returncode == 0, r.stderr
    assert "score 73.88 / 100, pass mark 60: pass" in r.stdout
    assert "不达标" in r.stdout  # orderly 50 < 60% of 100
    assert "finding: 背街小巷乱堆乱放" in r.stdout
    assert f"stored 1 scores in {cid}" in r.stderr

    r = duban(
        "scores", "enter", cid, "routine", "gaocheng", "clean=90", "tidy=85.5", "orderly=70", "progress=70",
        *common, "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["score"]["total"] == 78.88
    assert data["stored"]["new"] is True and data["stored"]["supersedes"] is not None
    assert "1 correcting earlier ones" in r.stderr
    rows = await stored(engine, cid)
    assert [(u, t) for u, _, t, _ in rows] == [("gaocheng", 73.88), ("gaocheng", 78.88)]
    first_id = rows[1][3]

    r = duban("scores", "list", cid, "--json")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert [(x["unit"], x["total"], x["supersedes"]) for x in shown] == [("gaocheng", 78.88, first_id)]
    r = duban("scores", "list", cid, "--all")
    assert f"{cid}: 2 scores" in r.stdout

    async with engine.connect() as conn:
        kinds = (
            await conn.execute(
                select(audit_events.c.kind)
                .where(audit_events.c.campaign_id == cid, audit_events.c.kind.like("score.%"))
                .order_by(audit_events.c.seq)
            )
        ).scalars()
        assert list(kinds) == ["score.entered", "score.corrected"]


async def test_enter_exits_2_naming_every_problem(engine: AsyncEngine, duban: Duban) -> None:
    cid = await register(engine)
    r = duban(
        "scores", "enter", cid, "field_inspection", "lishan", "environment=105", "townscape=abc",
        "--assessor", "张三", "--date", "2021-09-16",
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        "field_inspection lishan: 6 problems; nothing entered",
        "lishan: 不是评分范围内的单位（镇、场、景区）",
        "environment: 分数 105 超过满分 100",
        "townscape: “abc” 不是数字",
        "facilities: 缺少分数",
        "governance: 缺少分数",
        "评分日期 2021-09-16 不是拉练检查日（2021-09-15、2022-03-15、2022-09-15）",
    ]
    no_traceback(r)
    r = duban("scores", "enter", cid, "nope", "gaocheng", "a=1", "--assessor", "张三", "--date", "2021-06-10")
    assert r.returncode == 2
    assert "no score sheet 'nope' (the file has routine, field_inspection" in r.stderr
    assert await stored(engine, cid) == []


async def test_a_closed_campaign_and_one_without_sheets_refuse_scores(engine: AsyncEngine, duban: Duban) -> None:
    cid = await register(engine)
    async with engine.begin() as conn:
        await conn.execute(
            update(campaigns)
            .where(campaigns.c.id == cid)
            .values(status="closed", closed_plan_time=datetime(2023, 1, 1, tzinfo=UTC))
        )
    entry = ("routine", "gaocheng", "clean=90", "tidy=90", "orderly=90", "progress=90", "--assessor", "张三")
    r = duban("scores", "enter", cid, *entry, "--date", "2022-12-01")
    assert r.returncode == 1
    assert r.stderr.strip() == f"campaign {cid} is closed on 2023-01-01: it takes no new scores"
    no_traceback(r)

    bare = await register(engine, sheets=False)
    r = duban("scores", "enter", bare, *entry, "--date", "2022-12-01")
    assert r.returncode == 1
    assert "launched without score sheets" in r.stderr
    r = duban("scores", "enter", "no-such-campaign", *entry, "--date", "2022-12-01")
    assert r.returncode == 1
    assert "no campaign 'no-such-campaign'" in r.stderr
    async with engine.connect() as conn:
        n = (
            await conn.execute(
                select(func.count()).select_from(assessment_scores).where(assessment_scores.c.campaign_id == cid)
            )
        ).scalar_one()
    assert n == 0
