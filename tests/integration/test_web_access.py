"""The web door's authorization matrix: every route of the app × every role, generated from
`app.routes` so that a new route cannot escape it. On real PostgreSQL (a registered campaign),
with the services the CLI uses; nothing here reaches a workflow, since every refusal comes first.

- no session: every page redirects to the sign-in form;
- a form post without the session's CSRF token: 403;
- an auditor and the convener: 403 on every write (but the convener's 批示, which only it may
  post: 404 here, where nothing reached it; 403 for everyone else);
- agency east: 404 on west's obligation and unit, by URL and by form post; 403 on the office's
  and the auditor's pages;
- sign-in: wrong passwords lock the account; a disabled account's session ends.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from activities.config import Settings
from activities.store.accounts import accounts as accounts_table
from activities.store.accounts import web_sessions
from services import accounts
from services.context import Services
from services.errors import Conflict, Forbidden, Invalid
from tests.integration import mini
from tests.integration.web_support import OFFICE, PASSWORD, add_accounts, browser, csrf_of, sign_in
from web.app import api_routes, create_app

pytestmark = pytest.mark.integration

# Every route, and what it is: a page (GET) or a write (a form post acting on the campaign).
# A route missing here fails the test: say what it is, and it joins the matrix.
ROUTES = {
    ("GET", "/signin"): "public",
    ("POST", "/signin"): "public",
    ("GET", "/welcome/{token}"): "public",
    ("POST", "/welcome/{token}"): "public",
    ("GET", "/calendar/{token}.ics"): "token",
    ("POST", "/signout"): "session",
    ("GET", "/"): "page",
    ("GET", "/feed"): "page",
    ("POST", "/feed/new"): "session",
    ("POST", "/feed/revoke"): "session",
    ("GET", "/c/{campaign}/board"): "readers",
    ("GET", "/c/{campaign}/board/grid"): "readers",
    ("GET", "/c/{campaign}/audit"): "readers",
    ("GET", "/c/{campaign}/verify"): "readers",
    ("GET", "/c/{campaign}/export"): "readers",
    ("GET", "/c/{campaign}/unit/{unit}"): "page",
    ("GET", "/o/{obligation:path}"): "page",
    ("GET", "/explain/{obligation:path}"): "page",
    ("GET", "/explain-order/{order:path}"): "page",
    ("POST", "/act/decide/{obligation:path}"): "office-write",
    ("POST", "/act/ack/{obligation:path}"): "write",
    ("POST", "/act/progress/{obligation:path}"): "write",
    ("POST", "/act/complete/{obligation:path}"): "write",
    ("POST", "/act/extend/{obligation:path}"): "write",
    ("GET", "/c/{campaign}/papers"): "page",
    ("GET", "/c/{campaign}/notice/{code}/{fmt}"): "download",
    ("GET", "/c/{campaign}/bulletin/{month}/{fmt}"): "download",
    ("POST", "/act/rectify-report/{order:path}"): "write",
    ("POST", "/act/rectify-review/{order:path}"): "office-write",
    ("GET", "/c/{campaign}/convener"): "readers",
    ("POST", "/act/instruct/{obligation:path}"): "convener-write",
    ("POST", "/act/instruct-order/{order:path}"): "convener-write",
    ("GET", "/launch"): "office-page",
    ("POST", "/launch"): "office-write",
    ("GET", "/c/{campaign}/scores"): "office-page",
    ("POST", "/c/{campaign}/scores"): "office-write",
    ("GET", "/c/{campaign}/assessments"): "readers",
    ("POST", "/c/{campaign}/nominate"): "office-write",
}
FORMS = {
    "/act/decide/": {"approve": "approve", "reason": "x"},
    "/act/progress/": {"percent": "10", "text": "x"},
    "/act/complete/": {"text": "x"},
    "/act/extend/": {"due": "2021-12-31", "reason": "x"},
    "/act/rectify-report/": {"text": "x"},
    "/act/rectify-review/": {"accept": "accept"},
    "/act/instruct/": {"text": "x"},
    "/act/instruct-order/": {"text": "x"},
    "/launch": {"ruleset": ""},
}
FILES = {"/launch": {"plan": ("p.yaml", b"id: x")}, "/scores": {"workbook": ("s.xlsx", b"PK")}}


def routes(app: FastAPI) -> list[tuple[str, str]]:
    return [(m, r.path) for r in api_routes(app.routes) for m in sorted(r.methods)]


def fill(path: str, *, campaign: str, unit: str, obligation: str) -> str:
    return (
        path.replace("{campaign}", campaign)
        .replace("{unit}", unit)
        .replace("{obligation:path}", obligation)
        .replace("{order:path}", f"{campaign}/rectify/2021-12-01%23{unit}")
        .replace("{code}", "no-such-code")
        .replace("{month}", "2021-12")
        .replace("{fmt}", "pdf")
        .replace("{token}", "no-such-token")
    )


def form_for(url: str) -> dict[str, str]:
    if url.endswith("/scores"):
        return {"sheet": "acceptance"}
    if url.endswith("/nominate"):
        return {"unit": "west", "person": "x", "reason": "x"}
    return next((f for prefix, f in FORMS.items() if url.startswith(prefix)), {})


def files_for(url: str) -> dict[str, tuple[str, bytes]] | None:
    return next((f for suffix, f in FILES.items() if url.endswith(suffix)), None)


@pytest.fixture
async def site(engine: AsyncEngine, env: WorkflowEnvironment, tmp_path: Path):  # type: ignore[no-untyped-def]
    inp, _, _ = await mini.registered(engine)
    settings = Settings(env="test", task_queue="unused", contacts_file=tmp_path / "none.yaml")
    # A Temporal of the test's own: an agency's action sends an Update (to a workflow that is not
    # there), and without a client the service would start a detached dev server in var/.
    async with Services(settings, client=env.client, engine=engine) as ctx:
        names = await add_accounts(ctx, f"acc-{uuid.uuid4().hex[:6]}")
        yield create_app(ctx), inp.context.campaign_id, names, ctx


async def test_every_route_is_in_the_matrix(site) -> None:  # type: ignore[no-untyped-def]
    app, *_ = site
    unknown = [r for r in routes(app) if r not in ROUTES]
    assert not unknown, f"routes with no place in the authorization matrix: {unknown}"
    assert set(ROUTES) == set(routes(app)), "the matrix names routes the app no longer has"


async def test_no_session_goes_to_sign_in_and_no_csrf_is_403(site) -> None:  # type: ignore[no-untyped-def]
    app, cid, names, _ = site
    ob = f"{cid}/rollout/west/T01-basic"
    async with browser(app) as client:
        for method, path in routes(app):
            url = fill(path, campaign=cid, unit="west", obligation=ob)
            r = await client.request(
                method, url, data=form_for(url) or None, files=files_for(url), follow_redirects=False
            )
            kind = ROUTES[(method, path)]
            if kind == "public":
                assert r.status_code in (200, 403), (method, url)  # the sign-in form's own CSRF: 403 without
            elif kind == "token":
                assert r.status_code == 404, (method, url)
            else:
                assert (r.status_code, r.headers.get("location")) == (303, "/signin"), (method, url)
        await sign_in(client, names["office"])
        for method, path in routes(app):
            if method == "POST" and ROUTES[(method, path)] != "public":
                url = fill(path, campaign=cid, unit="west", obligation=ob)
                r = await client.post(url, data=form_for(url), files=files_for(url))
                assert r.status_code == 403 and "CSRF" in r.text, (url, r.status_code)
                r = await client.post(url, data={**form_for(url), "csrf": "forged"}, files=files_for(url))
                assert r.status_code == 403, url


@pytest.mark.parametrize("who", ["auditor", "convener", "east"])
async def test_the_matrix(site, who: str) -> None:  # type: ignore[no-untyped-def]
    app, cid, names, _ = site
    west_ob, east_ob = f"{cid}/rollout/west/T01-basic", f"{cid}/rollout/east/T01-basic"
    async with browser(app) as client:
        csrf = await sign_in(client, names[who])
        for method, path in routes(app):
            kind = ROUTES[(method, path)]
            if kind in ("public", "token", "session"):
                continue
            for unit, ob in (("west", west_ob), ("east", east_ob)):
                url = fill(path, campaign=cid, unit=unit, obligation=ob)
                data = {**form_for(url), "csrf": csrf} if method == "POST" else None
                files = files_for(url) if method == "POST" else None
                r = await client.request(method, url, data=data, files=files, follow_redirects=False)
                mine = "{obligation" in path or "{unit}" in path or "{order" in path
                if kind == "download" or (kind == "page" and "{order" in path):
                    want = {404}  # nothing issued yet in this campaign: no file or order, for anyone
                elif kind == "convener-write":
                    # Only the convener answers (批示), and only what reached it: nothing has here.
                    want = {404} if who == "convener" else {403}
                elif kind == "office-page" or (kind == "office-write" and not mine):
                    want = {403}
                elif who == "east":
                    own = unit == "east"
                    if kind == "readers":
                        want = {403}
                    elif kind == "office-write":
                        # Its own order: none is issued here, so 404 before the office-only check.
                        want = ({403, 404} if "{order" in path else {403}) if own else {404}
                    elif mine:
                        # Its own: a page (200); a write reaches the workflow, which is not running
                        # here (404: no open workflow holds it). Another unit's: 404 before anything.
                        want = {200, 404} if own else {404}
                    else:
                        want = {200}
                    if not own and mine:
                        assert r.status_code == 404, (who, method, url, r.status_code)
                else:
                    want = {403} if kind in ("write", "office-write") else {200, 303}
                assert r.status_code in want, (who, method, url, r.status_code, r.text[-300:])


async def test_lockout_disable_and_reset(site) -> None:  # type: ignore[no-untyped-def]
    app, _, names, ctx = site
    name = names["east"]
    for _ in range(ctx.settings.web_lockout_attempts):
        with pytest.raises(Forbidden, match="用户名或密码错误"):
            await accounts.sign_in(ctx, name=name, password="wrong password")
    with pytest.raises(Forbidden, match="已锁定"):
        await accounts.sign_in(ctx, name=name, password=PASSWORD)  # locked, even with the right one
    await accounts.reset(ctx, actor=OFFICE, name=name, password="a new password")
    done = await accounts.sign_in(ctx, name=name, password="a new password")
    assert (await accounts.session(ctx, token=done.token)) is not None
    async with ctx.reading() as conn:
        stored = (await conn.execute(select(web_sessions.c.token_sha256))).scalars().all()
        hashed = (
            await conn.execute(select(accounts_table.c.password_hash).where(accounts_table.c.name == name))
        ).scalar()
    assert done.token not in stored and hashed is not None and hashed.startswith("$argon2")
    # A session expires: past its time it signs no one in.
    later = await accounts.sign_in(ctx, name=name, password="a new password")
    async with ctx.writing() as conn:
        await conn.execute(
            update(web_sessions)
            .where(web_sessions.c.expires_at == later.expires_at)
            .values(expires_at=later.expires_at - timedelta(days=1))
        )
    assert await accounts.session(ctx, token=later.token) is None
    await accounts.disable(ctx, actor=OFFICE, name=name)
    assert await accounts.session(ctx, token=done.token) is None
    with pytest.raises(Forbidden, match="停用"):
        await accounts.sign_in(ctx, name=name, password="a new password")
    with pytest.raises(Forbidden, match="用户名或密码错误"):
        await accounts.sign_in(ctx, name="nobody-at-all", password=PASSWORD)
    with pytest.raises(Conflict, match="already exists"):
        await accounts.add(ctx, actor=OFFICE, name=name, role="auditor", password=PASSWORD)
    with pytest.raises(Invalid, match="not a role"):
        await accounts.add(ctx, actor=OFFICE, name="x-new", role="king", password=PASSWORD)
    auditor = await accounts.actor_of(ctx, account=(await accounts.list_accounts(ctx, actor=OFFICE))[0], campaign=None)
    with pytest.raises(Forbidden, match="only the office"):
        await accounts.list_accounts(ctx, actor=auditor.model_copy(update={"role": "auditor"}))
    async with browser(app) as client:
        form = await client.get("/signin")
        r = await client.post("/signin", data={"name": names["west"], "password": "nope", "csrf": csrf_of(form.text)})
        assert r.status_code == 403 and "用户名或密码错误" in r.text
