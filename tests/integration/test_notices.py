"""督办通知 and the monthly 通报 as stored documents, on real PostgreSQL and the time-skipping server.

One mini campaign is rehearsed for the module with the default rules plus a level-3 escalation to
the convener 15 working days after the due date (a second notice) and a red threshold of 15 days
overdue, so west, which never answers, gets one blue notice listing its three tasks on 2022-01-10 and a
red one on 2022-01-24 (papers per unit: `rules.rounds`; before, a notice per task on each day).
Other tests call the activities directly on campaigns registered without workflows, most with
batches delivered as before papers were per unit (`DeliverBatch.per_unit` False).
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pypdf
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities import servers
from activities.campaign import CampaignActivities
from activities.codec import PAYLOADS
from activities.config import Settings
from activities.delivery import InboxItem, Outbox
from activities.documents import render_notice
from activities.store import deliveries as ledger
from activities.store.audit import payload_of, verify
from activities.store.db import make_engine
from activities.store.tables import (
    audit_events,
    bulletins,
    documents,
    inbox,
    obligations,
    rectification_orders,
    supervision_notices,
)
from models.contacts import Contact, ContactBook
from models.documents import SupervisionNotice
from models.payloads import CampaignContext, DeliverBatch, FiredAction, MonthlyRun, Provenance
from models.ruleset import ActionKind, Role
from models.time import CST, at
from rules.rounds import order_rounds
from services import papers
from services.context import Services
from services.plans import load_plan, prepare
from tests.integration import mini
from worker import build_worker

pytestmark = pytest.mark.integration

LEADS = {"T01": "县交通局", "T02": "县水利局", "T03": "县住建局"}

RULES = (
    mini.BASIC_RULES.read_text(encoding="utf-8")
    .replace(
        "action: {kind: escalate, to: office, level: 2, notice: true}",
        "action: {kind: escalate, to: office, level: 2, notice: true, channels: [inbox, email]}",
    )
    .replace(
        "monthly:",
        """  - id: escalate-to-convener
    description: 逾期15个工作日仍未办结，报召集人并再次下发督办通知
    trigger: {kind: after_due, working_days: 15}
    when: state != "completed"
    action: {kind: escalate, to: convener, level: 3, notice: true, channels: [inbox, email]}

severity: {red_days_overdue: 15}

