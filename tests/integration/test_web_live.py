"""The web door on the real stack (time-skipping Temporal, PostgreSQL, the worker): an agency
signs, reports progress with evidence and asks for more time; the office approves on its board;
the agency completes; the auditor reads the timeline, the explanation and the verification.
Who acted (the account and its role) is on the audit chain beside the unit; the calendar feed,
read back by a second parser, holds the deadlines in the database."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.config import Settings
from activities.store.tables import audit_events, evidence_files, obligations
from services import campaigns as campaign_services
from services.context import Services
from services.plans import load_plan, load_ruleset
from tests.integration import mini
from tests.integration.web_support import OFFICE, add_accounts, browser, csrf_of, sign_in
from web.app import create_app
from worker import build_worker

pytestmark = pytest.mark.integration


def unfold_ics(text: str) -> list[dict[str, str]]:
    """A second, minimal RFC 5545 reader (not `icalendar`): unfold lines, collect VEVENTs' properties."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        if raw.startswith((" ", "\t")) and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    events, current = [], None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT" and current is not None:
            events.append(current)
            current = None
        elif current is not None:
            head, _, value = line.partition(":")
            current[head.split(";")[0]] = value
    return events


async def audit_rows(engine: AsyncEngine, cid: str, kind: str) -> list[dict[str, object]]:
    import json

    async with engine.connect() as conn:
        q = select(audit_events).where(audit_events.c.campaign_id == cid, audit_events.c.kind == kind)
        return [{**r, "payload": json.loads(r["payload"])} for r in (await conn.execute(q)).mappings()]


