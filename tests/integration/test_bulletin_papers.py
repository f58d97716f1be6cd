"""A rehearsal's 通报 and 台账 papers wait for their first request (issue 16.1): the monthly cycle
records both documents' input on the audit chain instead of rendering them, `duban bulletin`
(the service) renders and stores them once, and every later request reads the same checked bytes.

On real PostgreSQL; the activities are called directly on a mini campaign registered without
workflows, as test_notices does.
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.campaign import CampaignActivities
from activities.config import Settings
from activities.paperwork.bulletin_request import render_papers
from activities.store.audit import payload_of, verify
from activities.store.tables import audit_events, bulletins, documents, obligations
from models.payloads import MonthlyRun, Provenance
from models.time import at
from services import papers
from services.context import Services
from services.errors import Conflict
from tests.integration import mini

pytestmark = pytest.mark.integration

MONTH = date(2021, 12, 1)


def _run(prov: Provenance) -> MonthlyRun:
    return MonthlyRun(
        provenance=prov, month=MONTH, plan_time=at(date(2022, 1, 5), "10:00"), server_time=datetime.now(UTC),
        rectify_if_overdue_at_least=3, rectification_due=date(2022, 1, 19), per_unit=True,
    )  # fmt: skip


async def _stored(engine: AsyncEngine, cid: str) -> dict[tuple[str, str], bytes]:
    q = select(documents.c.kind, documents.c.format, documents.c.content).where(documents.c.campaign_id == cid)
    async with engine.connect() as conn:
        return {(r.kind, r.format): bytes(r.content) for r in (await conn.execute(q)).all()}


async def _chain_row(engine: AsyncEngine, cid: str) -> dict[str, Any]:
    q = select(audit_events).where(audit_events.c.campaign_id == cid, audit_events.c.kind == "bulletin")
    async with engine.connect() as conn:
        return payload_of((await conn.execute(q)).mappings().one())


async def _body(engine: AsyncEngine, cid: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        body = await conn.scalar(select(bulletins.c.body).where(bulletins.c.campaign_id == cid))
    assert isinstance(body, dict)
    return body


async def test_a_rehearsals_bulletin_papers_wait_for_their_first_request_and_read_back_the_same(
    engine: AsyncEngine,
) -> None:
    inp, prov, _ = await mini.registered(engine)
    cid = inp.context.campaign_id
    acts = CampaignActivities(engine, papers_on_request=True)  # a rehearsal's worker: no outbox
    result = await acts.monthly_cycle(_run(prov))
    assert result.bulletin
    assert await _stored(engine, cid) == {}, "the 通报 or 台账 was rendered at issue in a rehearsal"
    record = await _chain_row(engine, cid)
    assert "documents" not in record and set(record["document"]) == {"bulletin", "ledger"}
    assert (await _body(engine, cid))["documents"] == {}

    async with Services(Settings(env="test", task_queue="unused"), engine=engine) as ctx:
        first = await papers.bulletin(ctx, campaign=cid, month=MONTH)
        stored = await _stored(engine, cid)
        assert set(stored) == {("bulletin", "docx"), ("bulletin", "pdf"), ("ledger", "xlsx")}
        again = await papers.bulletin(ctx, campaign=cid, month=date(2021, 12, 17))  # any day of the month
    assert await _stored(engine, cid) == stored, "a second request rendered or stored again"
    assert {f: p.sha256 for f, p in first.files.items()} == {f: p.sha256 for f, p in again.files.items()}
    assert set(first.files) == {"docx", "pdf", "xlsx"}

    # The bytes are those the chain's input renders to (what rendering at issue would have stored),
    # and the body now names their hashes as a bulletin filed at issue does.
    files, sheet = render_papers(record)
    assert stored[("bulletin", "pdf")] == files["pdf"].data and stored[("bulletin", "docx")] == files["docx"].data
    assert stored[("ledger", "xlsx")] == sheet.data
    sha = {k: hashlib.sha256(v).hexdigest() for k, v in stored.items()}
    assert again.body["documents"] == {
        "bulletin": {"docx": sha[("bulletin", "docx")], "pdf": sha[("bulletin", "pdf")]},
        "ledger": {"xlsx": sha[("ledger", "xlsx")]},
    }
    async with engine.connect() as conn:
        n = len((await conn.execute(select(obligations.c.id).where(obligations.c.campaign_id == cid))).all())
        assert (await verify(conn, cid)).ok  # the chain holds with the input in place of the hashes
    ws = openpyxl.load_workbook(io.BytesIO(stored[("ledger", "xlsx")])).active
    assert ws is not None and ws.max_row == 1 + n  # one row per obligation

    # Filed on request, the files are checked on the way out like any other.
    async with engine.begin() as conn:
        await conn.execute(
            update(documents)
            .where(documents.c.campaign_id == cid, documents.c.kind == "ledger")
            .values(content=b"PK not what was filed")
        )
    async with Services(Settings(env="test", task_queue="unused"), engine=engine) as ctx:
        with pytest.raises(Conflict):
            await papers.bulletin(ctx, campaign=cid, month=MONTH)


async def test_a_worker_that_renders_at_issue_files_the_bulletin_and_chains_its_hashes(engine: AsyncEngine) -> None:
    inp, prov, acts = await mini.registered(engine)  # papers_on_request off: as a production worker
    cid = inp.context.campaign_id
    await acts.monthly_cycle(_run(prov))
    stored = await _stored(engine, cid)
    assert set(stored) == {("bulletin", "docx"), ("bulletin", "pdf"), ("ledger", "xlsx")}
    record = await _chain_row(engine, cid)
    assert "document" not in record
    assert record["documents"]["ledger"] == {"xlsx": hashlib.sha256(stored[("ledger", "xlsx")]).hexdigest()}
    async with Services(Settings(env="test", task_queue="unused"), engine=engine) as ctx:
        paper = await papers.bulletin(ctx, campaign=cid, month=MONTH)
    assert await _stored(engine, cid) == stored
    assert paper.body["documents"] == record["documents"]
