"""E-mail and webhook delivery through the outbox and ledger, on real PostgreSQL, a real SMTP
server (aiosmtpd) and a real HTTP receiver, all on 127.0.0.1.

Each test registers its own mini campaign, fires actions through `CampaignActivities.deliver`
(or the outbox directly) and sends with `DeliveryActivities.dispatch`, at plan instants given as
the workflow would give them (`as_of`).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import sys
import uuid
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.campaign import CampaignActivities
from activities.delivery import InboxItem, Outbox
from activities.keepalive import KeepAlive
from activities.sending import DeliveryActivities
from activities.store import deliveries as ledger
from activities.store.tables import inbox
from models.contacts import Contact, ContactBook
from models.delivery import Attachment, DispatchRequest, DispatchResult, QuietHours, delivery_id, ledger_keys
from models.payloads import Act, CampaignContext, DeliverBatch, DeliverResult, FiredAction, Provenance
from models.ruleset import Channel
from models.time import at
from rules.calendar import WorkCalendar
from rules.quiet import release_time
from tests.integration import mini
from tests.integration.mini import duban, registered
from tests.integration.receivers import SECRET, SECRET_ENV, Hooks, Mailbox, check_signature, free_port, settings_for
from worker import build_worker
from workflows.common import DISPATCH_ACTIVITY

pytestmark = pytest.mark.integration

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return SECRET


@pytest.fixture
def contacts(hooks: Hooks) -> ContactBook:
    def hook(path: str, env: str | None = SECRET_ENV, **kw: Any) -> Contact:
        return Contact(webhook=f"{hooks.url}{path}", webhook_secret_env=env, **kw)  # type: ignore[arg-type]

    return ContactBook(
        region="测试县",
        units={
            # No secret of its own: signed with the service's DUBAN_WEBHOOK_SECRET (settings_for).
            "east": hook("/ok", env=None, email="east@county.test"),
            "west": hook("/down", channels=("webhook",)),  # type: ignore[arg-type]
            "roads": hook("/bad", email="refuse@county.test"),
            "water": hook("/ok", env="DUBAN_TEST_NO_SUCH_SECRET", email="water@example.gov.invalid"),
            "housing": Contact(email="busy@county.test"),
        },
    )


# -- a campaign and its actions -------------------------------------------------------------------


class Campaign:
    def __init__(self, ctx: CampaignContext, prov: Provenance, acts: CampaignActivities) -> None:
        self.ctx, self.prov, self.acts = ctx, prov, acts
        self.id = ctx.campaign_id

    def server(self, d: date, hhmm: str) -> datetime:
        return self.ctx.clock.server_time(at(d, hhmm))

    def action(self, unit: str, d: date, hhmm: str = "09:00") -> FiredAction:
        return mini.reminder(self.id, unit, at(d, hhmm), self.server(d, hhmm), channels=list(Channel))

    async def deliver(self, *actions: FiredAction) -> None:
        await self.acts.deliver(DeliverBatch(provenance=self.prov, notice_prefix="测督", actions=list(actions)))


@pytest.fixture
async def campaign(engine: AsyncEngine, contacts: ContactBook) -> Campaign:
    inp, prov, _ = await registered(engine)
    return Campaign(inp.context, prov, CampaignActivities(engine, Outbox(contacts)))


async def rows(engine: AsyncEngine, cid: str) -> dict[str, dict[str, Any]]:
    async with engine.connect() as conn:
        return {r["idempotency_key"]: r for r in await ledger.ledger(conn, cid)}


def outcomes(row: dict[str, Any]) -> list[str]:
    return [a["outcome"] for a in row["attempt_rows"]]


def docx(text: str) -> bytes:
    """A minimal Word document (what python-docx would read), made with the standard library."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        )
        z.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            f'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>',
        )
    return buf.getvalue()


# -- tests ----------------------------------------------------------------------------------------

DEC28 = date(2021, 12, 28)  # a Tuesday