monthly:""",
    )
)


@dataclass
class Rehearsal:
    campaign_id: str


@pytest.fixture(scope="module")
async def rehearsal(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rehearsal]:
    rules = tmp_path_factory.mktemp("rules") / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    engine = make_engine(db_url)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=servers.test_server_path(), data_converter=PAYLOADS
    )
    try:
        cid = f"mini-{uuid.uuid4().hex[:8]}"
        inp = prepare(
            load_plan(mini.MINI_PLAN), rules, campaign_id=cid, server_now=await env.get_current_time(), live=False
        ).input
        queue = str(uuid.uuid4())
        outbox = Outbox(ContactBook(region="测试县", units={"west": Contact(email="west@county.test")}))
        acts = CampaignActivities(engine, outbox)
        async with build_worker(env.client, engine, task_queue=queue, rehearsal=True, campaign_activities=acts):
            await (await mini.start(env.client, inp, queue)).result()
        yield Rehearsal(cid)
    finally:
        await env.shutdown()
        await engine.dispose()


async def _notices(engine: AsyncEngine, cid: str) -> list[Any]:
    q = select(supervision_notices).where(supervision_notices.c.campaign_id == cid)
    async with engine.connect() as conn:
        return list((await conn.execute(q.order_by(supervision_notices.c.number))).all())


async def _files(engine: AsyncEngine, cid: str, kind: str, ref: str) -> dict[str, Any]:
    q = select(documents).where(documents.c.campaign_id == cid, documents.c.kind == kind, documents.c.ref == ref)
    async with engine.connect() as conn:
        return {r.format: r for r in (await conn.execute(q)).all()}


async def _record(engine: AsyncEngine, cid: str, key: str) -> dict[str, Any]:
    q = select(audit_events).where(audit_events.c.campaign_id == cid, audit_events.c.event_key == key)
    async with engine.connect() as conn:
        return payload_of((await conn.execute(q)).mappings().one())


def pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages).replace("\n", "")


def docx_lines(data: bytes) -> list[str]:
    d = docx.Document(io.BytesIO(data))
    return [p.text for p in d.paragraphs] + [c.text for t in d.tables for row in t.rows for c in row.cells]


# -- 督办通知 ---------------------------------------------------------------------------------------


async def test_each_notice_is_stored_as_pdf_and_docx_and_mailed_with_them(
    engine: AsyncEngine, rehearsal: Rehearsal
) -> None:
    cid = rehearsal.campaign_id
    issued = await _notices(engine, cid)
    # One notice per unit per round, each listing all three of west's overdue tasks.
    assert [n.code for n in issued] == ["测督〔2022〕1号", "测督〔2022〕2号"]
    async with engine.connect() as conn:
        q = select(obligations.c.id, obligations.c.title).where(obligations.c.campaign_id == cid)
        titles: dict[str, str] = {o: t for o, t in (await conn.execute(q)).all()}
        mails = {r["idempotency_key"]: r for r in await ledger.ledger(conn, cid)}
    west = sorted(t for o, t in titles.items() if "/west/" in o)
    assert len(west) == 3
    for n in issued:
        files = await _files(engine, cid, "notice", n.code)
        assert set(files) == {"docx", "pdf"}
        record = await _record(engine, cid, n.idempotency_key)
        # The chain holds the document's whole input: rendering it again gives the stored files.
        again = render_notice(SupervisionNotice.model_validate(record["document"]))
        assert {f: again[f].sha256 for f in ("docx", "pdf")} == {f: files[f].sha256 for f in ("docx", "pdf")}
        assert record["severity"] == n.severity
        assert len(record["round"]) == 3 and set(record["overdue"]) == set(record["round"])
        task = n.obligation_id.rsplit("/", 1)[1][:3]

        text = pdf_text(files["pdf"].content)
        assert n.code in text
        assert "西镇：" in text  # the addressee line
        for title in west:  # every overdue task of the unit, not only the notice's own
            assert title in text, (n.code, title)
        assert text.index(titles[n.obligation_id]) < min(text.index(t) for t in west if t != titles[n.obligation_id])

        lines = docx_lines(files["docx"].content)
        assert n.code in lines
        [copies] = [line for line in lines if line.startswith("抄送：")]
        assert copies.startswith(f"抄送：{LEADS[task]}")  # the notice's own lead first
        assert set(LEADS.values()) <= set(copies.removeprefix("抄送：").rstrip("。").split("、"))
        assert ("分管副县长" in copies) == (n.level == 3)  # the convener, when escalated to

        [mail] = [m for k, m in mails.items() if k == f"{n.idempotency_key}#email"]
        assert mail["recipient"] == "west" and n.code in mail["subject"]
        assert [(f["filename"], f["sha256"]) for f in mail["attachment_rows"]] == [
            (files["pdf"].filename, files["pdf"].sha256),
            (files["docx"].filename, files["docx"].sha256),
        ]
    async with engine.connect() as conn:
        report = await verify(conn, cid)
    assert report.ok, report.problems


async def test_severity_rises_with_lateness_as_the_rule_set_says(engine: AsyncEngine, rehearsal: Rehearsal) -> None:
    """The unit that never answers is 督办'd for its three tasks in one notice on 2022-01-10 (blue),
    and again on 2022-01-24 (red: 15 working days late; yellow by repetition alone)."""
    issued = await _notices(engine, rehearsal.campaign_id)
    # The second is red by lateness (15 working days, this rule set's red) and would be yellow by
    # repetition alone (the unit's second notice).
    assert [(n.plan_time.astimezone(CST).date().isoformat(), n.severity, n.level) for n in issued] == [
        ("2022-01-10", "blue", 2),
        ("2022-01-24", "red", 3),
    ]
    record = await _record(engine, rehearsal.campaign_id, issued[1].idempotency_key)
    assert (record["prior_notices"], record["days_overdue"]) == (1, 15)


def notice_action(
    ctx: CampaignContext, task: str, day: date, *, overdue: int, occurrence: str, unit: str = "west"
) -> FiredAction:
    """A notice rule's firing for one of the unit's obligations, as the engine would give it."""
    ob = f"{ctx.campaign_id}/rollout/{unit}/{task}-basic"
    return FiredAction(
        key=f"{ob}#{occurrence}",
        kind=ActionKind.notice,
        rule_id="notice-test",
        obligation_id=ob,
        unit_id=unit,
        recipient=unit,
        role=Role.unit,
        title=f"督办通知：{task}",
        body=f"{task}已逾期{overdue}个工作日。",
        due=date(2021, 12, 31),
        plan_time=at(day),
        server_time=ctx.clock.server_time(at(day)),
        facts={"days_overdue": overdue, "escalation_level": 0},
    )


@dataclass
class Registered:
    cid: str
    prov: Provenance
    acts: CampaignActivities
    ctx: CampaignContext

    def notice(self, task: str, day: date, *, overdue: int, occurrence: str, unit: str = "west") -> FiredAction:
        return notice_action(self.ctx, task, day, overdue=overdue, occurrence=occurrence, unit=unit)

    async def deliver(self, *actions: FiredAction) -> Any:
        return await self.acts.deliver(DeliverBatch(provenance=self.prov, notice_prefix="测督", actions=list(actions)))


async def _registered(engine: AsyncEngine, acts: CampaignActivities | None = None) -> Registered:
    inp, prov, default = await mini.registered(engine)
    return Registered(inp.context.campaign_id, prov, acts or default, inp.context)


async def test_default_thresholds_blue_yellow_red_by_working_days_and_repeat_notices(engine: AsyncEngine) -> None:
    c = await _registered(engine)
    await c.deliver(c.notice("T01", date(2022, 1, 10), overdue=5, occurrence="a"))  # blue
    await c.deliver(c.notice("T02", date(2022, 1, 17), overdue=10, occurrence="a"))  # yellow: 10 days
    await c.deliver(c.notice("T03", date(2022, 2, 10), overdue=21, occurrence="a"))  # red: 20+ days
    await c.deliver(c.notice("T01", date(2022, 1, 11), overdue=6, occurrence="b", unit="east"))  # blue: east's first
    await c.deliver(c.notice("T02", date(2022, 1, 12), overdue=7, occurrence="b", unit="east"))  # yellow: a second
    issued = await _notices(engine, c.cid)
    assert [(n.number, n.obligation_id.rsplit("/", 1)[1], n.unit_id, n.severity) for n in issued] == [
        (1, "T01-basic", "west", "blue"),
        (2, "T02-basic", "west", "yellow"),  # 10 days late, and west's second notice
        (3, "T03-basic", "west", "red"),
        (4, "T01-basic", "east", "blue"),  # counted per unit: west's notices do not colour east's
        (5, "T02-basic", "east", "yellow"),
    ]
    pdf = (await _files(engine, c.cid, "notice", "测督〔2022〕3号"))["pdf"].content
    assert "红色督办" in pdf_text(pdf)


class FailingOnce(CampaignActivities):
    """Fails every notice whose key is in `fail` once, after its number was committed and
    before its papers were stored and mailed: the retry must finish the papers, not take
    another number."""

    def __init__(self, engine: AsyncEngine, fail: set[str]) -> None:
        super().__init__(engine)
        self.fail = fail

    async def _push(self, conn: Any, item: InboxItem, files: Any = ()) -> None:
        if item.key in self.fail:
            self.fail.discard(item.key)
            raise RuntimeError(f"injected failure after numbering {item.key}")


async def test_numbers_stay_gap_free_under_concurrent_issuance_retries_and_duplicates(engine: AsyncEngine) -> None:
    inp, prov, _ = await mini.registered(engine)
    cid = inp.context.campaign_id
    pairs = [("west", "T01"), ("west", "T02"), ("west", "T03"), ("east", "T01"), ("east", "T02")]
    actions = [
        notice_action(
            inp.context,
            pairs[i % 5][1],
            date(2022, 1, 10 + i % 5),
            overdue=5 + i,
            occurrence=f"c{i}",
            unit=pairs[i % 5][0],
        )
        for i in range(20)
    ]
    acts = FailingOnce(engine, {a.key for a in actions[::4]})  # 5 of them roll back once
    c = Registered(cid, prov, acts, inp.context)
    outcomes: list[str] = []

    async def issue(a: FiredAction) -> None:
        while True:  # what Temporal's retry policy does
            try:
                r = await c.deliver(a)
            except (RuntimeError, IntegrityError) as e:
                outcomes.append(type(e).__name__)
                continue
            outcomes.append("issued" if r.notices else "already")
            return

    # Every action twice at once (a retry racing its first attempt), 40 tasks on one campaign.
    await asyncio.gather(*(issue(a) for a in [*actions, *actions]))

    issued = await _notices(engine, cid)
    assert sorted(n.number for n in issued) == list(range(1, 21))
    assert sorted(n.idempotency_key for n in issued) == sorted(a.key for a in actions)
    assert outcomes.count("RuntimeError") == 5
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                select(documents.c.ref, documents.c.format).where(
                    documents.c.campaign_id == cid, documents.c.kind == "notice"
                )
            )
        ).all()
        counter = await conn.scalar(text("SELECT last FROM notice_counters WHERE campaign_id = :c"), {"c": cid})
        report = await verify(conn, cid)
    assert sorted(stored) == sorted((n.code, f) for n in issued for f in ("docx", "pdf"))
    assert counter == 20
    assert report.ok, report.problems
    for n in issued:  # each document carries its own number
        assert n.code in pdf_text((await _files(engine, cid, "notice", n.code))["pdf"].content)


# -- 月度对账 and 通报 -------------------------------------------------------------------------------


async def table_counts(engine: AsyncEngine, cid: str, plan_time: datetime) -> dict[str, dict[str, int]]:
    """Each unit's counts as of a bulletin, straight from the obligations table (SQL, not the
    reconciliation code): done by then, on time in plan dates, due and overdue by the as-of date."""
    q = text(
        """
        SELECT unit_id,
               count(*) AS total,
               count(*) FILTER (WHERE due < :as_of) AS due,
               count(*) FILTER (WHERE done) AS completed,
               count(*) FILTER (WHERE done AND (completed_at AT TIME ZONE 'Asia/Shanghai')::date <= due) AS on_time,
               count(*) FILTER (WHERE done AND (completed_at AT TIME ZONE 'Asia/Shanghai')::date > due) AS late,
               count(*) FILTER (WHERE due < :as_of AND NOT done) AS overdue
        FROM (SELECT *, state = 'completed' AND completed_at <= :t AS done FROM obligations
              WHERE campaign_id = :cid) o
        GROUP BY unit_id
        """
    )
    as_of = plan_time.astimezone(CST).date()
    async with engine.connect() as conn:
        rows = (await conn.execute(q, {"cid": cid, "as_of": as_of, "t": plan_time})).mappings().all()
    return {r["unit_id"]: {k: int(v) for k, v in r.items() if k != "unit_id"} for r in rows}


async def test_every_bulletin_counts_what_the_obligations_table_holds(
    engine: AsyncEngine, rehearsal: Rehearsal
) -> None:
    cid = rehearsal.campaign_id
    async with engine.connect() as conn:
        published = (
            await conn.execute(select(bulletins).where(bulletins.c.campaign_id == cid).order_by(bulletins.c.month))
        ).all()
        ids = set(
            (await conn.execute(select(obligations.c.id).where(obligations.c.campaign_id == cid))).scalars().all()
        )
    assert len(published) == 10
    for b in published:
        expected = await table_counts(engine, cid, b.plan_time)
        units = b.body["units"]
        assert {u: {k: s[k] for k in expected[u]} for u, s in units.items()} == expected, b.month
        for k in ("total", "due", "on_time", "late", "overdue"):
            assert b.body["totals"][k] == sum(e[k] for e in expected.values())
        assert b.body["totals"]["done"] == sum(e["completed"] for e in expected.values())
        towns = [u for u in expected if u in ("east", "west")]
        assert b.body["towns"]["overdue"] == sum(expected[u]["overdue"] for u in towns)
        assert sorted(b.body["ranking"]) == sorted(expected)
        assert [units[u]["rank"] for u in b.body["ranking"]] == list(range(1, len(expected) + 1))
        assert b.body["laggards"] == [u for u in b.body["ranking"] if units[u]["colour"] == "red"]

        ref = f"{b.month:%Y-%m}"
        sheet = (await _files(engine, cid, "ledger", ref))["xlsx"]
        assert b.body["documents"]["ledger"] == {"xlsx": sheet.sha256}
        ws = openpyxl.load_workbook(io.BytesIO(sheet.content)).active
        assert ws is not None
        listed = [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
        assert len(listed) == len(ids) and set(listed) == ids  # one row per obligation
        files = await _files(engine, cid, "bulletin", ref)
        assert b.body["documents"]["bulletin"] == {f: files[f].sha256 for f in ("docx", "pdf")}

    body = {f"{b.month:%Y-%m}": b.body for b in published}
    nov, dec, jan, feb = (body[m] for m in ("2021-11", "2021-12", "2022-01", "2022-02"))
    # November's (early December): nothing overdue yet, but west has reported nothing with most
    # of the time gone: behind 序时进度, yellow; east and the leads are done, on time.
    assert (nov["units"]["west"]["overdue"], nov["units"]["west"]["colour"]) == (0, "yellow")
    assert nov["units"]["west"]["expected_progress"] > 80 and nov["units"]["west"]["actual_progress"] == 0
    assert nov["commended"] == ["east", "housing", "roads"]
    assert (dec["laggards"], dec["units"]["west"]["overdue"]) == (["west"], 3)
    assert [o["unit_id"] for o in dec["orders_issued"]] == ["west"] and dec["orders_unresolved"] == []
    assert [(o["unit_id"], o["month"]) for o in jan["orders_unresolved"]] == [("west", "2021-12-01")]
    assert [(o["unit_id"], o["month"]) for o in feb["orders_unresolved"]] == [("west", "2021-12-01")]
    # West never answers: no second order while its one is open, but each bulletin raises that one
    # a measure (责令整改 → 通报批评 → 约谈); it lists all three of its overdue tasks.
    assert jan["orders_issued"] == feb["orders_issued"] == []
    seen = [dec["orders_issued"][0], jan["orders_unresolved"][0], feb["orders_unresolved"][0]]
    assert [o["measure"] for o in seen] == ["责令整改", "通报批评", "约谈"]
    assert all(len(o["items"]) == 3 and all("/west/" in i for i in o["items"]) for o in seen)
    text_ = pdf_text((await _files(engine, cid, "bulletin", "2022-02"))["pdf"].content)
    for words in ("2022年2月", "西镇", "东镇", "通报批评", "责令整改"):
        assert words in text_, words


async def test_orders_still_open_are_listed_until_resolved(engine: AsyncEngine) -> None:
    c = await _registered(engine)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        for i, (unit, month, state) in enumerate(
            [
                ("west", date(2021, 10, 1), "open"),
                ("east", date(2021, 10, 1), "resolved"),
                ("roads", date(2021, 11, 1), "resolved"),
                ("water", date(2021, 11, 1), "escalated"),  # overdue, not yet answered
                ("housing", date(2021, 12, 1), "open"),  # this month's
            ]
        ):
            await conn.execute(
                rectification_orders.insert().values(
                    idempotency_key=f"{c.cid}#test-order-{i}", campaign_id=c.cid, unit_id=unit, month=month,
                    overdue=3, due=date(2022, 1, 14), state=state, plan_time=at(month), server_time=now,
                )
            )  # fmt: skip
    run = MonthlyRun(
        provenance=c.prov,
        month=date(2021, 12, 1),
        plan_time=at(date(2022, 1, 5), "10:00"),
        server_time=now,
        rectify_if_overdue_at_least=3,
        rectification_due=date(2022, 1, 19),
    )
    first = await c.acts.monthly_cycle(run)
    again = await c.acts.monthly_cycle(run)
    assert (first.bulletin, again.bulletin) == (True, False)
    # The monthly workflow stops on this count: none done, all 9 open, the retry reads the same.
    assert (first.open_obligations, again.open_obligations) == (9, 9)
    async with engine.connect() as conn:
        body = await conn.scalar(select(bulletins.c.body).where(bulletins.c.campaign_id == c.cid))
    assert [(o["unit_id"], o["state"]) for o in body["orders_unresolved"]] == [("west", "open"), ("water", "escalated")]
    # This month's: the one on record, and the cycle's own for the towns with 3 overdue each.
    assert [o["unit_id"] for o in body["orders_issued"]] == ["east", "housing", "west"]
    # Nobody has done anything: all 9 obligations were due on 2021-12-31 and are overdue.
    assert body["totals"] == {"units": 5, "total": 9, "due": 9, "done": 0, "on_time": 0, "late": 0, "overdue": 9}
    lines = docx_lines((await _files(engine, c.cid, "bulletin", "2021-12"))["docx"].content)
    assert any("县水利局" in line for line in lines)


# -- the CLI on what was stored ---------------------------------------------------------------------


async def test_a_laggard_with_an_open_order_gets_its_items_added_to_it_the_level_raised_if_unanswered(
    engine: AsyncEngine,
) -> None:
    """The office's one open 责令整改 per unit: a bulletin issues no second order to a unit with one
    open; the items join it (its list, an audit row, an inbox row), its measure one rung up when
    the unit was not answering it, the same when the cycle is retried."""
    c = await _registered(engine)
    now = datetime.now(UTC)
    earlier = [
        ("west", "open", 1, date(2022, 1, 14)),  # being answered, not yet due: items added, same rung
        ("east", "resolved", 1, date(2021, 11, 19)),  # closed: not the open one
        ("east", "escalated", 2, date(2021, 12, 17)),  # due date passed unanswered: 通报批评 → 约谈
    ]
    async with engine.begin() as conn:
        for i, (unit, state, level, due) in enumerate(earlier):
            await conn.execute(
                rectification_orders.insert().values(
                    idempotency_key=f"{c.cid}#test-order-{i}", campaign_id=c.cid, unit_id=unit,
                    month=date(2021, 11, 1), overdue=0, due=due, state=state, level=level, listed=[],
                    plan_time=at(date(2021, 11, 5)), server_time=now,
                )
            )  # fmt: skip
    run = MonthlyRun(
        provenance=c.prov, month=date(2021, 12, 1), plan_time=at(date(2022, 1, 5), "10:00"), server_time=now,
        rectify_if_overdue_at_least=3, rectification_due=date(2022, 1, 19), per_unit=True,
    )  # fmt: skip
    first = await c.acts.monthly_cycle(run)
    again = await c.acts.monthly_cycle(run)
    assert first.orders == again.orders == []  # no new order: both laggards have one open
    async with engine.connect() as conn:
        rows = {
            r.idempotency_key[-1]: r
            for r in (
                await conn.execute(select(rectification_orders).where(rectification_orders.c.campaign_id == c.cid))
            ).all()
        }
        o = obligations.c
        ids = {
            u: sorted((await conn.execute(select(o.id).where(o.unit_id == u, o.campaign_id == c.cid))).scalars())
            for u in ("west", "east")
        }
        added = (
            await conn.execute(
                select(audit_events.c.event_key, audit_events.c.payload).where(
                    audit_events.c.campaign_id == c.cid, audit_events.c.kind == "rectification_added"
                )
            )
        ).all()
        q = select(inbox.c.title).where(inbox.c.campaign_id == c.cid, inbox.c.kind == "rectification")
        titles = (await conn.execute(q)).scalars().all()
    assert len(rows) == 3
    assert (rows["0"].level, rows["0"].measure, sorted(rows["0"].listed)) == (1, "责令整改", ids["west"])
    assert (rows["2"].level, rows["2"].measure, sorted(rows["2"].listed)) == (3, "约谈", ids["east"])
    assert rows["1"].listed == []  # the closed one is left alone
    record = {k.rsplit("#", 1)[-1]: json.loads(p) for k, p in added}
    assert record.keys() == {"west", "east"}  # once each, the retry wrote nothing
    assert (record["east"]["order"], record["east"]["raised"], record["east"]["measure"]) == (
        f"{c.cid}#test-order-2",
        True,
        "约谈",
    )
    assert (record["west"]["raised"], sorted(record["west"]["added"])) == (False, ids["west"])
    assert sorted(titles) == ["约谈：东镇（2021年12月通报，追加3项）", "责令整改：西镇（2021年12月通报，追加3项）"]


async def test_cli_refuses_an_ambiguous_number_and_a_file_that_does_not_match_its_record(
    engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    first, second = await _registered(engine), await _registered(engine)
    for c in (first, second):
        await c.deliver(c.notice("T01", date(2022, 1, 10), overdue=5, occurrence="cli"))
    code = "测督〔2022〕1号"

    def duban(*args: str) -> subprocess.CompletedProcess[str]:
        return mini.duban(*args, db_url=db_url, var_dir=tmp_path / "var")

    r = duban("notice", code)
    assert r.returncode == 2 and "name one with --campaign" in r.stderr, r.stderr
    assert first.cid in r.stderr and second.cid in r.stderr

    async with engine.begin() as conn:  # a stored file altered after it was issued
        await conn.execute(
            update(documents)
            .where(documents.c.campaign_id == first.cid, documents.c.ref == code, documents.c.format == "pdf")
            .values(content=b"%PDF-1.7 not what was issued")
        )
    pdf = tmp_path / "n.pdf"
    r = duban("notice", code, "--campaign", first.cid, "--pdf", str(pdf))
    assert r.returncode == 1 and "does not match its record" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not pdf.exists()
    r = duban("notice", code, "--campaign", second.cid, "--pdf", str(pdf))
    assert r.returncode == 0, r.stderr
    assert pdf.read_bytes().startswith(b"%PDF") and code in pdf_text(pdf.read_bytes())


async def test_a_rehearsals_notice_papers_wait_for_their_first_request(engine: AsyncEngine) -> None:
    """A worker with no outbox (a rehearsal) files no papers at issue; `duban notice` (the
    service) renders them from the chain's document input once, and a second request reads the
    same stored bytes."""
    c = await _registered(engine, CampaignActivities(engine, papers_on_request=True))
    await c.deliver(c.notice("T01", date(2022, 1, 10), overdue=5, occurrence="a"))
    (issued,) = await _notices(engine, c.cid)
    assert await _files(engine, c.cid, "notice", issued.code) == {}, "papers rendered at issue"
    async with Services(Settings(env="test", task_queue="unused"), engine=engine) as ctx:
        first = await papers.notice(ctx, code=issued.code, campaign=c.cid)
        stored = await _files(engine, c.cid, "notice", issued.code)
        assert set(stored) == {"pdf", "docx"}
        again = await papers.notice(ctx, code=issued.code, campaign=c.cid)
    assert await _files(engine, c.cid, "notice", issued.code) == stored
    assert {f: p.sha256 for f, p in first.files.items()} == {f: p.sha256 for f, p in again.files.items()}
    assert first.files["pdf"].sha256 == stored["pdf"].sha256


def rectify_action(c: Registered, task: str, day: date, *, rule: str) -> FiredAction:
    """A rule's 责令整改 for west's task, fired on `day`, to be rectified within two weeks."""
    ob = f"{c.cid}/rollout/west/{task}-basic"
    return notice_action(c.ctx, task, day, overdue=20, occurrence=f"{rule}@{day.isoformat()}").model_copy(
        update={
            "key": f"{ob}#{rule}@{day.isoformat()}T09:00",
            "kind": ActionKind.rectify,
            "rule_id": rule,
            "obligation_id": ob,
            "rectify_due": day + timedelta(days=14),
        }
    )


async def test_a_rules_order_to_a_unit_with_one_open_adds_to_it_and_starts_no_second(engine: AsyncEngine) -> None:
    """Two rule rounds ordering west: the first issues the order, the second (its due date passed
    unanswered) adds its item to it, one measure up, and says so (`added`), so the unit workflow
    starts no second order; a retried batch writes nothing twice and says the same."""
    c = await _registered(engine)
    batch = partial(DeliverBatch, provenance=c.prov, notice_prefix="测督", per_unit=True)
    first = await c.acts.deliver(batch(actions=[rectify_action(c, "T01", date(2022, 1, 10), rule="rectify-a")]))
    second = batch(actions=[rectify_action(c, "T02", date(2022, 2, 10), rule="rectify-b")])
    added, again = await c.acts.deliver(second), await c.acts.deliver(second)
    key = order_rounds(second.actions)[0].key
    assert (first.added, added.added, again.added) == ([], [key], [key])
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(rectification_orders).where(rectification_orders.c.campaign_id == c.cid))
        ).all()
        a = audit_events.c
        q = select(a.event_key, a.payload).where(a.campaign_id == c.cid, a.kind == "rectification_added")
        record = (await conn.execute(q)).all()
    [row] = rows
    assert [i.rsplit("/", 1)[1] for i in row.listed] == ["T01-basic", "T02-basic"]
    assert (row.level, row.measure, row.due) == (2, "通报批评", date(2022, 1, 24))
    [(event_key, payload)] = record
    assert event_key == key and json.loads(payload)["order"] == row.idempotency_key
