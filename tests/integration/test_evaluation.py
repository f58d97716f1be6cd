"""Milestones judged on stored scores, re-checks, and the evaluation phase, in a whole rehearsal.

The mini plan grown to five towns and two milestones (基础型 by 2021-09-30, 示范型 by 2021-12-31;
evaluation 2022-01 … 2022-03), rehearsed on the time-skipping server with simulated agencies and
assessors; the assessors are told that 西镇 and 北镇 miss 基础型.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities import history
from activities.documents.final_report import render_final_report
from activities.paperwork import ChecksumMismatch
from activities.paperwork.final_report_request import evaluation_key, file_final_report_on_request
from activities.store import views
from activities.store.tables import assessments, audit_events, documents, inbox, rectification_orders
from models.assessment import EvaluationRecord
from models.documents import FinalReport
from models.payloads import CampaignResult, SimulationInput
from rules.scoresheets import parse_scorebook
from services.audit import verify_campaign
from services.plans import DEFAULT_RULES, load_plan, prepare
from tests.integration import mini
from worker import build_worker
from workflows import CampaignWorkflow, SimulationWorkflow

pytestmark = pytest.mark.integration

SHEETS = mini.FIXTURES / "scoresheets" / "mini.yaml"
TOWNS = {"east": "东镇", "west": "西镇", "north": "北镇", "south": "南镇", "centre": "中镇"}
MISSING_BASIC = ["north", "west"]
SEED = 3


def five_towns(folder: Path) -> Path:
    """The mini plan with five towns in scope and milestones 基础型 (09-30) and 示范型 (12-31)."""
    units = (mini.FIXTURES / "units" / "mini.yaml").read_text(encoding="utf-8")
    extra = "".join(f"  - {{id: {u}, name: {n}, kind: town}}\n" for u, n in TOWNS.items() if u not in ("east", "west"))
    (folder / "units").mkdir()
    (folder / "units" / "mini.yaml").write_text(units.rstrip("\n") + "\n" + extra, encoding="utf-8")
    text = mini.MINI_PLAN.read_text(encoding="utf-8").replace(
        "      - {id: basic, name: 基础型, due: 2021-12-31}\n",
        "      - {id: basic, name: 基础型, due: 2021-09-30}\n      - {id: model, name: 示范型, due: 2021-12-31}\n",
    )
    plan = folder / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    return plan


@pytest.fixture(scope="module")
async def rehearsal(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One rehearsal for the module: campaign id, its result, and its histories."""
    from temporalio.contrib.pydantic import pydantic_data_converter

    from activities import servers
    from activities.store.db import make_engine

    folder = tmp_path_factory.mktemp("five")
    plan = load_plan(five_towns(folder))
    book = parse_scorebook(SHEETS.read_text(encoding="utf-8"), path=str(SHEETS), plan=plan)
    engine = make_engine(db_url)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=servers.test_server_path(), data_converter=pydantic_data_converter
    )
    try:
        cid = f"five-{uuid.uuid4().hex[:8]}"
        inp = prepare(
            plan, DEFAULT_RULES, campaign_id=cid, server_now=await env.get_current_time(), live=False, scorebook=book
        ).input
        queue = str(uuid.uuid4())
        async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
            handle = await env.client.start_workflow(CampaignWorkflow.run, inp, id=cid, task_queue=queue)
            sim = await env.client.start_workflow(
                SimulationWorkflow.run,
                SimulationInput(
                    context=inp.context,
                    plan=plan,
                    seed=SEED,
                    never_answering=0,
                    scorebook=book,
                    misses={"basic": MISSING_BASIC},
                ),
                id=f"{cid}/simulation",
                task_queue=queue,
            )
            result: CampaignResult = await handle.result()
            await sim.result()
            histories = await history.collect(env.client, [cid, f"{cid}/simulation"])
        yield cid, result, histories
    finally:
        await env.shutdown()
        await engine.dispose()