async def test_email_and_webhook_arrive_once_signed(
    engine: AsyncEngine, campaign: Campaign, smtp: tuple[Mailbox, int], hooks: Hooks, secret: str
) -> None:
    box, port = smtp
    a = campaign.action("east", DEC28)
    await campaign.deliver(a)
    await campaign.deliver(a)  # a retried deliver activity queues nothing twice
    ledger_rows = await rows(engine, campaign.id)
    mail, hook = f"{a.key}#email", f"{a.key}#webhook"
    assert set(ledger_rows) == {mail, hook}
    assert {r["status"] for r in ledger_rows.values()} == {"pending"}
    assert ledger_rows[mail]["not_before"] == a.server_time  # 09:00 on a working day: at once

    d = DeliveryActivities(engine, settings_for(port))
    now = campaign.server(DEC28, "09:00")
    first = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=now))
    again = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=now + timedelta(days=1)))
    assert (first.sent, first.pending, first.next_not_before) == (2, 0, None)
    assert (again.sent, again.failed, again.uncertain) == (0, 0, 0)

    [msg] = box.with_id(mail)
    assert msg["Message-ID"] == f"<{delivery_id(mail)}@duban>"
    assert msg["Subject"] == a.title and msg["To"] == "east@county.test"
    assert a.body in msg.get_body().get_content()  # type: ignore[union-attr]

    [(path, headers, body)] = hooks.with_id(hook)
    assert path == "/ok" and headers["Content-Type"] == "application/json; charset=utf-8"
    check_signature(headers, body, secret)
    payload = json.loads(body)
    assert payload["id"] == delivery_id(hook) and payload["text"] == a.body and payload["recipient"] == "east"

    after = await rows(engine, campaign.id)
    assert {k: (r["status"], r["attempts"], outcomes(r)) for k, r in after.items()} == {
        mail: ("sent", 1, ["sent"]),
        hook: ("sent", 1, ["sent"]),
    }


async def test_a_docx_attachment_travels_by_email_and_is_named_in_the_webhook(
    engine: AsyncEngine, campaign: Campaign, smtp: tuple[Mailbox, int], hooks: Hooks, secret: str
) -> None:
    box, port = smtp
    doc = docx("随擦亮督〔2021〕1号 督办通知")
    attachment = Attachment(filename="随擦亮督〔2021〕1号.docx", content=doc)
    outbox = campaign.acts.outbox
    assert outbox is not None
    item = InboxItem(
        key=f"{campaign.id}/rollout/east/T01-basic#notice",
        campaign_id=campaign.id,
        recipient="east",
        kind="notice",
        title="督办通知 随擦亮督〔2021〕1号",
        body="请于收到本通知后5个工作日内书面报告整改落实情况。",
        plan_time=at(DEC28),
        server_time=campaign.server(DEC28, "09:00"),
    )
    async with engine.begin() as conn:
        assert await outbox.push(conn, item, [attachment]) == 2
        assert await outbox.push(conn, item, [attachment]) == 0
    queued = await rows(engine, campaign.id)
    assert [
        (f["filename"], f["sha256"], f["size"], f["content_type"])
        for f in queued[f"{item.key}#email"]["attachment_rows"]
    ] == [(attachment.filename, attachment.sha256, len(doc), DOCX)]
    assert queued[f"{item.key}#webhook"]["attachment_rows"] == []  # named in its JSON instead

    result = await DeliveryActivities(engine, settings_for(port)).dispatch(
        DispatchRequest(campaign_id=campaign.id, as_of=item.server_time)
    )
    assert result.sent == 2
    [msg] = box.with_id(f"{item.key}#email")
    [part] = list(msg.iter_attachments())
    assert part.get_filename() == attachment.filename and part.get_content_type() == DOCX
    content = part.get_content()
    assert content == doc
    assert b"1\xe5\x8f\xb7" in zipfile.ZipFile(io.BytesIO(content)).read("word/document.xml")  # 号
    [(_, headers, body)] = hooks.with_id(f"{item.key}#webhook")
    check_signature(headers, body, secret)
    assert json.loads(body)["attachments"] == [
        {"filename": attachment.filename, "sha256": hashlib.sha256(doc).hexdigest(), "size": len(doc)}
    ]


