"""Sign in and out, the home page (the campaigns and where each role goes), and the calendar
feed: its token made or revoked by the signed-in account, the feed itself read by token alone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from services import accounts, pages
from services.errors import Forbidden
from web.app import render
from web.auth import COOKIE, CallerDep, PostDep, ServicesDep, check_pre_session, pre_session_form, set_cookie
from web.calendar_feed import ics

router = APIRouter()

PRE = "duban_signin"
"""A sign-in form's own CSRF token (double submit: before a session there is none to bind to)."""


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    return pre_session_form(request, PRE, lambda csrf: render(request, "signin.html", csrf=csrf, error=None))


@router.post("/signin")
async def signin(
    request: Request,
    ctx: ServicesDep,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_pre_session(request, PRE, csrf)
    try:
        done = await accounts.sign_in(ctx, name=name, password=password)
    except Forbidden as e:
        return render(request, "signin.html", 403, csrf=csrf, error=e.message)
    response = RedirectResponse("/", status_code=303)
    set_cookie(
        response,
        done.token,
        secure=request.app.state.secure_cookies,
        max_age=ctx.settings.web_session_minutes * 60,
    )
    response.delete_cookie(PRE)
    return response


@router.post("/signout")
async def signout(who: PostDep) -> Response:
    await accounts.sign_out(who.ctx, token=who.token)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
async def home(request: Request, who: CallerDep) -> Response:
    return render(request, "home.html", who=who, campaigns=await pages.campaigns(who.ctx))


@router.get("/feed")
async def feed_page(request: Request, who: CallerDep) -> Response:
    return render(request, "feed.html", who=who, url=None)


@router.post("/feed/new")
async def feed_new(request: Request, who: PostDep) -> Response:
    token = await accounts.new_feed_token(who.ctx, account=who.account)
    return render(request, "feed.html", who=who, url=str(request.url_for("feed", token=token)))


@router.post("/feed/revoke")
async def feed_revoke(request: Request, who: PostDep) -> Response:
    n = await accounts.revoke_feed_tokens(who.ctx, account=who.account)
    return render(request, "feed.html", who=who, url=None, revoked=n)


@router.get("/calendar/{token}.ics", name="feed")
async def feed(token: str, ctx: ServicesDep) -> Response:
    """The calendar feed: the token is the only credential (a calendar client has no session)."""
    owner = await accounts.feed_owner(ctx, token=token)
    if owner is None:
        raise HTTPException(status_code=404, detail="no such calendar feed")
    lines = await pages.feed_lines(ctx, account=owner)
    return Response(ics(owner, lines), media_type="text/calendar; charset=utf-8")
