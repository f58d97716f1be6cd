"""Group-robot messages (企业微信, 钉钉, 飞书): their JSON formats and their signatures. Pure.

Each message carries the action's title and text, the obligation it is about, its deadline and
a link to the page where the unit acts on it. The JSON is made when the action fires (and kept
in the delivery ledger, the same on every attempt); the signature is made when it is sent,
because 钉钉 and 飞书 refuse a timestamp more than an hour old:

- 企业微信: POST `{"msgtype":"markdown","markdown":{"content":…}}` to the robot URL with
  `key=<key>` added to its query. The key is the only credential.
- 钉钉 (加签): the URL gains `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key=secret,
  msg="<timestamp>\\n<secret>")), URL-encoded; body `{"msgtype":"markdown","markdown":{"title","text"}}`.
- 飞书 (签名校验): the body gains `timestamp` (s, a string) and `sign` = base64(HMAC-SHA256(
  key="<timestamp>\\n<secret>", msg=b"")); body `{"msg_type":"post","content":{"post":{"zh_cn":…}}}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from models.delivery import DeliveryChannel

# 企业微信 refuses markdown content over 4096 bytes (UTF-8); 钉钉 and 飞书 allow more, but a
# reminder that long is unread anyway: the text is cut to fit, the facts and link never are.
MAX_BYTES = 4096
LINK_TEXT = "在督办系统中办理"


@dataclass(frozen=True)
class RobotNote:
    """What a robot message says."""

    title: str
    text: str
    obligation_id: str | None
    due: date | None
    link: str
    ref: str
    """The delivery id (the same on every attempt), for a person matching a message to the ledger."""


def page_link(base_url: str, campaign_id: str, obligation_id: str | None, unit_id: str) -> str:
    """The web page the message points to: the obligation's own page (where the unit reports,
    asks for more time, and the office sees it), or the unit's page for what concerns no single
    obligation."""
    base = base_url.rstrip("/")
    if obligation_id:
        return f"{base}/o/{quote(obligation_id, safe='/')}"
    return f"{base}/c/{quote(campaign_id, safe='')}/unit/{quote(unit_id, safe='')}"


def due_text(due: date) -> str:
    return f"{due.year}年{due.month}月{due.day}日"


def _facts(note: RobotNote) -> list[str]:
    out = []
    if note.obligation_id:
        out.append(f"事项：{note.obligation_id}")
    if note.due is not None:
        out.append(f"期限：{due_text(note.due)}")
    return out


def _cut(text: str, room: int) -> str:
    """`text` cut to at most `room` UTF-8 bytes, marked when cut."""
    if len(text.encode()) <= room:
        return text
    mark = "…（全文见督办系统）"
    data = text.encode()[: max(room - len(mark.encode()), 0)]
    return data.decode(errors="ignore") + mark


def _markdown(note: RobotNote, *, heading: str) -> str:
    facts = "\n".join(f"> {f}" for f in _facts(note))
    tail = f"\n\n{facts}\n\n[{LINK_TEXT}]({note.link})\n\n编号 {note.ref}"
    head = f"{heading}{note.title}\n\n"
    return head + _cut(note.text, MAX_BYTES - len((head + tail).encode())) + tail


def payload(channel: DeliveryChannel, note: RobotNote) -> dict[str, Any]:
    """The JSON a robot channel posts (before signing)."""
    if channel is DeliveryChannel.wecom:
        return {"msgtype": "markdown", "markdown": {"content": _markdown(note, heading="### ")}}
    if channel is DeliveryChannel.dingtalk:
        return {"msgtype": "markdown", "markdown": {"title": note.title, "text": _markdown(note, heading="### ")}}
    if channel is DeliveryChannel.feishu:
        lines: list[list[dict[str, str]]] = [[{"tag": "text", "text": f}] for f in _facts(note)]
        body = _cut(note.text, MAX_BYTES - 1024)
        content = [
            [{"tag": "text", "text": body}],
            *lines,
            [{"tag": "a", "text": LINK_TEXT, "href": note.link}],
            [{"tag": "text", "text": f"编号 {note.ref}"}],
        ]
        return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": note.title, "content": content}}}}
    raise ValueError(f"{channel.value} is not a robot channel")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """钉钉's `sign` (before URL encoding): base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>"))."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """飞书's `sign`: base64(HMAC-SHA256(key="<timestamp>\\n<secret>", empty message))."""
    mac = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def signed(
    channel: DeliveryChannel, body: dict[str, Any], secret: str, now: float
) -> tuple[dict[str, str], dict[str, Any]]:
    """What to add to the URL's query, and the body to post, for a robot message at `now` (Unix
    seconds). The secret is the 企业微信 key, or the 钉钉 / 飞书 signing secret."""
    if channel is DeliveryChannel.wecom:
        return {"key": secret}, body
    if channel is DeliveryChannel.dingtalk:
        ms = int(now * 1000)
        return {"timestamp": str(ms), "sign": dingtalk_sign(secret, ms)}, body
    if channel is DeliveryChannel.feishu:
        s = int(now)
        return {}, {"timestamp": str(s), "sign": feishu_sign(secret, s), **body}
    raise ValueError(f"{channel.value} is not a robot channel")


# What each robot answers (HTTP 200 either way): a code, 0 when accepted. Codes that mean "later"
# (rate limits: 钉钉 20 messages a minute per robot; system busy) are retried; any other refusal
# (a bad key or signature, a robot removed from its group, a message refused) needs a person.
RETRYABLE = {
    DeliveryChannel.wecom: {-1, 45009, 45033},  # system busy; api freq out of limit; too many concurrent
    DeliveryChannel.dingtalk: {-1, 130101, 130102},  # system busy; send too fast
    DeliveryChannel.feishu: {9499, 11232, 11233},  # too many requests; frequency limited
}


def reply_code(reply: Any) -> tuple[int, str]:
    """The robot's (code, message) from its JSON reply: 企业微信 and 钉钉 say errcode/errmsg,
    飞书 code/msg (older versions StatusCode/StatusMessage). No code means accepted."""
    if not isinstance(reply, dict):
        return 0, ""
    for code, msg in (("errcode", "errmsg"), ("code", "msg"), ("StatusCode", "StatusMessage")):
        if code in reply:
            try:
                return int(reply[code]), str(reply.get(msg, ""))
            except (TypeError, ValueError):
                return -1, f"unreadable reply code {reply[code]!r}"
    return 0, ""