async def test_towns_missing_basic_are_ordered_to_rectify_rechecked_and_left_out_of_the_commendation(
    rehearsal: Any, engine: AsyncEngine
) -> None:
    cid, result, histories = rehearsal
    # The rehearsal left the final report for the first request (as `duban evaluation` makes it).
    async with engine.begin() as conn:
        await file_final_report_on_request(conn, cid)
    async with engine.connect() as conn:
        judged = (
            await conn.execute(
                select(assessments.c.milestone, assessments.c.attempt, assessments.c.unit_id, assessments.c.passed)
                .where(assessments.c.campaign_id == cid, assessments.c.kind == "acceptance")
                .order_by(assessments.c.milestone, assessments.c.attempt, assessments.c.unit_id)
            )
        ).all()
        orders = (
            await conn.execute(
                select(rectification_orders).where(
                    rectification_orders.c.campaign_id == cid,
                    rectification_orders.c.idempotency_key.like(f"{cid}#rectify#basic#%"),
                )
            )
        ).all()
        told = (
            await conn.execute(
                select(inbox.c.recipient, inbox.c.title).where(
                    inbox.c.campaign_id == cid, inbox.c.idempotency_key.like(f"{cid}#rectify#basic#%")
                )
            )
        ).all()
        stored = (
            await conn.execute(
                select(documents.c.kind, documents.c.format, documents.c.content, documents.c.sha256).where(
                    documents.c.campaign_id == cid
                )
            )
        ).all()
        kinds = (
            (await conn.execute(select(audit_events.c.kind).where(audit_events.c.campaign_id == cid))).scalars().all()
        )
        verdict = await verify_campaign(conn, cid, histories=histories)

    # 基础型 (2021-09-30) is judged on 2021-10-08, after the National Day holiday: exactly the two
    # named towns fail, are ordered to rectify by the re-check 10 working days later, fail again.
    basic_first = {u: ok for m, a, u, ok in judged if (m, a) == ("basic", 1)}
    assert basic_first == {u: u not in MISSING_BASIC for u in TOWNS}
    assert {u: ok for m, a, u, ok in judged if (m, a) == ("basic", 2)} == dict.fromkeys(MISSING_BASIC, False)
    assert sorted((o.unit_id, o.due.isoformat(), o.state) for o in orders) == [
        ("north", "2021-10-21", "open"),
        ("west", "2021-10-21", "open"),
    ]
    assert sorted(r for r, _ in told) == MISSING_BASIC
    assert all("“基础型”达标验收未通过" in t for _, t in told)
    # 示范型 is judged for every town too.
    assert {u for m, a, u, _ in judged if (m, a) == ("model", 1)} == set(TOWNS)

    # The evaluation, stored as JSON and on the audit record.
    files = {(k, f): (c, h) for k, f, c, h in stored}
    record = EvaluationRecord.model_validate_json(files[("evaluation", "json")][0])
    ev = record.evaluation
    laggards = {x.unit_id: x.reasons for x in ev.laggards}
    for town in MISSING_BASIC:
        assert "failed:basic" in laggards[town]
        assert town not in ev.commended
        assert town not in ev.standards["basic"]
    top = ev.towns[0]
    assert ev.commended[0] == top.unit_id, (ev.commended, [(t.unit_id, t.total) for t in ev.towns])
    assert record.scores >= 3 * len(TOWNS) + len(MISSING_BASIC)
    assert "evaluation" in kinds and "score.entered" in kinds and "rectification_order" in kinds

    # The final report as stored, opened back: the ranking, in order, in all three files.
    ranking = [TOWNS[t.unit_id] for t in ev.towns]
    pdf = "".join(p.extract_text() for p in PdfReader(io.BytesIO(files[("final_report", "pdf")][0])).pages)
    assert in_order(pdf.replace(" ", "").replace("\n", ""), ranking)
    doc = Document(io.BytesIO(files[("final_report", "docx")][0]))
    rows = [[c.text for c in r.cells] for r in doc.tables[0].rows]
    assert [r[1] for r in rows[1:]] == ranking
    assert rows[1][0] == "1"
    sheet = load_workbook(io.BytesIO(files[("final_report", "xlsx")][0]))["综合排名"]
    assert [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)] == ranking
    commended_col = [r[-2] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert commended_col[0] == "是"

    # The summary counts the judgements, and the record holds: chain, replay, cross-check.
    assert result.counts["assessments"] == len([j for j in judged]) + len(TOWNS)  # + the annual review
    assert result.counts["scores"] == record.scores
    assert verdict.ok, verdict.problems()


def in_order(text: str, names: list[str]) -> bool:
    at = 0
    for n in names:
        at = text.find(n, at)
        if at < 0:
            return False
        at += len(n)
    return True


async def test_duban_evaluation_prints_the_ranking_and_writes_the_stored_files(
    rehearsal: Any, db_url: str, tmp_path: Path
) -> None:
    cid, _, _ = rehearsal
    pdf, docx = tmp_path / "report.pdf", tmp_path / "report.docx"
    r = mini.duban("evaluation", cid, "--pdf", str(pdf), "--docx", str(docx), db_url=db_url, var_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "stored" in r.stdout and "楚天杯 recommended:" in r.stdout
    lines = [line for line in r.stdout.splitlines() if any(n in line for n in TOWNS.values())]
    assert len(lines) >= len(TOWNS)
    assert pdf.read_bytes()[:5] == b"%PDF-" and docx.read_bytes()[:2] == b"PK"
    r = mini.duban("evaluation", cid, "--json", db_url=db_url, var_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["campaign_id"] == cid and data["as_of"] == "2022-03-31"
    assert [t["rank"] for t in data["evaluation"]["towns"]] == list(range(1, len(TOWNS) + 1))


async def test_scores_after_the_evaluation_are_refused(rehearsal: Any, db_url: str, tmp_path: Path) -> None:
    cid, _, _ = rehearsal
    r = mini.duban(
        "scores", "enter", cid, "acceptance_model", "east", "equipped=90", "distinctive=90",
        "--assessor", "验收组", "--date", "2022-03-01", db_url=db_url, var_dir=tmp_path,
    )  # fmt: skip
    assert r.returncode == 1
    assert f"campaign {cid} is closed on 2022-04-01: it takes no new scores" in r.stderr
    assert "Traceback" not in r.stderr


async def test_the_final_report_is_rendered_on_first_request_the_same_bytes_and_checked(
    rehearsal: Any, engine: AsyncEngine
) -> None:
    cid, _, _ = rehearsal
    async with engine.connect() as conn:
        payload = await conn.scalar(
            select(audit_events.c.payload).where(
                audit_events.c.campaign_id == cid, audit_events.c.event_key == evaluation_key(cid)
            )
        )
    record = json.loads(payload)
    # The chain records the report's whole input; the hashes it records are the JSON's alone.
    assert set(record["documents"]) == {"json"}
    report = FinalReport.model_validate(record["document"])

    async with engine.begin() as conn:
        await file_final_report_on_request(conn, cid)  # filed now, or by a test before: stored once
        assert not await file_final_report_on_request(conn, cid)
        stored = await views.stored_evaluation(conn, cid, report_kind="final_report")
    assert stored is not None
    files = stored[1]
    assert sorted(files) == ["docx", "pdf", "xlsx"]
    # Rendered again from the chain's input: the same bytes as stored.
    again = render_final_report(report)
    assert {f: again[f].data for f in files} == {f: files[f].content for f in files}

    # A stored file altered since is refused, not handed out.
    async with engine.connect() as conn, conn.begin() as tx:
        await conn.execute(
            update(documents)
            .where(documents.c.campaign_id == cid, documents.c.kind == "final_report", documents.c.format == "pdf")
            .values(content=b"%PDF-altered")
        )
        with pytest.raises(ChecksumMismatch):
            await views.stored_evaluation(conn, cid, report_kind="final_report")
        await tx.rollback()
