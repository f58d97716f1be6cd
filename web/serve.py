"""Running the web door: the bind check, then uvicorn over the app.

A non-loopback address is refused without a real secret (DUBAN_WEB_SECRET of 32+ characters, not
a placeholder): a server reachable from the network must have been configured on purpose. On
loopback, cookies go without the Secure flag (plain http to 127.0.0.1, which a browser would not
send a Secure cookie over); everywhere else they are Secure, behind the TLS proxy in front.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading

import uvicorn

from activities.config import Settings
from services.context import Services
from web.app import create_app

PLACEHOLDERS = {"dev-only-secret", "changeme", "change-me", "secret", "duban"}
MIN_SECRET = 32


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_refusal(host: str, settings: Settings) -> str | None:
    """Why `duban web` must not start on `host`, or None."""
    if is_loopback(host):
        return None
    secret = settings.web_secret.get_secret_value() if settings.web_secret else ""
    if not secret or secret.lower() in PLACEHOLDERS or len(secret) < MIN_SECRET:
        return (
            f"refusing to serve on {host}, a non-loopback address, without a secret: set DUBAN_WEB_SECRET "
            f"({MIN_SECRET}+ random characters), or bind to 127.0.0.1"
        )
    return None


async def serve(settings: Settings, *, host: str, port: int) -> None:
    """Serve until interrupted, on one `Services` for every request."""
    async with Services(settings) as ctx:
        app = create_app(ctx, secure_cookies=not is_loopback(host))
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        await uvicorn.Server(config).serve()


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def serve_in_background(settings: Settings, *, host: str, port: int) -> threading.Thread:
    """`duban up`'s web server: a daemon thread with its own event loop and its own `Services`
    (an engine is bound to the loop it was made on), ending with the process."""
    thread = threading.Thread(
        target=lambda: asyncio.run(serve(settings, host=host, port=port)), name="duban-web", daemon=True
    )
    thread.start()
    return thread
