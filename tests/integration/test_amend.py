"""Plan amendments on a running campaign: a task added, a lead unit changed; obligations added,
withdrawn and handed over for exactly the units concerned, on the record, and still verifiable.

The mini campaign (2 towns × 3 tasks, 基础型 due 2021-12-31; `west` never answers; east and the
lead units sign on 2021-05-10 and finish their own tasks on 2021-11-01). On 2021-09-01 the office
adds task 4 (led by roads, for every town) and hands task 2 from water to housing.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities import history
from activities.store.tables import audit_events, obligations
from models.payloads import AmendPlan, PlanAmended
from models.time import CST
from services.audit import verify_campaign
from services.plans import load_plan
from tests.integration import mini
from worker import build_worker

pytestmark = pytest.mark.integration

TASK_2 = '  - {no: 2, name: 加强污水治理, category: 1, lead: water, responsible: ["@local"]}'
TASK_3 = '  - {no: 3, name: 整治城镇秩序, category: 1, lead: housing, responsible: ["@local"]}'


def amended(tmp_path: Path, text: str) -> AmendPlan:
    shutil.copytree(mini.FIXTURES / "units", tmp_path / "units", dirs_exist_ok=True)
    path = tmp_path / "amended.yaml"
    path.write_text(text, encoding="utf-8")
    return AmendPlan(plan=load_plan(path), path=str(path), actor="office")


async def test_an_amendment_adds_withdraws_and_hands_over_obligations(
    env: WorkflowEnvironment, engine: AsyncEngine, tmp_path: Path
) -> None:
    original = mini.MINI_PLAN.read_text(encoding="utf-8")
    assert TASK_2 in original and TASK_3 in original
    text = original.replace(TASK_2, TASK_2.replace("lead: water", "lead: housing")).replace(
        TASK_3, TASK_3 + '\n  - {no: 4, name: 完善环卫设施, category: 1, lead: roads, responsible: ["@local"]}'
    )
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    cid, clock = inp.context.campaign_id, inp.context.clock
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
        handle = await mini.start(env.client, inp, queue)
        await env.sleep(clock.server_time(datetime(2021, 9, 1, 10, tzinfo=CST)) - await env.get_current_time())

        other = original.replace("id: mini-2021", "id: other-2021")
        moved_phase = original.replace("end: 2021-12-31\n    tasks_due", "end: 2022-01-15\n    tasks_due")
        for bad, needle in ((other, "not this campaign's 'mini-2021'"), (moved_phase, "its dates cannot change")):
            with pytest.raises(WorkflowUpdateFailedError) as e:
                await handle.execute_update("amend_plan", amended(tmp_path, bad))
            assert needle in str(getattr(e.value.cause, "message", e.value))

        done: PlanAmended = await handle.execute_update("amend_plan", amended(tmp_path, text), result_type=PlanAmended)
        assert done.counts == {"added": 4, "withdrawn": 1, "moved": 0, "relead": 2}
        await handle.result()

    async with engine.connect() as conn:
        rows = {
            r.id: r for r in (await conn.execute(select(obligations).where(obligations.c.campaign_id == cid))).all()
        }
        ob = f"{cid}/rollout"
        # Task 4 for every town in scope and its lead, and nothing else.
        assert sorted(k for k in rows if "/T04-" in k) == [
            f"{ob}/east/T04-basic",
            f"{ob}/roads/T04-basic",
            f"{ob}/west/T04-basic",
        ]
        assert rows[f"{ob}/water/T02-basic"].state == "withdrawn"
        assert rows[f"{ob}/housing/T02-basic"].lead == "housing"
        assert {rows[f"{ob}/{u}/T02-basic"].lead for u in ("east", "west")} == {"housing"}
        trail = (
            await conn.execute(
                select(audit_events.c.kind, audit_events.c.payload, audit_events.c.plan_hash)
                .where(audit_events.c.campaign_id == cid)
                .order_by(audit_events.c.seq)
            )
        ).all()
        (amend,) = [json.loads(r.payload) for r in trail if r.kind == "plan.amended"]
        assert (amend["previous_hash"], amend["hash"]) == (inp.context.plan_hash, done.plan_hash)
        assert amend["withdrawn"] == [f"{ob}/water/T02-basic"]
        assert amend["relead"] == {f"{ob}/east/T02-basic": "housing", f"{ob}/west/T02-basic": "housing"}
        histories = await history.collect(env.client, [cid])
        verdict = await verify_campaign(conn, cid, histories=histories)
    assert verdict.ok, verdict.problems()

    got = await mini.deliveries(engine, cid)
    by_ob: dict[str, list[tuple[str, str, str, str]]] = {}
    for when, kind, recipient, obligation, rule, _level in got:
        by_ob.setdefault(obligation.removeprefix(f"{ob}/"), []).append((when[:10], kind, recipient, rule))
    # The new task is chased like the others: west's escalates to its lead, roads'
    # own (it leads it) to the office.
    assert by_ob["west/T04-basic"] == [
        ("2021-12-28", "reminder", "west", "remind-before-due"),
        ("2022-01-04", "escalation", "roads", "escalate-to-lead"),
        ("2022-01-10", "escalation", "office", "escalate-to-office"),
    ]
    assert ("2022-01-04", "escalation", "office", "escalate-to-lead") in by_ob["roads/T04-basic"]
    # Task 2 escalates to its new lead; the withdrawn obligation is never chased.
    assert ("2022-01-04", "escalation", "housing", "escalate-to-lead") in by_ob["west/T02-basic"]
    assert "water/T02-basic" not in by_ob
