"""Signing in to the web door in tests: accounts for every role, an httpx client on the app
(in-process, over https so the Secure cookie is sent back), and the session's CSRF token."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from services import accounts
from services.actors import Actor
from services.context import Services

PASSWORD = "correct horse battery"
OFFICE = Actor(account="test:office", unit="office", role="office")
ROLES = {
    "office": "office",
    "east": "agency:east",
    "west": "agency:west",
    "auditor": "auditor",
    "convener": "convener",
}


async def add_accounts(ctx: Services, prefix: str) -> dict[str, str]:
    """One account per role in ROLES, named `<prefix>-<key>`; their names by key."""
    names = {}
    for key, role in ROLES.items():
        name = f"{prefix}-{key}"
        await accounts.add(ctx, actor=OFFICE, name=name, role=role, password=PASSWORD, display_name=key)
        names[key] = name
    return names


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


@asynccontextmanager
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


async def sign_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> str:
    """Sign in through the form; the session's CSRF token (read from the home page)."""
    form = await client.get("/signin")
    r = await client.post("/signin", data={"name": name, "password": password, "csrf": csrf_of(form.text)})
    assert r.status_code == 303, r.text
    home = await client.get("/")
    assert home.status_code == 200
    return csrf_of(home.text)


@asynccontextmanager
async def served(app: FastAPI, port: int) -> AsyncIterator[uvicorn.Server]:
    """The app on a loopback port for a real browser, for as long as the block runs."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, no event)
        await asyncio.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        await serving