async def test_a_send_without_its_record_is_surfaced_as_uncertain_never_resent(
    engine: AsyncEngine, db_url: str, campaign: Campaign, smtp: tuple[Mailbox, int], hooks: Hooks, secret: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    box, port = smtp
    a = campaign.action("east", DEC28)
    await campaign.deliver(a)
    mail, hook = f"{a.key}#email", f"{a.key}#webhook"
    now = campaign.server(DEC28, "09:00")

    def killed(c: ledger.Claimed) -> None:
        raise RuntimeError(f"worker killed after sending {c.key}")

    dying = DeliveryActivities(engine, settings_for(port), after_send=killed)
    for key in (mail, hook):  # one at a time, so each send surely completes before the fault
        with pytest.raises(RuntimeError, match="worker killed after sending"):
            await dying.dispatch(DispatchRequest(campaign_id=campaign.id, keys=[key], as_of=now))
    assert {r["status"] for r in (await rows(engine, campaign.id)).values()} == {"sending"}

    retried = DeliveryActivities(engine, settings_for(port))
    result = await retried.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=now + timedelta(minutes=1)))
    assert (result.uncertain, result.sent, result.pending) == (2, 0, 0)
    again = await retried.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=now + timedelta(minutes=2)))
    assert (again.uncertain, again.sent) == (0, 0)
    assert len(box.with_id(mail)) == 1 and len(hooks.with_id(hook)) == 1
    after = await rows(engine, campaign.id)
    for key in (mail, hook):
        assert (after[key]["status"], after[key]["attempts"], outcomes(after[key])) == ("uncertain", 1, ["uncertain"])
        assert delivery_id(key) in after[key]["last_error"]

    # The office sees them, by message id, from the CLI.
    cli = await asyncio.to_thread(
        duban,
        "deliveries",
        campaign.id,
        "--status",
        "uncertain",
        "--json",
        db_url=db_url,
        var_dir=tmp_path,
    )
    assert cli.returncode == 0, cli.stderr
    listed = json.loads(cli.stdout)
    assert {(d["key"], d["message_id"], d["status"]) for d in listed["deliveries"]} == {
        (k, delivery_id(k), "uncertain") for k in (mail, hook)
    }
    assert listed["counts"] == {"email": {"uncertain": 1}, "webhook": {"uncertain": 1}}
    bad = await asyncio.to_thread(
        duban, "deliveries", campaign.id, "--status", "lost", db_url="postgresql://unused/x", var_dir=tmp_path
    )
    assert bad.returncode == 2 and "'lost' is not one of" in bad.stderr


async def test_a_live_claim_is_not_mistaken_for_a_dead_one(
    engine: AsyncEngine, campaign: Campaign, smtp: tuple[Mailbox, int], hooks: Hooks, secret: str
) -> None:
    _, port = smtp
    a = campaign.action("east", DEC28)
    await campaign.deliver(a)
    hook = f"{a.key}#webhook"
    now = campaign.server(DEC28, "09:00")
    sent, go_on = asyncio.Event(), asyncio.Event()

    async def slow_record(c: ledger.Claimed) -> None:
        sent.set()
        await go_on.wait()

    slow = DeliveryActivities(engine, settings_for(port), after_send=slow_record)
    first = asyncio.create_task(slow.dispatch(DispatchRequest(campaign_id=campaign.id, keys=[hook], as_of=now)))
    await asyncio.wait_for(sent.wait(), 10)
    other = await DeliveryActivities(engine, settings_for(port)).dispatch(
        DispatchRequest(campaign_id=campaign.id, keys=[hook], as_of=now)
    )
    assert (other.uncertain, other.sent) == (0, 0)
    go_on.set()
    assert (await first).sent == 1
    assert len(hooks.with_id(hook)) == 1
    assert (await rows(engine, campaign.id))[hook]["status"] == "sent"


