"""Real receivers on 127.0.0.1 for the delivery tests: an SMTP server's handler (aiosmtpd) and an
HTTP server for webhooks; the `smtp` and `hooks` fixtures (tests/integration/conftest.py) run them."""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import socket
import time
from collections import Counter
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from activities.config import Settings
from models.delivery import delivery_id

SECRET_ENV = "DUBAN_TEST_HOOK_SECRET"
SECRET = "s3cret-for-the-test-only"
ROBOT_SECRET_ENV = "DUBAN_TEST_ROBOT_SECRET"
ROBOT_SECRET = "SECrobot+key/for=the-test-only"  # base64-ish characters, as the robots' own are


def check_signature(headers: dict[str, str], body: bytes, secret: str = SECRET) -> None:
    """The webhook's `X-Duban-Signature` (t=…,v1=HMAC-SHA256 of "<t>.<body>"), recomputed, and
    its time a real one (within a minute)."""
    fields = dict(part.split("=", 1) for part in headers["X-Duban-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    assert abs(int(fields["t"]) - time.time()) < 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """An SMTP server's handler: keeps what it accepts; refuses refuse@…, defers busy@…"""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("refuse@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 Message accepted for delivery"

    def with_id(self, key: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["X-Duban-Delivery"] == delivery_id(key)]


def _mac(key: str, msg: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), msg.encode(), hashlib.sha256).digest()).decode()


def fresh(ts: float) -> bool:
    """钉钉 and 飞书 refuse a timestamp more than an hour away."""
    return abs(ts - time.time()) < 3600


def robot_answer(path: str, body: bytes, seen: Counter[str]) -> dict[str, Any] | None:
    """What a group robot at /wecom/…, /dingtalk/… or /feishu/… answers (HTTP 200 always, a code
    in the JSON), checking the message's shape and its key or signature as the real robots do
    (signatures recomputed here from the published recipes, not with duban's code). A path with
    `busy-once` answers the robot's rate-limit code the first time. None: not a robot path."""
    parts = urlsplit(path)
    kind = parts.path.split("/")[1]
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    msg = json.loads(body)
    seen[parts.path] += 1
    busy = "busy-once" in parts.path and seen[parts.path] == 1
    if kind == "wecom":
        if query.get("key") != ROBOT_SECRET:
            return {"errcode": 93000, "errmsg": "invalid webhook url"}
        if busy:
            return {"errcode": 45009, "errmsg": "api freq out of limit"}
        ok = msg.get("msgtype") == "markdown" and isinstance(msg.get("markdown", {}).get("content"), str)
        return {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 40008, "errmsg": "invalid message type"}
    if kind == "dingtalk":
        ts = query.get("timestamp", "")
        good = ts.isdigit() and fresh(int(ts) / 1000)
        if not good or query.get("sign") != _mac(ROBOT_SECRET, f"{ts}\n{ROBOT_SECRET}"):
            return {"errcode": 310000, "errmsg": "sign not match"}
        if busy:
            return {"errcode": 130101, "errmsg": "send too fast"}
        md = msg.get("markdown", {})
        ok = msg.get("msgtype") == "markdown" and isinstance(md.get("title"), str) and isinstance(md.get("text"), str)
        return {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 40035, "errmsg": "missing parameter"}
    if kind == "feishu":
        ts = msg.get("timestamp", "")
        if not (isinstance(ts, str) and ts.isdigit() and fresh(int(ts))) or msg.get("sign") != _mac(
            f"{ts}\n{ROBOT_SECRET}", ""
        ):
            return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        if busy:
            return {"code": 11232, "msg": "frequency limited"}
        ok = msg.get("msg_type") in ("text", "post") and isinstance(msg.get("content"), dict)
        return {"code": 0, "msg": "success"} if ok else {"code": 19002, "msg": "params error"}
    return None


class Hooks:
    """An HTTP receiver: /ok answers 200, /down 503, /bad 400; group robots under /wecom/,
    /dingtalk/, /feishu/ (`robot_answer`); keeps every request (path with its query)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.answers: list[tuple[str, dict[str, Any]]] = []
        seen: Counter[str] = Counter()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hooks.requests.append((self.path, dict(self.headers.items()), body))
                robot = robot_answer(self.path, body, seen)
                if robot is not None:
                    hooks.answers.append((self.headers.get("X-Duban-Delivery", ""), robot))
                    code, reply = 200, json.dumps(robot).encode()
                else:
                    code = {"/ok": 200, "/down": 503, "/bad": 400}.get(self.path, 404)
                    reply = b'{"errcode":0}' if code == 200 else b"no"
                self.send_response(code)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def with_id(self, key: str) -> list[tuple[str, dict[str, str], bytes]]:
        return [r for r in self.requests if r[1].get("X-Duban-Delivery") == delivery_id(key)]


def settings_for(smtp_port: int, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "env": "test",
        "smtp_port": smtp_port,
        "smtp_sender": "duban@county.test",
        "smtp_timeout_seconds": 5,
        "webhook_timeout_seconds": 5,
        "webhook_secret": SECRET,
    }
    return Settings(**{**base, **kw})
