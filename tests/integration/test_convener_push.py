"""The convener's 批示 pushed where people work, on the real stack: a mini campaign launched with
pushes (time-skipping Temporal, PostgreSQL, the worker with an outbox), a real SMTP server and a
real HTTP receiver on 127.0.0.1. Nobody answers, so an obligation's escalation and a 责令整改
order's escalation both reach the convener; the convener answers each (the order through its own
workflow), and the unit and the office each get the answer once by e-mail, once by signed
webhook and once by their group robot (钉钉 for the unit, 企业微信 for the office). The order's
workflow refuses, on the record, an answer that is not the convener's; `audit verify` holds."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import activities
from activities import history
from activities.campaign import CampaignActivities
from activities.config import Settings
from activities.delivery import Outbox
from activities.keepalive import KeepAlive
from activities.sending import DeliveryActivities
from activities.store import deliveries as ledger
from activities.store.tables import audit_events, inbox
from models.contacts import Contact, ContactBook, Robot
from models.delivery import delivery_id
from models.rectification import InstructRectification
from services import convener
from services.actors import Actor
from services.audit import verify_campaign
from services.context import Services
from services.errors import NotFound
from services.plans import load_plan, prepare
from tests.integration import mini
from tests.integration.receivers import (
    ROBOT_SECRET,
    ROBOT_SECRET_ENV,
    SECRET,
    SECRET_ENV,
    Hooks,
    Mailbox,
    check_signature,
    settings_for,
)
from tests.integration.test_convener import with_convener
from workflows import REHEARSAL_WORKFLOWS, WORKFLOWS, RectificationWorkflow, sandbox

pytestmark = pytest.mark.integration

CONVENER = Actor(account="test:convener", role="convener")


async def test_the_convener_answers_an_obligation_and_an_order_and_both_are_pushed_once(
    env: WorkflowEnvironment,
    engine: AsyncEngine,
    smtp: tuple[Mailbox, int],
    hooks: Hooks,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv(ROBOT_SECRET_ENV, ROBOT_SECRET)
    box, port = smtp
    cid = f"conv-push-{uuid.uuid4().hex[:8]}"
    plan = load_plan(mini.MINI_PLAN)
    inp = prepare(
        plan, with_convener(tmp_path), campaign_id=cid, server_now=await env.get_current_time(), live=False, push=True
    ).input
    contacts = ContactBook(
        region="测试县",
        units={
            u: Contact(
                email=f"{u}@county.test",
                webhook=f"{hooks.url}/ok",
                webhook_secret_env=SECRET_ENV,
                **{robot: Robot.model_validate({"url": f"{hooks.url}{path}", "secret_env": ROBOT_SECRET_ENV})},
            )
            for u, robot, path in (
                ("west", "dingtalk", "/dingtalk/send?access_token=west"),
                ("office", "wecom", "/wecom/send"),
            )
        },
    )
    queue = str(uuid.uuid4())
    settings = Settings(env="test", task_queue=queue, contacts_file=tmp_path / "none.yaml")
    async with (
        Worker(
            env.client,
            task_queue=queue,
            workflows=[*WORKFLOWS, *REHEARSAL_WORKFLOWS],
            activities=activities.build(
                engine,
                env.client,
                campaign=CampaignActivities(engine, Outbox(contacts)),
                delivery=DeliveryActivities(engine, settings_for(port)),
            ),
            workflow_runner=sandbox(),
            interceptors=[KeepAlive()],
        ),
        Services(settings, client=env.client, engine=engine) as ctx,
    ):
        await mini.start(env.client, inp, queue, agencies=False)
        await env.sleep(timedelta(days=300))  # past the order's escalation to the convener (2022-02)
        page = await convener.escalations(ctx, actor=CONVENER, campaign=cid)
        ob = f"{cid}/rollout/west/T01-basic"
        assert ob in {i.obligation_id for i in page.items}
        [order] = [o for o in page.orders if o.unit_id == "west"]
        assert order.level == 3 and order.order_id.startswith(f"{cid}/rectify/")

        # Anyone but the convener is refused by the order's workflow itself, on the record.
        forged = InstructRectification(unit_id="office", text="冒名批示", account="test:x", role="convener")
        with pytest.raises(WorkflowUpdateFailedError):
            await env.client.get_workflow_handle(order.order_id).execute_update(RectificationWorkflow.instruct, forged)
        # An order that never reached the convener has nothing to answer.
        with pytest.raises(NotFound):
            await convener.answer_order(ctx, actor=CONVENER, order=f"{cid}/rectify/no-such-order", text="x")

        await convener.answer(ctx, actor=CONVENER, obligation=ob, text="请西镇三日内报送整改方案")
        view = await convener.answer_order(ctx, actor=CONVENER, order=order.order_id, text="请西镇主要负责人约谈")
        assert view.state.value == order.state  # a 批示 changes nothing about the order
        await env.sleep(timedelta(hours=1))  # the mirror's debounce, then the dispatch loop sends
        page = await convener.escalations(ctx, actor=CONVENER, campaign=cid)
        [answered] = [o for o in page.orders if o.order_id == order.order_id]
        assert [(a.text, a.account) for a in answered.answers] == [("请西镇主要负责人约谈", "test:convener")]

        async with engine.connect() as conn:
            told = (
                await conn.execute(
                    select(inbox.c.idempotency_key, inbox.c.recipient, inbox.c.body).where(
                        inbox.c.campaign_id == cid,
                        inbox.c.body.in_(["请西镇三日内报送整改方案", "请西镇主要负责人约谈"]),
                    )
                )
            ).all()
            rows = {r["idempotency_key"]: r for r in await ledger.ledger(conn, cid)}
            chain = (
                await conn.execute(
                    select(audit_events.c.kind, audit_events.c.actor, audit_events.c.payload).where(
                        audit_events.c.campaign_id == cid,
                        audit_events.c.kind.in_(["rectification.answered", "refused"]),
                    )
                )
            ).all()
        # The record holds: the chain, and Temporal's histories (both answers, the refusal, the
        # pokes) replayed and held against it.
        histories = await history.collect(env.client, [cid])
        async with engine.connect() as conn:
            verdict = await verify_campaign(conn, cid, histories=histories)
        assert verdict.ok, verdict.problems()
        await env.client.get_workflow_handle(cid).terminate("test done")

    # Each answer in the unit's and the office's inbox once, and pushed to each by e-mail and by
    # webhook once: sent, never twice.
    assert sorted((r.recipient, r.body) for r in told) == [
        ("office", "请西镇三日内报送整改方案"),
        ("office", "请西镇主要负责人约谈"),
        ("west", "请西镇三日内报送整改方案"),
        ("west", "请西镇主要负责人约谈"),
    ]
    for r in told:
        robot = "dingtalk" if r.recipient == "west" else "wecom"
        for ch in ("email", "webhook", robot):
            key = f"{r.idempotency_key}#{ch}"
            assert rows[key]["status"] == "sent", (key, rows[key]["status"])
        [mail] = box.with_id(f"{r.idempotency_key}#email")
        assert mail["To"] == f"{r.recipient}@county.test" and r.body in mail.get_content()
        [(_, headers, body)] = hooks.with_id(f"{r.idempotency_key}#webhook")
        assert json.loads(body)["text"] == r.body
        check_signature(headers, body)
        # The group robot: its own format, its key or signature checked by the receiver (errcode 0).
        robot_key = f"{r.idempotency_key}#{robot}"
        [(path, _, body)] = hooks.with_id(robot_key)
        assert (
            path.startswith(f"/{robot}/send")
            and r.body in json.loads(body)["markdown"]["text" if robot == "dingtalk" else "content"]
        )
        assert [a.get("errcode") for did, a in hooks.answers if did == delivery_id(robot_key)] == [0]

    answers = [json.loads(p) for k, _, p in chain if k == "rectification.answered"]
    assert [(a["text"], a["account"], a["role"], a["level"]) for a in answers] == [
        ("请西镇主要负责人约谈", "test:convener", "convener", 3)
    ]
    refused = [json.loads(p) for k, _, p in chain if k == "refused"]
    assert any(p.get("verb") == "rectify.instruct" and "only the convener" in p.get("reason", "") for p in refused)
