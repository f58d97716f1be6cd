"""`duban audit export`: the chain as JSON lines and a spreadsheet, and the workflow histories."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities import history, servers
from activities.audit_export import NO_CLIENT, UnknownCampaign, export
from activities.store.audit import GENESIS, canonical, content_digest, link, payload_of, sha256_hex
from activities.store.tables import audit_events
from models.obligation import ObligationState
from models.payloads import MirrorBatch, StateChange
from models.time import at
from tests.integration import mini

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
_DUBAN = Path(sys.executable).parent / "duban"
COMMAND = [str(_DUBAN)] if _DUBAN.is_file() else [sys.executable, "-m", "starter"]


@pytest.fixture(scope="module")
async def campaign(db_url: str) -> AsyncIterator[mini.Rehearsed]:
    """The mini campaign, run once for this module's tests, as test_campaign.py runs it; its
    time-skipping server stays up for the tests (it cannot list workflows)."""
    async with mini.rehearsed(db_url) as r:
        yield r


async def _chain(engine: AsyncEngine, cid: str) -> list[Any]:
    async with engine.connect() as conn:
        q = select(audit_events).where(audit_events.c.campaign_id == cid).order_by(audit_events.c.seq)
        return list((await conn.execute(q)).mappings().all())


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_export_writes_the_chain_as_json_lines_and_a_spreadsheet(
    engine: AsyncEngine, campaign: mini.Rehearsed, tmp_path: Path
) -> None:
    cid = campaign.campaign_id
    out = tmp_path / "export"
    async with engine.connect() as conn:
        summary = await export(conn, cid, out, campaign.env.client)
    chain = await _chain(engine, cid)
    # 41 for the campaign's own work (one 督办通知 for west's three tasks: 43 when there was one per
    # task; west's one order and the two bulletins' rows raising its measure, where there were
    # 3 orders), and 5 for west's one rectification order (opened, reminded, overdue, escalated
    # twice: 15 for the 3 orders before one open order per unit).
    assert summary.rows == len(chain) == 46
    assert summary.chain_ok, summary.problems
    assert summary.head == chain[-1]["hash"]
    # The time-skipping server cannot list workflows: histories are skipped, with a warning.
    assert summary.histories == 0
    assert any("cannot list workflows" in w for w in summary.warnings)

    lines = _read_jsonl(out / "audit.jsonl")
    assert [r["seq"] for r in lines] == [r["seq"] for r in chain] == list(range(1, 47))
    assert [(r["event_key"], r["prev_hash"], r["hash"]) for r in lines] == [
        (r["event_key"], r["prev_hash"], r["hash"]) for r in chain
    ]
    for got, row in zip(lines, chain, strict=True):
        assert set(got) == set(row.keys())
        assert got["payload"] == payload_of(row)
        assert datetime.fromisoformat(got["plan_time"]) == row["plan_time"]
        assert datetime.fromisoformat(got["server_time"]) == row["server_time"]
        assert got["plan_time"].endswith("+08:00") and got["server_time"].endswith("+00:00")
    # The file alone is enough to recompute every link of the chain.
    prev = GENESIS
    for got in lines:
        text = canonical(got["payload"])
        assert sha256_hex(text) == got["payload_digest"]
        fields = {
            **got,
            "plan_time": datetime.fromisoformat(got["plan_time"]),
            "server_time": datetime.fromisoformat(got["server_time"]),
        }
        assert got["prev_hash"] == prev
        prev = link(prev, content_digest(fields))
        assert prev == got["hash"]

    book = openpyxl.load_workbook(out / "audit.xlsx")
    assert book.sheetnames == ["audit", "campaign"]
    ws = book["audit"]
    assert ws.max_row == len(chain) + 1
    header = [c.value for c in ws[1]]
    assert header[:4] == ["seq", "plan time (Asia/Shanghai)", "server time (UTC)", "kind"]
    assert ws.auto_filter.ref == f"A1:R{len(chain) + 1}"
    assert ws.freeze_panes == "A2"
    assert (ws.column_dimensions["F"].width or 0) > 20
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert [r["hash"] for r in rows] == [r["hash"] for r in chain]
    reminder = next(r for r in rows if r["kind"] == "reminder" and r["obligation"].endswith("/west/T01-basic"))
    assert reminder["plan time (Asia/Shanghai)"] == datetime(2021, 12, 28, 9, 0)
    assert reminder["rule"] == "remind-before-due"
    info = dict(book["campaign"].iter_rows(min_row=2, values_only=True))
    assert info["campaign"] == cid
    assert info["plan title"] == "测试县美丽城镇行动方案"
    assert info["rule-set hash"] == chain[0]["ruleset_hash"]
    assert info["plan hash"] == chain[0]["plan_hash"]
    assert info["status"] == "closed"
    assert info["audit rows exported"] == 46
    assert info["chain holds"] == "yes"
    assert info["count: reminders"] == 3


async def test_export_saves_each_workflow_history_when_the_server_lists_them(
    engine: AsyncEngine, campaign: mini.Rehearsed, tmp_path: Path
) -> None:
    """On a dev server (which can list workflows): every workflow of the campaign, and no other
    campaign's whose id merely starts with the same text."""
    cid = campaign.campaign_id
    local = await WorkflowEnvironment.start_local(
        dev_server_existing_path=servers.dev_server_path(), ui=False, dev_server_extra_args=["--headless"]
    )
    try:
        queue = f"no-worker-{uuid.uuid4()}"  # the workflows only need a history, not to run
        ids = [cid, f"{cid}/rollout", f"{cid}/rollout/west", f"{cid}0/rollout"]
        for wid in ids:
            await local.client.start_workflow("CampaignWorkflow", id=wid, task_queue=queue)
        for _ in range(200):  # visibility lags the start by a moment
            if (await local.client.count_workflows(f'WorkflowId STARTS_WITH "{cid}"')).count == len(ids):
                break
            await asyncio.sleep(0.1)
        async with engine.connect() as conn:
            summary = await export(conn, cid, tmp_path / "export", local.client)
    finally:
        await local.shutdown()
    assert summary.warnings == []
    assert summary.histories == 3
    folder = tmp_path / "export" / "histories"
    # Named as `duban audit verify --histories` reads them: the workflow id, then the run.
    assert sorted(p.name.rsplit("__", 1)[0] for p in folder.iterdir()) == sorted(
        [cid, f"{cid}__rollout", f"{cid}__rollout__west"]
    )
    saved = {h.workflow_id: h for h in history.load(folder)}
    assert set(saved) == {cid, f"{cid}/rollout", f"{cid}/rollout/west"}
    started = saved[f"{cid}/rollout/west"].events[0].workflow_execution_started_event_attributes
    assert started.workflow_type.name == "CampaignWorkflow"


