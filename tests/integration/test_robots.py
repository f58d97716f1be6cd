"""Group robots (企业微信, 钉钉, 飞书) through the outbox and ledger, on real PostgreSQL and a real
HTTP receiver on 127.0.0.1 that answers as each robot does: it checks the message's shape and
its key or signature (recomputed from the published recipes) and refuses a bad one.

Each test registers its own mini campaign (`tests.integration.test_delivery.Campaign`), fires
actions through `CampaignActivities.deliver` and sends with `DeliveryActivities.dispatch`.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.campaign import CampaignActivities
from activities.delivery import Outbox
from activities.sending import DeliveryActivities
from models.contacts import Contact, ContactBook, Robot
from models.delivery import DispatchRequest, delivery_id
from models.ruleset import Channel
from tests.integration.mini import registered
from tests.integration.receivers import ROBOT_SECRET, ROBOT_SECRET_ENV, Hooks, settings_for
from tests.integration.test_delivery import DEC28, Campaign, outcomes, rows

pytestmark = pytest.mark.integration

BASE = "https://duban.county.test/app"


@pytest.fixture
def robot_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ROBOT_SECRET_ENV, ROBOT_SECRET)
    monkeypatch.setenv("DUBAN_TEST_WRONG_ROBOT_SECRET", "not-the-robot-secret")
    return ROBOT_SECRET


@pytest.fixture
def robots(hooks: Hooks) -> ContactBook:
    def bot(path: str, env: str = ROBOT_SECRET_ENV) -> Robot:
        return Robot.model_validate({"url": f"{hooks.url}{path}", "secret_env": env})

    return ContactBook(
        region="测试县",
        units={
            "east": Contact(
                wecom=bot("/wecom/send"),
                dingtalk=bot("/dingtalk/send?access_token=east-token"),
                feishu=bot("/feishu/hook/east-token"),
            ),
            "west": Contact(
                wecom=bot("/wecom/busy-once"),
                dingtalk=bot("/dingtalk/busy-once?access_token=west"),
                feishu=bot("/feishu/busy-once"),
            ),
            "roads": Contact(
                dingtalk=bot("/dingtalk/send?access_token=roads", env="DUBAN_TEST_WRONG_ROBOT_SECRET"),
                feishu=bot("/feishu/hook/roads", env="DUBAN_TEST_NO_SUCH_ROBOT_SECRET"),
            ),
        },
    )


@pytest.fixture
async def campaign(engine: AsyncEngine, robots: ContactBook) -> Campaign:
    inp, prov, _ = await registered(engine)
    return Campaign(inp.context, prov, CampaignActivities(engine, Outbox(robots, web_base_url=BASE)))


def sent_to(hooks: Hooks, key: str) -> list[tuple[str, dict[str, Any]]]:
    """The requests a robot row made: (path with query, JSON body)."""
    return [(path, json.loads(body)) for path, _, body in hooks.with_id(key)]


def answers(hooks: Hooks, key: str) -> list[int]:
    """The codes the receiver answered a robot row's requests with (0: accepted)."""
    return [int(a.get("errcode", a.get("code", -1))) for did, a in hooks.answers if did == delivery_id(key)]


