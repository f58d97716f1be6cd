"""The dispatch loop (DispatchWorkflow) in a whole mini campaign launched with pushes: a real SMTP
server (aiosmtpd) and a real HTTP receiver on 127.0.0.1, the time-skipping Temporal server and
real PostgreSQL. Every reminder e-mail goes out exactly once, held pushes go out when quiet hours
end, and a mail server that keeps deferring is told to the office."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import activities
from activities.campaign import CampaignActivities
from activities.config import Settings
from activities.delivery import Outbox
from activities.keepalive import KeepAlive
from activities.sending import DeliveryActivities
from activities.store import deliveries as ledger
from activities.store.tables import audit_events, inbox
from models.contacts import Contact, ContactBook
from models.delivery import DispatchRequest, DispatchResult, delivery_id
from models.payloads import Act
from models.time import at
from services.plans import load_plan, prepare
from tests.integration import mini
from tests.integration.receivers import SECRET, SECRET_ENV, Hooks, Mailbox, settings_for
from workflows import REHEARSAL_WORKFLOWS, WORKFLOWS, sandbox

pytestmark = pytest.mark.integration

# The default rules, pushing on every channel, with a sending window that opens at 09:30: the
# 09:00 reminders and escalations are held half an hour; the monthly orders (10:00) are not.
RULES = """
id: push-test
version: 1
time_of_day: "09:00"
quiet_hours: {start: "09:30", end: "18:00"}
rules:
  - id: remind-before-due
    trigger: {kind: before_due, working_days: 3}
    when: state != "completed"
    action: {kind: remind, to: unit, channels: [inbox, email, webhook]}
  - id: escalate-to-lead
    trigger: {kind: after_due, working_days: 1}
    when: state != "completed"
    action: {kind: escalate, to: lead, level: 1, channels: [inbox, email, webhook]}
  - id: escalate-to-office
    trigger: {kind: after_due, working_days: 5}
    when: state != "completed"
    action: {kind: escalate, to: office, level: 2, notice: true, channels: [inbox, email, webhook]}
"""


class Recording(DeliveryActivities):
    """The dispatch activity, noting for each push it sends the `as_of` of the call that sent it."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        super().__init__(engine, settings, after_send=self._sent)
        self.sent: dict[str, list[datetime]] = defaultdict(list)
        self._as_of: datetime | None = None

    def _sent(self, c: ledger.Claimed) -> None:
        assert self._as_of is not None
        self.sent[c.key].append(self._as_of)

    @activity.defn(name=Act.dispatch)
    async def dispatch(self, req: DispatchRequest) -> DispatchResult:
        self._as_of = req.as_of  # one dispatch loop per campaign: its calls never overlap
        return await super().dispatch(req)


async def test_a_campaign_with_an_outbox_sends_each_push_once_after_quiet_hours(
    env: WorkflowEnvironment,
    engine: AsyncEngine,
    smtp: tuple[Mailbox, int],
    hooks: Hooks,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    box, port = smtp
    rules = tmp_path / "push-test.yaml"
    rules.write_text(RULES, encoding="utf-8")
    cid = f"mini-push-{uuid.uuid4().hex[:8]}"
    inp = prepare(
        load_plan(mini.MINI_PLAN),
        rules,
        campaign_id=cid,
        server_now=await env.get_current_time(),
        live=False,
        push=True,
    ).input
    ctx = inp.context
    contacts = ContactBook(
        region="测试县",
        units={
            "west": Contact(email="west@county.test", webhook=f"{hooks.url}/ok", webhook_secret_env=SECRET_ENV),  # type: ignore[arg-type]
            "office": Contact(email="office@county.test"),
            "roads": Contact(email="roads@county.test"),
            "housing": Contact(email="busy@county.test"),  # its mail server answers 451, always
        },
    )
    sender = Recording(engine, settings_for(port, delivery_max_attempts=2, delivery_backoff_seconds=60))
    queue = str(uuid.uuid4())
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[*WORKFLOWS, *REHEARSAL_WORKFLOWS],
        activities=activities.build(
            engine, env.client, campaign=CampaignActivities(engine, Outbox(contacts)), delivery=sender
        ),
        workflow_runner=sandbox(),
        interceptors=[KeepAlive()],
    ):
        await (await mini.start(env.client, inp, queue)).result()
        loop = await env.client.get_workflow_handle(f"{cid}/dispatch").describe()
    assert (loop.parent_id, loop.status.name if loop.status else None) == (cid, "COMPLETED")

    async with engine.connect() as conn:
        rows = {r["idempotency_key"]: r for r in await ledger.ledger(conn, cid)}
        alerts = (
            await conn.execute(
                select(inbox.c.recipient, inbox.c.title).where(inbox.c.campaign_id == cid, inbox.c.kind == "delivery")
            )
        ).all()
        alerted = (
            await conn.execute(
                select(audit_events.c.payload).where(
                    audit_events.c.campaign_id == cid, audit_events.c.kind == "delivery.alert"
                )
            )
        ).scalars()
        alerted = list(alerted)

    # Each reminder to west: one e-mail and one webhook, held from 09:00 to 09:30 and sent then.
    held_until = ctx.clock.server_time(at(date(2021, 12, 28), "09:30"))
    reminders = [f"{cid}/rollout/west/T{no:02d}-basic#remind-before-due@2021-12-28" for no in (1, 2, 3)]
    for key in reminders:
        for ch in ("email", "webhook"):
            row = rows[f"{key}#{ch}"]
            assert (row["status"], row["attempts"], row["not_before"]) == ("sent", 1, held_until)
            [when] = sender.sent[f"{key}#{ch}"]
            assert held_until <= when < held_until + timedelta(minutes=5)
        assert len(box.with_id(f"{key}#email")) == 1
        assert len(hooks.with_id(f"{key}#webhook")) == 1

    # Every push went out once or was given up on: nothing pending, nothing sent twice, nothing
    # uncertain. The monthly orders to west (10:00) were not held.
    assert {r["status"] for r in rows.values()} == {"sent", "failed"}
    assert all(len(times) == 1 for times in sender.sent.values())
    ids = [m["X-Duban-Delivery"] for m in box.messages if m["X-Duban-Delivery"] in {delivery_id(k) for k in rows}]
    assert len(ids) == len(set(ids)) == sum(r["channel"] == "email" and r["status"] == "sent" for r in rows.values())
    order = f"{cid}#rectify#2021-12-01#west#email"
    assert rows[order]["not_before"] == rows[order]["server_time"] and rows[order]["status"] == "sent"
    # The order's own follow-ups are pushed too: its reminder, its escalations to the office.
    assert rows[f"{cid}#rectify#2021-12-01#west#r0#remind-before-due@2022-01-17#email"]["status"] == "sent"
    assert rows[f"{cid}#rectify#2021-12-01#west#r0#escalate-to-office@2022-01-27#email"]["recipient"] == "office"

    # housing's mail server defers every message: retried once, failed, and the office is told.
    failed = [r for r in rows.values() if r["status"] == "failed"]
    assert failed and {(r["recipient"], r["channel"], r["attempts"]) for r in failed} == {("housing", "email", 2)}
    assert alerts and {to for to, _ in alerts} == {"office"}
    assert all("电子邮件1条发送失败" in title for _, title in alerts)
    assert len(alerted) == len(alerts) == len(failed)
