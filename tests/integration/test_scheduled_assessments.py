"""The plan's own assessment schedule in a whole rehearsal: 日常督导 monthly on a sample of towns,
拉练检查 once a half year, 年度总评 each year, 达标验收 at the milestones — each held on its score
sheet with the simulated assessors' scores — and 楚天杯 nominations of individuals by the office,
on the audit chain and in the final report.

The five-town mini plan of test_evaluation (rollout 2021-05 … 2021-12, evaluation to 2022-03-31),
its score sheets given schedules, rehearsed on the time-skipping server.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities import history
from activities.config import Settings
from activities.paperwork.final_report_request import file_final_report_on_request
from activities.store.tables import audit_events, campaigns, documents
from models.assessment import EvaluationRecord
from models.payloads import CampaignResult, SimulationInput
from rules import calendar as cal
from rules.assessment_schedule import sampled, scheduled_rounds
from rules.scoresheets import parse_scorebook
from services import assessments
from services.actors import Actor
from services.audit import verify_campaign
from services.context import Services
from services.errors import Conflict, Forbidden, Invalid
from services.plans import DEFAULT_RULES, load_plan, prepare
from tests.integration import mini
from tests.integration.test_evaluation import TOWNS, five_towns
from worker import build_worker
from workflows import CampaignWorkflow, SimulationWorkflow

pytestmark = pytest.mark.integration

SHEETS = mini.FIXTURES / "scoresheets" / "mini.yaml"
SCHEDULED = """
  - id: routine
    name: 日常督导评分表
    kind: routine
    every: month
    day: 20
    sample: 2
    until: 2021-08-31
    pass_mark: 60
    criteria:
      - {id: clean, name: 环境卫生, weight: 100, max_points: 100, tasks: [2]}
  - id: field_inspection
    name: 拉练检查评分表
    kind: field_inspection
    every: half_year
    pass_mark: 60
    criteria:
      - {id: seen, name: 现场所见, weight: 100, max_points: 100, tasks: [1, 2, 3]}
"""
OFFICE = Actor(account="cli:test", role="office")


def scheduled_book_text() -> str:
    text = SHEETS.read_text(encoding="utf-8").replace(
        "    kind: annual_review\n", "    kind: annual_review\n    every: year\n"
    )
    return text.rstrip("\n") + "\n" + SCHEDULED.lstrip("\n")


@pytest.fixture(scope="module")
async def rehearsal(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One rehearsal; while it is being registered (before time skips), the office nominates a
    person for 楚天杯 and an agency tries to."""
    from activities import servers
    from activities.codec import PAYLOADS
    from activities.store.db import make_engine

    plan = load_plan(five_towns(tmp_path_factory.mktemp("sched")))
    book = parse_scorebook(scheduled_book_text(), path="scheduled.yaml", plan=plan)
    engine = make_engine(db_url)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=servers.test_server_path(), data_converter=PAYLOADS
    )
    try:
        cid = f"sched-{uuid.uuid4().hex[:8]}"
        inp = prepare(
            plan, DEFAULT_RULES, campaign_id=cid, server_now=await env.get_current_time(), live=False, scorebook=book
        ).input
        queue = str(uuid.uuid4())
        async with (
            build_worker(env.client, engine, task_queue=queue, rehearsal=True),
            Services(Settings(env="test", database_url=db_url), engine=engine) as ctx,
        ):
            handle = await env.client.start_workflow(CampaignWorkflow.run, inp, id=cid, task_queue=queue)
            sim = await env.client.start_workflow(
                SimulationWorkflow.run,
                SimulationInput(context=inp.context, plan=plan, seed=5, never_answering=0, scorebook=book),
                id=f"{cid}/simulation",
                task_queue=queue,
            )
            # Time does not skip until a result is awaited: the campaign is registered, not begun.
            for _ in range(300):
                async with engine.connect() as conn:
                    if (await conn.execute(select(campaigns.c.id).where(campaigns.c.id == cid))).first():
                        break
                await asyncio.sleep(0.1)
            nominated = await assessments.nominate(
                ctx, actor=OFFICE, campaign=cid, person="李明", unit="west", title="镇长", reason="带头整治集镇环境"
            )
            again = await assessments.nominate(
                ctx, actor=OFFICE, campaign=cid, person="李明", unit="west", title="镇长", reason="带头整治集镇环境"
            )
            refused: list[Exception] = []
            for actor, unit in ((Actor(account="cli:x", unit="west", role="agency"), "west"), (OFFICE, "nowhere")):
                try:
                    await assessments.nominate(ctx, actor=actor, campaign=cid, person="王五", unit=unit, reason="好")
                except (Forbidden, Invalid) as e:
                    refused.append(e)
            result: CampaignResult = await handle.result()
            await sim.result()
            histories = await history.collect(env.client, [cid, f"{cid}/simulation"])
            listed = await assessments.list_assessments(ctx, campaign=cid)
            try:
                await assessments.nominate(ctx, actor=OFFICE, campaign=cid, person="赵六", unit="east", reason="迟到")
            except Conflict as e:
                refused.append(e)
        yield {
            "cid": cid,
            "plan": plan,
            "book": book,
            "result": result,
            "histories": histories,
            "listed": listed,
            "nominated": (nominated, again),
            "refused": refused,
        }
    finally:
        await env.shutdown()
        await engine.dispose()