async def test_quiet_hours_hold_pushes_not_the_inbox(
    engine: AsyncEngine, campaign: Campaign, smtp: tuple[Mailbox, int], hooks: Hooks, secret: str
) -> None:
    box, port = smtp
    a = campaign.action("east", date(2021, 10, 1), "10:00")  # National Day
    await campaign.deliver(a)
    async with engine.connect() as conn:
        written = await conn.scalar(select(inbox.c.server_time).where(inbox.c.idempotency_key == a.key))
    assert written == a.server_time  # the in-app inbox at once
    release = campaign.server(date(2021, 10, 8), "08:30")  # the first working morning after the holiday
    assert {r["not_before"] for r in (await rows(engine, campaign.id)).values()} == {release}

    d = DeliveryActivities(engine, settings_for(port))
    held = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=a.server_time))
    assert (held.sent, held.pending, held.next_not_before) == (0, 2, release)
    early = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=release - timedelta(minutes=1)))
    assert early.sent == 0 and not box.with_id(f"{a.key}#email") and not hooks.with_id(f"{a.key}#webhook")
    released = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=release))
    assert (released.sent, released.pending) == (2, 0)
    assert len(box.with_id(f"{a.key}#email")) == 1 and len(hooks.with_id(f"{a.key}#webhook")) == 1


async def test_a_receiver_that_stays_down_is_retried_with_backoff_then_failed(
    engine: AsyncEngine, campaign: Campaign, smtp: tuple[Mailbox, int], hooks: Hooks, secret: str
) -> None:
    _, port = smtp
    a, b = campaign.action("west", DEC28, "10:00"), campaign.action("housing", DEC28, "10:00")
    await campaign.deliver(a, b)  # west's webhook answers 503; housing's mail server says 451
    d = DeliveryActivities(engine, settings_for(port, delivery_max_attempts=3, delivery_backoff_seconds=60))
    as_of, results, not_befores = a.server_time, [], []
    for _ in range(5):
        r = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=as_of))
        results.append(r)
        if not r.pending:
            break
        assert r.next_not_before is not None
        not_befores.append(r.next_not_before)
        as_of = r.next_not_before
    assert [(r.sent, r.retrying, r.failed) for r in results] == [(0, 2, 0), (0, 2, 0), (0, 0, 2)]
    assert results[-1].failed_by_channel == {"webhook": 1, "email": 1}
    assert [t - a.server_time for t in not_befores] == [timedelta(seconds=60), timedelta(seconds=180)]
    hook, mail = f"{a.key}#webhook", f"{b.key}#email"
    assert len(hooks.with_id(hook)) == 3
    final = await rows(engine, campaign.id)
    assert outcomes(final[hook]) == outcomes(final[mail]) == ["retry", "retry", "failed"]
    assert all(x["error"].startswith("HTTP 503") for x in final[hook]["attempt_rows"])
    assert all(x["error"].startswith("SMTP 451") for x in final[mail]["attempt_rows"])
    assert final[hook]["status"] == "failed" and "gave up after 3 attempts" in final[hook]["last_error"]


async def test_permanent_errors_fail_at_once(
    engine: AsyncEngine, campaign: Campaign, smtp: tuple[Mailbox, int], hooks: Hooks, secret: str
) -> None:
    box, port = smtp
    roads, water = campaign.action("roads", DEC28), campaign.action("water", DEC28)
    await campaign.deliver(roads, water)
    d = DeliveryActivities(engine, settings_for(port))
    r = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=roads.server_time))
    assert (r.sent, r.retrying, r.failed, r.pending) == (0, 0, 4, 0)
    assert r.failed_by_channel == {"email": 2, "webhook": 2}
    final = await rows(engine, campaign.id)
    assert {v["attempts"] for v in final.values()} == {1}
    by_unit = {(v["recipient"], v["channel"]): v["last_error"] for v in final.values()}
    assert by_unit[("roads", "webhook")].startswith("HTTP 400")
    assert by_unit[("roads", "email")].startswith("SMTP 550")
    assert "placeholder address" in by_unit[("water", "email")]
    assert "DUBAN_TEST_NO_SUCH_SECRET" in by_unit[("water", "webhook")]
    assert len(hooks.with_id(f"{roads.key}#webhook")) == 1 and not hooks.with_id(f"{water.key}#webhook")
    assert not box.with_id(f"{roads.key}#email")


