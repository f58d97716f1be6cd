"""The services layer called directly, as the web door will call it: typed inputs, typed results,
and every refusal one of `services.errors`, on the real time-skipping server and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.config import Settings
from activities.store.tables import campaigns, evidence_files
from models.time import CST
from services import campaigns as campaign_services
from services import obligations, rectification
from services.actors import Actor, acting_for
from services.context import Services
from services.errors import Conflict, Invalid, NotFound
from services.obligations import EvidenceFile
from services.plans import load_plan, load_ruleset
from tests.integration import mini
from worker import build_worker

pytestmark = pytest.mark.integration

OFFICE = Actor(account="test:office", unit="office", role="office")


def settings(queue: str, tmp_path: Path) -> Settings:
    # No contacts file: the campaign sends no pushes, so it runs no dispatch loop.
    return Settings(env="test", task_queue=queue, contacts_file=tmp_path / "no-contacts.yaml")


async def test_launch_and_act_through_the_services(
    env: WorkflowEnvironment, engine: AsyncEngine, tmp_path: Path
) -> None:
    queue = str(uuid.uuid4())
    cid = f"svc-{uuid.uuid4().hex[:8]}"
    plan = load_plan(mini.MINI_PLAN)
    ruleset = load_ruleset(mini.BASIC_RULES, plan)
    async with (
        Services(settings(queue, tmp_path), client=env.client, engine=engine) as ctx,
        build_worker(env.client, engine, task_queue=queue),
    ):
        done = await campaign_services.launch(ctx, actor=OFFICE, plan=plan, ruleset=ruleset, campaign_id=cid)
        assert done.campaign_id == cid and not done.push
        assert done.plan_time.astimezone(CST).date() == plan.issued
        with pytest.raises(Conflict, match="already running"):
            await campaign_services.launch(ctx, actor=OFFICE, plan=plan, ruleset=ruleset, campaign_id=cid)

        await env.sleep(timedelta(days=2))  # past the rollout phase's start, 2021-05-01
        status = await campaign_services.status(ctx, campaign=cid)
        assert status.counts["obligations"] == 9
        east = await acting_for(ctx, account="test:east", unit="east", campaign=cid)
        assert east.role == "agency"
        assert (await acting_for(ctx, account="test:office", unit="office", campaign=cid)).role == "office"

        ob = f"{cid}/rollout/east/T01-basic"
        view = await obligations.acknowledge(ctx, actor=east, obligation=ob)
        assert (view.id, view.state.value) == (ob, "acknowledged")
        with pytest.raises(Conflict, match="already acknowledged"):
            await obligations.acknowledge(ctx, actor=east, obligation=ob)
        with pytest.raises(Conflict, match="may not act"):
            await obligations.complete(ctx, actor=east, obligation=f"{cid}/rollout/west/T01-basic")
        with pytest.raises(NotFound, match="no open workflow holds"):
            await obligations.acknowledge(ctx, actor=east, obligation=f"{cid}/rollout/nowhere/T01-basic")
        with pytest.raises(Invalid, match="not an obligation id"):
            await obligations.acknowledge(ctx, actor=east, obligation="not-an-id")

        refs = await obligations.store_evidence(ctx, files=[EvidenceFile(name="photo.jpg", content=b"\xff\xd8 photo")])
        view = await obligations.report_progress(ctx, actor=east, obligation=ob, percent=40, evidence=refs)
        assert view.progress == 40
        async with engine.connect() as conn:
            stored = (
                await conn.execute(select(evidence_files.c.name).where(evidence_files.c.sha256 == refs[0].sha256))
            ).scalar()
        assert stored == "photo.jpg" and refs[0].media_type == "image/jpeg"
        # A file the rule set refuses (over its 20 MB, or of a type it does not take) is not
        # stored; the Update citing it is refused on the record. A name with a path is refused.
        over = [
            EvidenceFile(name="big.pdf", content=b"x" * (20 * 1024 * 1024 + 1)),
            EvidenceFile(name="a.exe", content=b"MZ"),
        ]
        refused_refs = await obligations.store_evidence(ctx, files=over, campaign=cid)
        async with engine.connect() as conn:
            kept = (
                await conn.execute(
                    select(evidence_files.c.sha256).where(evidence_files.c.sha256.in_([r.sha256 for r in refused_refs]))
                )
            ).all()
        assert kept == []
        with pytest.raises(Conflict, match="limit is 20,971,520"):
            await obligations.report_progress(ctx, actor=east, obligation=ob, percent=50, evidence=refused_refs[:1])
        for name in ("..\\..\\win.ini.pdf", "a/b.pdf", "x\ny.pdf"):
            with pytest.raises(Invalid, match="not a plain file name"):
                await obligations.store_evidence(ctx, files=[EvidenceFile(name=name, content=b"%PDF")], campaign=cid)

        # Bad input is refused before anything reaches the workflow.
        with pytest.raises(Invalid, match="needs a reason"):
            await obligations.evaluate(ctx, actor=OFFICE, obligation=ob, accept=False)
        order = f"{cid}/rectify/2021-12-01#west"
        with pytest.raises(Invalid, match="needs no new due date"):
            await rectification.rectification_review(
                ctx, actor=OFFICE, order=order, accept=True, new_due=date(2022, 1, 31)
            )
        with pytest.raises(NotFound, match="no workflow follows"):
            await rectification.rectification_report(ctx, actor=east, order=order, text="已整改")
        await env.client.get_workflow_handle(cid).terminate("test done")


async def test_a_closed_or_unknown_campaign_is_refused_in_kind(
    env: WorkflowEnvironment, engine: AsyncEngine, tmp_path: Path
) -> None:
    inp, _, _ = await mini.registered(engine)
    cid = inp.context.campaign_id
    async with engine.begin() as conn:
        await conn.execute(
            update(campaigns)
            .where(campaigns.c.id == cid)
            .values(status="closed", closed_plan_time=datetime(2022, 4, 1, tzinfo=UTC))
        )
    async with Services(settings("unused", tmp_path), client=env.client, engine=engine) as ctx:
        west = Actor(account="test:west", unit="west", role="agency")
        with pytest.raises(Conflict, match=f"campaign {cid} is closed on 2022-04-01"):
            await obligations.acknowledge(ctx, actor=west, obligation=f"{cid}/rollout/west/T01-basic")
        with pytest.raises(Conflict, match="is closed"):
            await campaign_services.amend_plan(
                ctx, actor=OFFICE, campaign=cid, plan=inp.plan, path="p.yaml", by="office"
            )
        with pytest.raises(NotFound, match="no campaign 'no-such-campaign'"):
            await campaign_services.status(ctx, campaign="no-such-campaign")
