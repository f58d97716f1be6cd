"""`duban users invite`'s one-time sign-in link, end to end on real PostgreSQL and a loopback SMTP
receiver: the link arrives by e-mail, is stored only as its SHA-256, works once (setting a
password and signing in), and is refused when used, voided by a newer invitation, or expired.
A mail server that refuses the message leaves nothing behind."""

from __future__ import annotations

import hashlib
import re
import uuid
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.store.accounts import accounts as accounts_table
from activities.store.accounts import sign_in_links
from services import accounts
from services.context import Services
from services.errors import Conflict, Forbidden, Invalid
from tests.integration.receivers import Mailbox, settings_for
from tests.integration.web_support import OFFICE, browser, csrf_of
from web.app import create_app

pytestmark = pytest.mark.integration

BASE = "https://duban.county.test/door"


def link_in(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    found = re.search(rf"{re.escape(BASE)}/welcome/(\S+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


@pytest.fixture
async def ctx(engine: AsyncEngine, smtp: tuple[Mailbox, int]):  # type: ignore[no-untyped-def]
    settings = settings_for(smtp[1], web_base_url=BASE, web_invite_hours=72)
    async with Services(settings, engine=engine) as c:
        yield c


async def test_a_link_works_once(ctx: Services, smtp: tuple[Mailbox, int]) -> None:
    box, _ = smtp
    name, to = f"clerk-{uuid.uuid4().hex[:6]}", f"clerk-{uuid.uuid4().hex[:6]}@county.test"
    done = await accounts.invite(ctx, actor=OFFICE, name=name, email=to, role="agency:east", display_name="东镇")
    assert done.created and done.account.role == "agency:east"
    [msg] = [m for m in box.messages if m["To"] == to]
    assert msg["From"] == "duban@county.test" and "设置密码" in str(msg["Subject"])
    token = link_in(msg)
    async with ctx.reading() as conn:
        stored = (await conn.execute(select(sign_in_links).where(sign_in_links.c.account == name))).mappings().all()
    assert [r["token_sha256"] for r in stored] == [hashlib.sha256(token.encode()).hexdigest()]
    assert stored[0]["email"] == to and stored[0]["used_at"] is None
    # No password yet: the account signs in by nothing but its link.
    with pytest.raises(Forbidden):
        await accounts.sign_in(ctx, name=name, password="")

    app = create_app(ctx)
    async with browser(app) as client:
        # Opening the page spends nothing (mail scanners open links first): open it twice.
        assert (await client.get(f"/welcome/{token}")).status_code == 200
        page = await client.get(f"/welcome/{token}")
        assert page.status_code == 200 and name in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        csrf = csrf_of(page.text)
        # A form without its CSRF token, or with passwords that differ, spends nothing either.
        r = await client.post(f"/welcome/{token}", data={"password": "a good password", "again": "a good password"})
        assert r.status_code == 403
        r = await client.post(
            f"/welcome/{token}", data={"password": "a good password", "again": "another one!", "csrf": csrf}
        )
        assert r.status_code == 400 and "不一致" in r.text
        r = await client.post(f"/welcome/{token}", data={"password": "short", "again": "short", "csrf": csrf})
        assert r.status_code == 400 and "8 to 1000" in r.text
        r = await client.post(
            f"/welcome/{token}", data={"password": "a good password", "again": "a good password", "csrf": csrf}
        )
        assert (r.status_code, r.headers["location"]) == (303, "/")
        home = await client.get("/")
        assert home.status_code == 200 and "东镇" in home.text  # signed in, as the account
    # The password it set now signs in; the link is spent: refused by page and by form.
    assert (await accounts.sign_in(ctx, name=name, password="a good password")).account.name == name
    async with browser(app) as other:
        again = await other.get(f"/welcome/{token}")
        assert again.status_code == 403 and "已使用或已过期" in again.text
        other.cookies.set("duban_welcome", "c")  # past the form's CSRF check: the link itself refused
        r = await other.post(f"/welcome/{token}", data={"password": "x" * 12, "again": "x" * 12, "csrf": "c"})
        assert r.status_code == 403 and "已使用或已过期" in r.text
    with pytest.raises(Forbidden, match="已使用"):
        await accounts.accept_invite(ctx, token=token, password="another good one")
    assert (await accounts.sign_in(ctx, name=name, password="a good password")).account.name == name


async def test_expired_and_voided_links_are_refused(ctx: Services, smtp: tuple[Mailbox, int]) -> None:
    box, _ = smtp
    name, to = f"aud-{uuid.uuid4().hex[:6]}", f"aud-{uuid.uuid4().hex[:6]}@county.test"
    await accounts.invite(ctx, actor=OFFICE, name=name, email=to, role="auditor")
    first = link_in([m for m in box.messages if m["To"] == to][-1])
    again = await accounts.invite(ctx, actor=OFFICE, name=name, email=to)  # a re-invitation
    assert not again.created
    second = link_in([m for m in box.messages if m["To"] == to][-1])
    assert first != second
    with pytest.raises(Forbidden):  # the older link is void once a newer one is sent
        await accounts.invited(ctx, token=first)
    assert (await accounts.invited(ctx, token=second)).name == name
    async with ctx.writing() as conn:
        await conn.execute(
            update(sign_in_links)
            .where(sign_in_links.c.token_sha256 == hashlib.sha256(second.encode()).hexdigest())
            .values(created_at=again.expires_at.replace(year=2020), expires_at=again.expires_at.replace(year=2021))
        )
    with pytest.raises(Forbidden, match="已过期"):
        await accounts.accept_invite(ctx, token=second, password="a good password")
    async with browser(create_app(ctx)) as client:
        assert (await client.get(f"/welcome/{second}")).status_code == 403
    with pytest.raises(Forbidden):
        await accounts.accept_invite(ctx, token="no-such-token", password="a good password")


async def test_what_an_invitation_refuses(ctx: Services, smtp: tuple[Mailbox, int]) -> None:
    box, _ = smtp
    name = f"nope-{uuid.uuid4().hex[:6]}"
    before = len(box.messages)
    # The mail server refuses the address: no account, no link, nothing half made.
    with pytest.raises(Conflict, match="not sent"):
        await accounts.invite(ctx, actor=OFFICE, name=name, email="refuse@county.test", role="auditor")
    async with ctx.reading() as conn:
        assert (await conn.execute(select(accounts_table).where(accounts_table.c.name == name))).first() is None
    with pytest.raises(Invalid, match="bad e-mail"):
        await accounts.invite(ctx, actor=OFFICE, name=name, email="not an address", role="auditor")
    with pytest.raises(Invalid, match="--role"):
        await accounts.invite(ctx, actor=OFFICE, name=name, email="a@county.test")
    await accounts.invite(ctx, actor=OFFICE, name=name, email="a@county.test", role="auditor")
    with pytest.raises(Conflict, match="roles are not changed"):
        await accounts.invite(ctx, actor=OFFICE, name=name, email="a@county.test", role="office")
    with pytest.raises(Forbidden, match="only the office"):
        await accounts.invite(
            ctx, actor=OFFICE.model_copy(update={"role": "auditor"}), name="x", email="a@county.test", role="auditor"
        )
    assert len(box.messages) == before + 1