async def test_smtp_down_is_retried_then_surfaced(engine: AsyncEngine, campaign: Campaign, secret: str) -> None:
    a = campaign.action("east", DEC28)
    await campaign.deliver(a)
    d = DeliveryActivities(engine, settings_for(free_port(), delivery_max_attempts=2, delivery_backoff_seconds=1))
    first = await d.dispatch(DispatchRequest(campaign_id=campaign.id, keys=[f"{a.key}#email"], as_of=a.server_time))
    assert (first.retrying, first.pending) == (1, 1) and first.next_not_before is not None
    second = await d.dispatch(
        DispatchRequest(campaign_id=campaign.id, keys=[f"{a.key}#email"], as_of=first.next_not_before)
    )
    assert (second.failed, second.failed_by_channel, second.pending) == (1, {"email": 1}, 0)
    row = (await rows(engine, campaign.id))[f"{a.key}#email"]
    assert "unreachable" in row["last_error"] and outcomes(row) == ["retry", "failed"]


class OutboxCrashAfterCommit(CampaignActivities):
    """Dies after each delivery batch's first commit, before Temporal hears of it."""

    @activity.defn(name=Act.deliver)
    async def deliver(self, inp: DeliverBatch) -> DeliverResult:
        result = await super().deliver(inp)
        if activity.info().attempt == 1:
            raise RuntimeError("worker died after commit")
        return result


async def test_a_campaign_queues_each_action_once_per_channel_in_its_own_transaction(
    env: WorkflowEnvironment, engine: AsyncEngine, contacts: ContactBook, tmp_path: Path
) -> None:
    """The mini campaign rehearsed with an outbox (and a deliver that dies after every commit):
    every reminder, escalation, 督办通知 and 责令整改 to a unit with contacts is queued exactly once
    per channel, in the same transaction as its inbox row, held by quiet hours."""
    queue = str(uuid.uuid4())
    # The basic rules with every action on every channel (by default a rule writes the inbox only).
    rules = tmp_path / "all-channels.yaml"
    text = mini.BASIC_RULES.read_text(encoding="utf-8")
    rules.write_text(
        re.sub(r"action: \{(.*)\}", r"action: {\1, channels: [inbox, email, webhook]}", text), encoding="utf-8"
    )
    inp = mini.new_campaign(await env.get_current_time(), rules)
    cid = inp.context.campaign_id
    acts = OutboxCrashAfterCommit(engine, Outbox(contacts))
    async with build_worker(env.client, engine, task_queue=queue, rehearsal=True, campaign_activities=acts):
        await (await mini.start(env.client, inp, queue)).result()

    async with engine.connect() as conn:
        inbox_rows = (await conn.execute(select(inbox).where(inbox.c.campaign_id == cid))).all()
    calendar = WorkCalendar(inp.context.calendar)
    expected = {}
    for r in inbox_rows:
        contact = contacts.for_unit(r.recipient)
        release = release_time(r.plan_time, calendar, QuietHours())
        for ch in contact.push_channels() if contact else ():
            expected[f"{r.idempotency_key}#{ch.value}"] = (r.recipient, r.server_time + (release - r.plan_time))
    queued = await rows(engine, cid)
    assert {k: (v["recipient"], v["not_before"]) for k, v in queued.items()} == expected
    kinds = {r.kind for r in inbox_rows if contacts.for_unit(r.recipient)}
    assert kinds == {"reminder", "escalation", "notice", "rectification"}
    assert {v["recipient"] for v in queued.values()} == {"west", "roads", "water", "housing"}


@workflow.defn(sandboxed=False)
class DispatchProbe:
    @workflow.run
    async def run(self, req: DispatchRequest) -> DispatchResult:
        return await workflow.execute_activity(Act.dispatch, req, result_type=DispatchResult, **DISPATCH_ACTIVITY)


