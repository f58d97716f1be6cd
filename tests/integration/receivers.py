"""Real receivers on 127.0.0.1 for the delivery tests: an SMTP server's handler (aiosmtpd) and an
HTTP server for webhooks; the `smtp` and `hooks` fixtures (tests/integration/conftest.py) run them."""

from __future__ import annotations

import email
import socket
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from activities.config import Settings
from models.delivery import delivery_id

SECRET_ENV = "DUBAN_TEST_HOOK_SECRET"
SECRET = "s3cret-for-the-test-only"


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


class Hooks:
    """An HTTP receiver: /ok answers 200, /down 503, /bad 400; keeps every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hooks.requests.append((self.path, dict(self.headers.items()), body))
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
