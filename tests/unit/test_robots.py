"""Group-robot messages: each format's shape, its signature by the published recipe, the link to
the web page; and the contacts file's robot entries (secrets only by the name of a variable)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date
from urllib.parse import quote

import pytest
from pydantic import ValidationError
from unit_support import replace_once

from activities.config import Settings
from models.contacts import Contact, ContactBook, Robot
from models.delivery import DeliveryChannel, chosen_by_rule
from models.plan import UnitDirectory
from rules import robots
from rules.contact_sheets import CONTACT_HEADER, contact_rows, read_contact_rows
from rules.contacts import parse_contacts
from rules.loading import SourceError
from rules.plan_sheets import SheetError
from rules.score_import import Cell

SECRET = "SEC000000000000000000000000000000000000000000000000000000000000"
OB = "suixian-2021/rollout/lishan/T01-基础型"
NOTE = robots.RobotNote(
    title="催办：完善交通设施（基础型）",
    text="完善交通设施（基础型）将于2021年12月31日到期，请抓紧办理并按时报送。",
    obligation_id=OB,
    due=date(2021, 12, 31),
    link=robots.page_link("https://duban.county.test/", "suixian-2021", OB, "lishan"),
    ref="0123456789abcdef0123456789abcdef",
)


def test_dingtalk_sign_is_the_published_recipe() -> None:
    ts = 1_640_000_000_123
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest())
    assert robots.dingtalk_sign(SECRET, ts) == expected.decode()
    query, body = robots.signed(DeliveryChannel.dingtalk, {"msgtype": "markdown"}, SECRET, ts / 1000)
    assert query == {"timestamp": str(ts), "sign": expected.decode()} and body == {"msgtype": "markdown"}


def test_feishu_sign_is_the_published_recipe_and_goes_in_the_body() -> None:
    ts = 1_640_000_000
    expected = base64.b64encode(hmac.new(f"{ts}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
    assert robots.feishu_sign(SECRET, ts) == expected
    query, body = robots.signed(DeliveryChannel.feishu, {"msg_type": "post"}, SECRET, ts + 0.9)
    assert query == {} and body == {"timestamp": str(ts), "sign": expected, "msg_type": "post"}


def test_wecom_carries_its_key_in_the_query() -> None:
    assert robots.signed(DeliveryChannel.wecom, {"a": 1}, "the-key", 0.0) == ({"key": "the-key"}, {"a": 1})


def test_each_format_carries_the_obligation_the_deadline_and_the_link() -> None:
    link = f"https://duban.county.test/o/{quote(OB, safe='/')}"
    assert NOTE.link == link
    wecom = robots.payload(DeliveryChannel.wecom, NOTE)
    ding = robots.payload(DeliveryChannel.dingtalk, NOTE)
    fei = robots.payload(DeliveryChannel.feishu, NOTE)
    assert set(wecom) == {"msgtype", "markdown"} and set(wecom["markdown"]) == {"content"}
    assert ding["msgtype"] == "markdown" and set(ding["markdown"]) == {"title", "text"}
    assert ding["markdown"]["title"] == NOTE.title
    for md in (wecom["markdown"]["content"], ding["markdown"]["text"]):
        assert f"事项：{OB}" in md and "期限：2021年12月31日" in md and f"[在督办系统中办理]({link})" in md
        assert NOTE.text in md and NOTE.ref in md
    assert fei["msg_type"] == "post"
    post = fei["content"]["post"]["zh_cn"]
    elements = [e for line in post["content"] for e in line]
    assert post["title"] == NOTE.title and {"tag": "a", "text": "在督办系统中办理", "href": link} in elements
    assert {"tag": "text", "text": "期限：2021年12月31日"} in elements
    with pytest.raises(ValueError, match="not a robot channel"):
        robots.payload(DeliveryChannel.email, NOTE)


def test_a_long_text_is_cut_to_the_robot_limit_never_the_facts_or_link() -> None:
    long = NOTE.__class__(**{**NOTE.__dict__, "text": "很长的说明。" * 2000})
    md = robots.payload(DeliveryChannel.wecom, long)["markdown"]["content"]
    assert len(md.encode()) <= robots.MAX_BYTES
    assert "（全文见督办系统）" in md and "期限：2021年12月31日" in md and md.endswith(f"编号 {NOTE.ref}")
    assert NOTE.link in md


def test_the_link_is_the_units_page_when_no_obligation() -> None:
    assert robots.page_link("http://h.test:8640", "c 1", None, "lishan") == "http://h.test:8640/c/c%201/unit/lishan"


def test_robot_reply_codes() -> None:
    assert robots.reply_code({"errcode": 0, "errmsg": "ok"}) == (0, "ok")
    assert robots.reply_code({"code": 19021, "msg": "sign match fail"}) == (19021, "sign match fail")
    assert robots.reply_code({"StatusCode": 0}) == (0, "")
    assert robots.reply_code(None) == (0, "")
    assert (
        130101 in robots.RETRYABLE[DeliveryChannel.dingtalk]
        and 310000 not in robots.RETRYABLE[DeliveryChannel.dingtalk]
    )


def test_a_rules_webhook_means_any_robot_of_the_unit() -> None:
    named = (DeliveryChannel.inbox, DeliveryChannel.webhook)
    assert all(chosen_by_rule(ch, named) for ch in (DeliveryChannel.wecom, DeliveryChannel.feishu))
    assert not chosen_by_rule(DeliveryChannel.email, named)
    assert not chosen_by_rule(DeliveryChannel.dingtalk, (DeliveryChannel.email,))
    assert chosen_by_rule(DeliveryChannel.dingtalk, (DeliveryChannel.dingtalk,))


# -- the contacts file -----------------------------------------------------------------------------

BOOK = """\
region: 湖北省随州市随县
units:
  office:
    email: office@example.gov.invalid
    dingtalk: {url: "https://oapi.example.invalid/robot/send?access_token=t", secret_env: DUBAN_DINGTALK_OFFICE}
  lishan:
    wecom: {url: https://qyapi.example.invalid/cgi-bin/webhook/send, secret_env: DUBAN_WECOM_LISHAN}
    feishu: {url: https://open.example.invalid/open-apis/bot/v2/hook/abc, secret_env: DUBAN_FEISHU_LISHAN}
    channels: [feishu]
"""


def test_robots_in_the_contacts_file(directory: UnitDirectory) -> None:
    book = parse_contacts(BOOK, path="c.yaml", directory=directory)
    office, lishan = book.units["office"], book.units["lishan"]
    assert office.push_channels() == (DeliveryChannel.email, DeliveryChannel.dingtalk)
    assert office.robot(DeliveryChannel.dingtalk) == Robot(
        url="https://oapi.example.invalid/robot/send?access_token=t",
        secret_env="DUBAN_DINGTALK_OFFICE",
    )
    assert office.robot(DeliveryChannel.email) is None
    assert lishan.push_channels() == (DeliveryChannel.feishu,)


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "https://qyapi.example.invalid/cgi-bin/webhook/send,",
            '"https://qyapi.example.invalid/cgi-bin/webhook/send?key=abc",',
            7,
            "units.lishan.wecom: the robot's key is its secret",
        ),
        ("secret_env: DUBAN_DINGTALK_OFFICE", "secret: SECabc", 5, "units.office.dingtalk: secrets never go in"),
        ("secret_env: DUBAN_FEISHU_LISHAN", "secret_env: lower", 8, "units.lishan.feishu.secret_env: String should"),
        ("channels: [feishu]", "channels: [feishu, dingtalk]", 6, "units.lishan: channel dingtalk is chosen but no"),
        (", secret_env: DUBAN_WECOM_LISHAN", "", 7, "units.lishan.wecom.secret_env: Field required"),
    ],
)
def test_robot_mistakes_are_refused_at_their_line(
    directory: UnitDirectory, old: str, new: str, line: int, message: str
) -> None:
    with pytest.raises(SourceError) as e:
        parse_contacts(replace_once(BOOK, old, new), path="c.yaml", directory=directory)
    assert e.value.line == line and e.value.message.startswith(message), (e.value.line, e.value.message)


def test_a_contact_choosing_a_robot_it_lacks_is_refused() -> None:
    with pytest.raises(ValidationError, match="channel wecom is chosen but no wecom URL is given"):
        Contact(channels=(DeliveryChannel.wecom,))


def test_web_base_url_is_a_url() -> None:
    assert Settings(env="test").web_base_url == "http://127.0.0.1:8640"
    assert Settings(env="test", web_base_url="https://duban.county.gov.cn/").web_base_url.startswith("https://")
    with pytest.raises(ValidationError):
        Settings(env="test", web_base_url="duban.county.gov.cn")


def test_robots_round_trip_through_the_contacts_sheet(directory: UnitDirectory) -> None:
    book = parse_contacts(BOOK, path="c.yaml", directory=directory)
    rows = contact_rows(book, directory)
    assert rows[0] == CONTACT_HEADER
    cells = [[Cell(v) for v in r] for r in rows]
    back = read_contact_rows(cells, directory)
    assert ContactBook.model_validate({"region": book.region, "units": back}) == book.model_copy(
        update={"directory": None}
    )
    # A sheet written before the robot columns still reads (without robots).
    old = read_contact_rows([r[:7] for r in cells[:2]], directory)
    assert "dingtalk" not in old["office"] and old["office"]["email"] == "office@example.gov.invalid"
    # A bad robot cell is named: the office's 钉钉 variable (K), lishan's 飞书 URL (L).
    cells[1][10] = Cell("lower-case")
    cells[2][11] = Cell("not a url")
    with pytest.raises(SheetError) as e:
        read_contact_rows(cells, directory)
    assert [p.split(":")[0] for p in e.value.problems] == ["K2", "L3"]