async def test_dispatch_runs_as_an_activity_with_its_options(
    engine: AsyncEngine, env: WorkflowEnvironment, campaign: Campaign, smtp: tuple[Mailbox, int], hooks: Hooks,
    secret: str,
) -> None:  # fmt: skip
    _, port = smtp
    a = campaign.action("east", DEC28)
    await campaign.deliver(a)
    queue = str(uuid.uuid4())
    d = DeliveryActivities(engine, settings_for(port))
    async with Worker(
        env.client, task_queue=queue, workflows=[DispatchProbe], activities=[d.dispatch],
        workflow_runner=UnsandboxedWorkflowRunner(), interceptors=[KeepAlive()],
    ):  # fmt: skip
        # A workflow knows its actions' keys, not which channels their recipients have.
        req = DispatchRequest(campaign_id=campaign.id, keys=ledger_keys([a.key, "not-queued"]), as_of=a.server_time)
        result = await env.client.execute_workflow(DispatchProbe.run, req, id=queue, task_queue=queue)
    assert (result.sent, result.failed) == (2, 0)
    unknown = DispatchRequest(campaign_id="no-such-campaign")
    with pytest.raises(WorkflowFailureError) as e:
        async with Worker(
            env.client, task_queue=queue, workflows=[DispatchProbe], activities=[d.dispatch],
            workflow_runner=UnsandboxedWorkflowRunner(), interceptors=[KeepAlive()],
        ):  # fmt: skip
            await env.client.execute_workflow(DispatchProbe.run, unknown, id=f"{queue}-2", task_queue=queue)
    cause = e.value.cause
    assert isinstance(cause, ActivityError) and isinstance(cause.cause, ApplicationError)
    assert (cause.cause.type, cause.cause.non_retryable) == ("InvalidInput", True)
    assert cause.cause.message == "no campaign 'no-such-campaign'"


DIE_AFTER_SEND = """
import asyncio, os, sys
from activities.config import Settings
from activities.sending import DeliveryActivities
from activities.store.db import make_engine
from models.delivery import DispatchRequest
from datetime import datetime

db_url, campaign, key, as_of, port = sys.argv[1:6]
settings = Settings(env="test", smtp_port=int(port), smtp_sender="duban@county.test", smtp_timeout_seconds=5)
acts = DeliveryActivities(make_engine(db_url), settings, after_send=lambda c: os._exit(137))
asyncio.run(acts.dispatch(DispatchRequest(campaign_id=campaign, keys=[key], as_of=datetime.fromisoformat(as_of))))
"""


async def test_a_worker_process_killed_between_send_and_record_sends_nothing_twice(
    engine: AsyncEngine, db_url: str, campaign: Campaign, smtp: tuple[Mailbox, int], hooks: Hooks, secret: str
) -> None:
    """Not an exception this time: the process sending dies (exit 137, as a SIGKILL leaves it)
    right after the receiver took the message, before the ledger says so. The e-mail and the
    webhook each arrive exactly once: the dead claims are found uncertain and never re-sent."""
    box, port = smtp
    a = campaign.action("east", DEC28)
    await campaign.deliver(a)
    now = campaign.server(DEC28, "09:00")
    for key in (f"{a.key}#email", f"{a.key}#webhook"):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", DIE_AFTER_SEND, db_url, campaign.id, key, now.isoformat(), str(port),
            cwd=mini.ROOT, env={**os.environ, "PYTHONPATH": str(mini.ROOT)},
        )  # fmt: skip
        assert await proc.wait() == 137
    assert len(box.with_id(f"{a.key}#email")) == 1 and len(hooks.with_id(f"{a.key}#webhook")) == 1

    retried = DeliveryActivities(engine, settings_for(port))
    result = await retried.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=now + timedelta(minutes=1)))
    assert (result.uncertain, result.sent) == (2, 0)
    assert len(box.with_id(f"{a.key}#email")) == 1 and len(hooks.with_id(f"{a.key}#webhook")) == 1
    assert {r["status"] for r in (await rows(engine, campaign.id)).values()} == {"uncertain"}
