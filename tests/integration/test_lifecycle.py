"""The obligation lifecycle beyond 签收/办结: 延期申请 decided by the office, 评价 that accepts or
returns work, evidence files checked against the rule set; every refusal on the record.

The mini campaign on the basic rules (remind 3 working days before the due date 2021-12-31,
escalate to the lead 1 working day after, to the office 5 after); `west` never answers on its
own, `east` and the lead units sign on 2021-05-10 and finish on 2021-11-01.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities import history
from activities.store import evidence as evidence_store
from activities.store.tables import audit_events, obligations
from models.payloads import (
    Complete,
    DecideExtension,
    Evaluate,
    Evidence,
    ObligationView,
    ReportProgress,
    RequestExtension,
)
from models.time import CST
from services.audit import verify_campaign
from tests.integration import mini
from worker import build_worker

pytestmark = pytest.mark.integration

PDF_BYTES = b"%PDF-1.4 " + bytes(range(256)) * 400
PDF = Evidence(
    name="整改照片.pdf", sha256=hashlib.sha256(PDF_BYTES).hexdigest(), size=len(PDF_BYTES), media_type="application/pdf"
)


async def sleep_to(env: WorkflowEnvironment, clock: Any, when: datetime) -> None:
    await env.sleep(clock.server_time(when) - await env.get_current_time())


async def update(handle: WorkflowHandle[Any, Any], verb: str, arg: Any) -> ObligationView:
    view: ObligationView = await handle.execute_update(verb, arg, result_type=ObligationView)
    return view


async def refused(handle: WorkflowHandle[Any, Any], verb: str, arg: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as e:
        await handle.execute_update(verb, arg)
    return str(getattr(e.value.cause, "message", e.value))


async def test_extensions_evaluation_and_evidence(env: WorkflowEnvironment, engine: AsyncEngine) -> None:
    queue = str(uuid.uuid4())
    inp = mini.new_campaign(await env.get_current_time())
    cid, clock, office = inp.context.campaign_id, inp.context.clock, inp.context.office
    west = env.client.get_workflow_handle(f"{cid}/rollout/west")
    east = env.client.get_workflow_handle(f"{cid}/rollout/east")
    w1, w2, w3 = (f"{cid}/rollout/west/T0{n}-basic" for n in (1, 2, 3))
    e1 = f"{cid}/rollout/east/T01-basic"
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True):
        handle = await mini.start(env.client, inp, queue)
        await sleep_to(env, clock, datetime(2021, 11, 15, 10, tzinfo=CST))

        # 延期申请: west asks for T01 to move to 2022-01-28; the office approves.
        ask = RequestExtension(obligation_id=w1, unit_id="west", due=date(2022, 1, 28), text="雨季施工受阻")
        view = await update(west, "request_extension", ask)
        assert view.pending_extension == date(2022, 1, 28)
        # Refused, each on the record: a second request while one waits; a date in the past; a
        # unit deciding its own request; another unit's obligation; an unknown obligation.
        reasons = [
            await refused(west, "request_extension", ask.model_copy(update={"due": date(2022, 2, 15)})),
            await refused(
                west, "request_extension", ask.model_copy(update={"obligation_id": w2, "due": date(2021, 11, 1)})
            ),
            await refused(west, "decide_extension", DecideExtension(obligation_id=w1, unit_id="west", approve=True)),
            await refused(east, "request_extension", ask.model_copy(update={"obligation_id": e1, "unit_id": "west"})),
            await refused(west, "decide_extension", DecideExtension(obligation_id=w3, unit_id=office, approve=True)),
        ]
        assert "already waiting" in reasons[0]
        assert "is not after today" in reasons[1]
        assert "only the office" in reasons[2]
        assert "may not act on" in reasons[3]
        assert "no 延期申请 waiting" in reasons[4]
        view = await update(west, "decide_extension", DecideExtension(obligation_id=w1, unit_id=office, approve=True))
        assert (view.extended_due, view.pending_extension) == (date(2022, 1, 28), None)
        # T02: asked, and refused by the office: nothing moves.
        await update(west, "request_extension", ask.model_copy(update={"obligation_id": w2}))
        await update(
            west,
            "decide_extension",
            DecideExtension(obligation_id=w2, unit_id=office, approve=False, text="理由不充分"),
        )
        # A second extension is beyond the rule set's limit of one.
        again = ask.model_copy(update={"due": date(2022, 2, 25)})
        assert "the rule set allows 1" in await refused(west, "request_extension", again)

        # Evidence: a forbidden type and a file over the limit are refused; a PDF is kept.
        exe = ReportProgress(
            obligation_id=w3, unit_id="west", percent=20, evidence=[PDF.model_copy(update={"name": "x.exe"})]
        )
        big = exe.model_copy(update={"evidence": [PDF.model_copy(update={"size": 50 * 1024 * 1024})]})
        assert "type 'exe' is not accepted" in await refused(west, "report_progress", exe)
        assert "the limit is 20,971,520" in await refused(west, "report_progress", big)
        # What a raw client might claim: a path or a forged line as a name, a file never stored,
        # a stored file of another size. Each refused against the store, not the claim.
        for name in ("..\\..\\整改照片.pdf", "a/../../etc.pdf", "照片\n2021-12-01 伪造.pdf"):
            bad = exe.model_copy(update={"evidence": [PDF.model_copy(update={"name": name})]})
            assert "not a plain file name" in await refused(west, "report_progress", bad)
        assert "was never stored" in await refused(west, "report_progress", exe.model_copy(update={"evidence": [PDF]}))
        async with engine.begin() as conn:
            row = {"sha256": PDF.sha256, "size": PDF.size, "media_type": PDF.media_type, "name": PDF.name}
            await evidence_store.store(conn, [{**row, "content": PDF_BYTES}])
        smaller = PDF.model_copy(update={"size": 1000})
        assert "as stored, not 1,000" in await refused(
            west, "report_progress", exe.model_copy(update={"evidence": [smaller]})
        )
        await update(west, "report_progress", exe.model_copy(update={"evidence": [PDF]}))

        # 评价: east finished T01 on 2021-11-01; the office returns it, which reopens it.
        assert "only the office" in await refused(
            east, "evaluate", Evaluate(obligation_id=e1, unit_id="east", accept=True)
        )
        view = await update(east, "evaluate", Evaluate(obligation_id=e1, unit_id=office, accept=False, text="佐证不全"))
        assert (view.state.value, view.evaluation) == ("in_progress", "returned")
        await sleep_to(env, clock, datetime(2021, 12, 29, 10, tzinfo=CST))
        await update(east, "complete", Complete(obligation_id=e1, unit_id="east", evidence=[PDF]))
        view = await update(east, "evaluate", Evaluate(obligation_id=e1, unit_id=office, accept=True))
        assert view.evaluation == "accepted"
        await handle.result()

    got = await mini.deliveries(engine, cid)
    expected = [d for d in mini.expected_deliveries(cid) if d[3] != w1]
    expected += [
        # The whole ladder moved with the approved extension (2022-01-29 is a make-up Saturday,
        # 01-31 … 02-06 the Spring Festival).
        ("2022-01-25 09:00", "reminder", "west", w1, "remind-before-due", 0),
        ("2022-01-29 09:00", "escalation", "roads", w1, "escalate-to-lead", 1),
        ("2022-02-09 09:00", "escalation", "office", w1, "escalate-to-office", 2),
        # East's returned work was open again at the reminder date.
        ("2021-12-28 09:00", "reminder", "east", e1, "remind-before-due", 0),
    ]
    assert got == sorted(expected)

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_events.c.kind, audit_events.c.obligation_id, audit_events.c.payload).where(
                    audit_events.c.campaign_id == cid
                )
            )
        ).all()
        kinds = [(r.kind, r.obligation_id) for r in rows]
        for k in ("extension.requested", "extension.approved"):
            assert (k, w1) in kinds
        assert ("extension.refused", w2) in kinds and ("extension.approved", w2) not in kinds
        assert ("obligation.returned", e1) in kinds and ("obligation.accepted", e1) in kinds
        refusals = [json.loads(r.payload) for r in rows if r.kind == "refused"]
        assert len(refusals) == 14  # every refused attempt above, each with its reason
        ob = (await conn.execute(select(obligations).where(obligations.c.id == w1))).mappings().one()
        assert (ob["due"], ob["extended_due"], ob["extensions"]) == (date(2021, 12, 31), date(2022, 1, 28), 1)
        w3row = (await conn.execute(select(obligations).where(obligations.c.id == w3))).mappings().one()
        assert [e["sha256"] for e in w3row["evidence"]] == [PDF.sha256]
        e1row = (await conn.execute(select(obligations).where(obligations.c.id == e1))).mappings().one()
        assert (e1row["state"], e1row["evaluation"]) == ("completed", "accepted")
        histories = await history.collect(env.client, [cid])
        verdict = await verify_campaign(conn, cid, histories=histories)
    assert verdict.ok, verdict.problems()