async def test_each_robot_gets_its_format_signed_once_with_obligation_deadline_and_link(
    engine: AsyncEngine, campaign: Campaign, hooks: Hooks, robot_secret: str
) -> None:
    a = campaign.action("east", DEC28)
    await campaign.deliver(a)
    await campaign.deliver(a)  # a retried deliver activity queues nothing twice
    keys = {ch: f"{a.key}#{ch}" for ch in ("wecom", "dingtalk", "feishu")}
    assert set(await rows(engine, campaign.id)) == set(keys.values())

    d = DeliveryActivities(engine, settings_for(0))
    now = campaign.server(DEC28, "09:00")
    first = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=now))
    again = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=now))
    assert (first.sent, first.failed, first.retrying, first.pending) == (3, 0, 0, 0)
    assert (again.sent, again.failed, again.retrying, again.uncertain) == (0, 0, 0, 0)
    for key in keys.values():
        assert answers(hooks, key) == [0]  # the receiver accepted the key / signature and the shape

    link = f"{BASE}/o/{a.obligation_id}"
    facts = [f"事项：{a.obligation_id}", "期限：2021年12月31日", a.body]

    [(path, wecom)] = sent_to(hooks, keys["wecom"])
    assert urlsplit(path).path == "/wecom/send" and parse_qs(urlsplit(path).query) == {"key": [ROBOT_SECRET]}
    assert wecom["msgtype"] == "markdown" and set(wecom) == {"msgtype", "markdown"}
    content = wecom["markdown"]["content"]
    assert content.startswith(f"### {a.title}\n") and f"]({link})" in content
    assert all(f in content for f in facts)

    [(path, ding)] = sent_to(hooks, keys["dingtalk"])
    query = parse_qs(urlsplit(path).query)
    assert set(query) == {"access_token", "timestamp", "sign"} and query["access_token"] == ["east-token"]
    assert ding["msgtype"] == "markdown" and ding["markdown"]["title"] == a.title
    assert f"]({link})" in ding["markdown"]["text"] and all(f in ding["markdown"]["text"] for f in facts)

    [(path, fei)] = sent_to(hooks, keys["feishu"])
    assert path == "/feishu/hook/east-token"
    assert fei["msg_type"] == "post" and {"timestamp", "sign"} <= set(fei)
    post = fei["content"]["post"]["zh_cn"]
    assert post["title"] == a.title
    elements = [e for line in post["content"] for e in line]
    assert {"tag": "a", "text": "在督办系统中办理", "href": link} in elements
    texts = "\n".join(e["text"] for e in elements)
    assert all(f in texts for f in facts) and delivery_id(keys["feishu"]) in texts

    after = await rows(engine, campaign.id)
    assert {k: (r["status"], r["attempts"]) for k, r in after.items()} == {k: ("sent", 1) for k in keys.values()}
    assert ROBOT_SECRET not in json.dumps([r["payload"] for r in after.values()])  # the ledger never holds it


async def test_a_robot_that_says_slow_down_is_retried_and_delivers_once(
    engine: AsyncEngine, campaign: Campaign, hooks: Hooks, robot_secret: str
) -> None:
    a = campaign.action("west", DEC28, "10:00")
    await campaign.deliver(a)
    d = DeliveryActivities(engine, settings_for(0, delivery_backoff_seconds=60))
    first = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=a.server_time))
    assert (first.sent, first.retrying, first.pending) == (0, 3, 3) and first.next_not_before is not None
    second = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=first.next_not_before))
    third = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=first.next_not_before))
    assert (second.sent, second.pending) == (3, 0) and (third.sent, third.retrying) == (0, 0)
    final = await rows(engine, campaign.id)
    busy = {"wecom": 45009, "dingtalk": 130101, "feishu": 11232}
    for ch, code in busy.items():
        key = f"{a.key}#{ch}"
        assert answers(hooks, key) == [code, 0]  # refused once, accepted once: one message in the group
        assert outcomes(final[key]) == ["retry", "sent"] and final[key]["status"] == "sent"
        assert f"code {code}" in final[key]["attempt_rows"][0]["error"]


async def test_a_bad_signature_or_a_missing_secret_fails_at_once_and_is_surfaced(
    engine: AsyncEngine, campaign: Campaign, hooks: Hooks, robot_secret: str
) -> None:
    a = campaign.action("roads", DEC28)
    await campaign.deliver(a)
    d = DeliveryActivities(engine, settings_for(0))
    r = await d.dispatch(DispatchRequest(campaign_id=campaign.id, as_of=a.server_time))
    assert (r.sent, r.retrying, r.failed) == (0, 0, 2)
    assert r.failed_by_channel == {"dingtalk": 1, "feishu": 1}
    final = await rows(engine, campaign.id)
    ding, fei = final[f"{a.key}#dingtalk"], final[f"{a.key}#feishu"]
    assert answers(hooks, f"{a.key}#dingtalk") == [310000]  # the receiver refused the signature
    assert ding["status"] == "failed" and "code 310000" in ding["last_error"]
    assert fei["status"] == "failed" and "DUBAN_TEST_NO_SUCH_ROBOT_SECRET" in fei["last_error"]
    assert not hooks.with_id(f"{a.key}#feishu")  # nothing sent without its secret


@pytest.mark.parametrize(
    ("named", "pushed"),
    [
        ([Channel.inbox, Channel.email], set()),
        ([Channel.inbox, Channel.webhook], {"wecom", "dingtalk", "feishu"}),  # a rule's webhook is the IM group
        ([Channel.inbox, Channel.dingtalk], {"dingtalk"}),
    ],
)
async def test_the_rule_channels_choose_the_robots(
    engine: AsyncEngine, campaign: Campaign, named: list[Channel], pushed: set[str]
) -> None:
    a = campaign.action("east", date(2021, 12, 29)).model_copy(update={"channels": named})
    await campaign.deliver(a)
    assert {r["channel"] for r in (await rows(engine, campaign.id)).values()} == pushed