async def test_each_kind_is_held_on_its_schedule_on_the_simulated_scores(rehearsal: Any, engine: AsyncEngine) -> None:
    cid, plan, book = rehearsal["cid"], rehearsal["plan"], rehearsal["book"]
    listed = rehearsal["listed"]
    kinds = {k.kind: (k.rounds, k.judged) for k in listed.kinds}
    towns = [u.id for u in book.units_in_scope(plan.directory)]
    assert sorted(towns) == sorted(TOWNS)
    # 日常督导: 2021-05 … 2021-08, two towns a round; 拉练检查: 2021-H1, 2021-H2 and 2022-H1 (held by
    # the plan's end, 2022-03-31), as is 年度总评 2022 after 2021's; 达标验收: both milestones (and re-checks).
    assert kinds["routine"] == (4, 8)
    assert kinds["field_inspection"] == (3, 3 * len(towns))
    assert kinds["annual_review"] == (2, 2 * len(towns))
    assert kinds["acceptance"][0] >= 2
    rows = listed.assessments
    held = {(r.kind, r.round): r.held_on.isoformat() for r in rows}
    assert held[("routine", "2021-05")] == "2021-05-20"
    assert held[("field_inspection", "2021-H1")] == "2021-06-30"
    assert held[("annual_review", "2021")] == "2021-12-31"
    assert held[("annual_review", "2022")] == held[("field_inspection", "2022-H1")] == "2022-03-31"
    calendar = cal.WorkCalendar(cal.build(range(2021, 2023)))
    for r in scheduled_rounds(book, plan, calendar):
        got = sorted(x.unit_id for x in rows if (x.kind, x.round) == (r.kind.value, r.round))
        assert got == sorted(sampled(book.sheet(r.sheet_id), towns, cid, r.round)), r.round
    # Every scheduled judgement was on a score the simulated assessors entered for that round.
    assert all(r.scored for r in rows if r.kind != "acceptance")
    assert rehearsal["result"].counts["assessments"] == len(rows)
    async with engine.connect() as conn:
        verdict = await verify_campaign(conn, cid, histories=rehearsal["histories"])
    assert verdict.ok, verdict.problems()


async def test_the_office_nominates_people_on_the_chain_and_the_final_report_lists_them(
    rehearsal: Any, engine: AsyncEngine
) -> None:
    cid = rehearsal["cid"]
    (_, new), (_, new_again) = rehearsal["nominated"]
    assert new and not new_again
    assert [type(e) for e in rehearsal["refused"]] == [Forbidden, Invalid, Conflict]
    async with engine.begin() as conn:  # the rehearsal left the final report for the first request
        await file_final_report_on_request(conn, cid)
    async with engine.connect() as conn:
        chain = (
            await conn.execute(
                select(audit_events.c.kind, audit_events.c.actor, audit_events.c.unit_id, audit_events.c.payload).where(
                    audit_events.c.campaign_id == cid, audit_events.c.kind == "commendation.nominated"
                )
            )
        ).all()
        stored = {
            (r.kind, r.format): bytes(r.content)
            for r in (
                await conn.execute(
                    select(documents.c.kind, documents.c.format, documents.c.content).where(
                        documents.c.campaign_id == cid
                    )
                )
            ).all()
        }
    assert [(k, a, u) for k, a, u, _ in chain] == [("commendation.nominated", "cli:test", "west")]
    assert json.loads(chain[0][3])["person"] == "李明"
    record = EvaluationRecord.model_validate_json(stored[("evaluation", "json")])
    assert [(n.person, n.unit_id, n.by) for n in record.nominees] == [("李明", "west", "cli:test")]
    text = "\n".join(p.text for p in Document(io.BytesIO(stored[("final_report", "docx")])).paragraphs)
    assert "李明（西镇镇长）：带头整治集镇环境" in text
    assert "先进个人" in text


async def test_duban_assessments_list_shows_each_kind(rehearsal: Any, db_url: str, tmp_path: Path) -> None:
    cid = rehearsal["cid"]
    r = mini.duban("assessments", "list", cid, "--kind", "routine", "--json", db_url=db_url, var_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {a["kind"] for a in data["assessments"]} == {"routine"}
    assert len(data["assessments"]) == 8
    r = mini.duban("assessments", "list", cid, db_url=db_url, var_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    for line in ("routine (日常督导): 4 rounds, 8 judged", "annual_review (年度总评): 2 rounds"):
        assert line in r.stdout
    r = mini.duban("assessments", "nominate", cid, "east", "赵六", "--reason", "迟到", db_url=db_url, var_dir=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr


async def test_duban_evaluation_names_the_nominated_people(rehearsal: Any, db_url: str, tmp_path: Path) -> None:
    r = mini.duban("evaluation", rehearsal["cid"], db_url=db_url, var_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "楚天杯 individuals nominated: 李明（west镇长）" in r.stdout