async def test_export_of_an_unknown_campaign_raises_and_writes_nothing(engine: AsyncEngine, tmp_path: Path) -> None:
    async with engine.connect() as conn:
        with pytest.raises(UnknownCampaign, match="no campaign 'no-such-campaign'"):
            await export(conn, "no-such-campaign", tmp_path / "export")
    assert not (tmp_path / "export").exists()


def _duban(*args: str, db_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return mini.duban(*args, db_url=db_url, var_dir=tmp_path / "var")


async def test_cli_export_writes_the_files_warns_without_temporal_and_refuses_an_unknown_campaign(
    db_url: str, campaign: mini.Rehearsed, tmp_path: Path
) -> None:
    cid = campaign.campaign_id
    out = tmp_path / "cli"
    done = _duban("audit", "export", cid, "--out", str(out), db_url=db_url, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{cid}: 46 audit rows, chain holds" in done.stdout
    assert "warning: workflow histories not exported: no Temporal server on 127.0.0.1:9" in done.stderr
    assert len(_read_jsonl(out / "audit.jsonl")) == 46
    assert openpyxl.load_workbook(out / "audit.xlsx")["audit"].max_row == 47
    assert not (tmp_path / "var" / "temporal.pid").exists()  # no server was started

    missing = _duban(
        "audit", "export", "no-such-campaign", "--out", str(tmp_path / "x"), db_url=db_url, tmp_path=tmp_path
    )
    assert missing.returncode == 1
    assert "no campaign 'no-such-campaign'" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert not (tmp_path / "x").exists()


async def test_agency_text_reaches_the_spreadsheet_as_text_never_a_formula(engine: AsyncEngine, tmp_path: Path) -> None:
    """A unit's progress text is the agency's own words: "=…" must not become a live formula,
    and control characters (which a spreadsheet cannot hold) must not break the export."""
    inp, prov, acts = await mini.registered(engine)
    ctx = inp.context
    cid = ctx.campaign_id
    now = datetime.now(UTC)
    ob = f"{cid}/rollout/west/T01-basic"
    text = '=HYPERLINK("http://example.invalid","进展")\x07'
    change = StateChange(
        key="u1",
        obligation_id=ob,
        unit_id="west",
        actor="west",
        state=ObligationState.in_progress,
        progress=30,
        text=text,
        plan_time=at(date(2021, 6, 1), "10:00"),
        server_time=now,
    )
    await acts.mirror(MirrorBatch(provenance=prov, changes=[change]))

    async with engine.connect() as conn:
        summary = await export(conn, cid, tmp_path / "export")
    assert summary.chain_ok and summary.rows == 2
    assert summary.warnings == [NO_CLIENT]
    assert _read_jsonl(tmp_path / "export" / "audit.jsonl")[1]["payload"]["text"] == text
    ws = openpyxl.load_workbook(tmp_path / "export" / "audit.xlsx")["audit"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=3, column=header.index("detail") + 1)
    assert cell.data_type == "s"
    assert cell.value == text[:-1]
    assert ws.cell(row=3, column=2).value == datetime(2021, 6, 1, 10, 0)