async def test_office_agency_and_auditor_through_the_web(
    env: WorkflowEnvironment, engine: AsyncEngine, tmp_path: Path
) -> None:
    queue, cid = str(uuid.uuid4()), f"web-{uuid.uuid4().hex[:8]}"
    plan = load_plan(mini.MINI_PLAN)
    settings = Settings(env="test", task_queue=queue, contacts_file=tmp_path / "none.yaml")
    async with (
        Services(settings, client=env.client, engine=engine) as ctx,
        build_worker(env.client, engine, task_queue=queue),
    ):
        ruleset = load_ruleset(mini.BASIC_RULES, plan)
        await campaign_services.launch(ctx, actor=OFFICE, plan=plan, ruleset=ruleset, campaign_id=cid)
        await env.sleep(timedelta(days=2))  # into the rollout phase
        names = await add_accounts(ctx, f"live-{uuid.uuid4().hex[:6]}")
        app = create_app(ctx)
        ob = f"{cid}/rollout/east/T01-basic"

        async with browser(app) as east:
            csrf = await sign_in(east, names["east"])
            page = await east.get(f"/c/{cid}/unit/east")
            assert page.status_code == 200 and ob in page.text and "剩余工作日" in page.text
            assert (await east.post(f"/act/ack/{ob}", data={"csrf": csrf})).status_code == 303
            files = [("evidence", ("../../etc/路面照片.jpg", b"\xff\xd8 a photo", "image/jpeg"))]
            r = await east.post(
                f"/act/progress/{ob}", data={"csrf": csrf, "percent": "50", "text": "过半"}, files=files
            )
            assert r.status_code == 303, r.text
            r = await east.post(f"/act/extend/{ob}", data={"csrf": csrf, "due": "2022-01-14", "reason": "雨季施工"})
            assert r.status_code == 303, r.text
            bad = [("evidence", ("run.exe", b"MZ", "application/octet-stream"))]
            r = await east.post(f"/act/complete/{ob}", data={"csrf": csrf}, files=bad)
            assert r.status_code == 409 and "not accepted" in r.text  # the rule set's types, refused on the record

        await env.sleep(timedelta(minutes=10))  # the read side is mirrored after a debounce
        async with browser(app) as office:
            csrf = await sign_in(office, names["office"])
            board = await office.get(f"/c/{cid}/board")
            assert board.status_code == 200 and "雨季施工" in board.text and "2022-01-14" in board.text
            r = await office.post(f"/act/decide/{ob}", data={"csrf": csrf, "approve": "approve", "reason": "同意"})
            assert r.status_code == 303, r.text
            await env.sleep(timedelta(minutes=10))
            assert "雨季施工" not in (await office.get(f"/c/{cid}/board")).text  # answered: no longer waiting

        async with browser(app) as east:
            csrf = await sign_in(east, names["east"])
            files = [("evidence", ("验收单.pdf", b"%PDF-1.4 done", "application/pdf"))]
            r = await east.post(f"/act/complete/{ob}", data={"csrf": csrf, "text": "已完成"}, files=files)
            assert r.status_code == 303, r.text
            await env.sleep(timedelta(minutes=10))
            assert 'data-state="completed">已办结' in (await east.get(f"/o/{ob}")).text
            feed = await east.post("/feed/new", data={"csrf": csrf})
            url = feed.text.split('id="feed-url">')[1].split("<")[0]
            ics = await east.get(url.replace("https://testserver", ""))
            assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")

        # Who acted is on the chain: the account and its role, beside the unit.
        await env.sleep(timedelta(minutes=10))  # the mirror's debounce
        asked = (await audit_rows(engine, cid, "extension.requested"))[0]
        approved = (await audit_rows(engine, cid, "extension.approved"))[0]
        refused = (await audit_rows(engine, cid, "refused"))[0]
        assert (asked["unit_id"], asked["payload"]["account"], asked["payload"]["role"]) == (
            "east",
            f"web:{names['east']}",
            "agency",
        )
        assert (approved["actor"], approved["payload"]["account"], approved["payload"]["role"]) == (
            "office",
            f"web:{names['office']}",
            "office",
        )
        assert refused["payload"]["account"] == f"web:{names['east']}"
        async with engine.connect() as conn:
            stored = (await conn.execute(select(evidence_files.c.name))).scalars().all()
            q = select(obligations).where(obligations.c.unit_id == "east", obligations.c.campaign_id == cid)
            rows = (await conn.execute(q)).mappings().all()
        assert "路面照片.jpg" in stored and not any("/" in n or "\\" in n for n in stored)

        # The feed, read back by a second parser, against the deadlines in PostgreSQL.
        # The account's unit may owe in other campaigns on the same database: this one's events.
        events = {e["UID"]: e for e in unfold_ics(ics.text) if e["UID"].startswith(f"{cid}/")}
        open_rows = {r["id"]: r for r in rows if r["state"] != "completed"}
        assert {f"{i}@duban" for i in open_rows} == set(events) and ob not in open_rows
        for oid, r in open_rows.items():
            start = events[f"{oid}@duban"]["DTSTART"]
            assert date(int(start[:4]), int(start[4:6]), int(start[6:8])) == (r["extended_due"] or r["due"])
        done = next(r for r in rows if r["id"] == ob)
        assert done["extended_due"] == date(2022, 1, 14)

        async with browser(app) as auditor:
            csrf = await sign_in(auditor, names["auditor"])
            timeline = await auditor.get(f"/c/{cid}/audit")
            assert timeline.status_code == 200 and f"web:{names['east']}" in timeline.text
            explained = await auditor.get(f"/explain/{ob}")
            assert explained.status_code == 200 and f"[web:{names['east']}, agency]" in explained.text
            assert f"web:{names['office']}" in explained.text
            archive = await auditor.get(f"/c/{cid}/export")
            assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
            with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
                exported = z.read("audit.jsonl").decode()
            assert f"web:{names['east']}" in exported
            verified = await auditor.get(f"/c/{cid}/verify")
            assert verified.status_code == 200 and "哈希链" in verified.text
            r = await auditor.post(f"/act/ack/{cid}/rollout/west/T01-basic", data={"csrf": csrf_of(timeline.text)})
            assert r.status_code == 403
        await env.client.get_workflow_handle(cid).terminate("test done")
