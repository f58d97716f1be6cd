"""Who is asking: the session cookie proved against the server-side session, the CSRF token of
every form checked against it, and the refusal family mapped to HTTP once.

The cookie is HttpOnly, SameSite=Strict and Secure (except on a loopback http address, where a
browser would otherwise never send it back), and holds only a random token whose SHA-256 is the
session's key. The CSRF token is the session's own (synchronizer token), never a cookie.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import Response

from models.board import AccountView
from services import accounts
from services.actors import Actor
from services.context import Services

COOKIE = "duban_session"
CSRF_REFUSED = "表单已失效（CSRF 校验失败），请刷新页面后重试"


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to the sign-in form."""


@dataclass(frozen=True)
class Caller:
    """The signed-in account, its session's CSRF token, and the request's service context."""

    account: AccountView
    csrf: str
    ctx: Services
    token: str

    async def actor(self, campaign: str | None) -> Actor:
        return await accounts.actor_of(self.ctx, account=self.account, campaign=campaign)


def services(request: Request) -> Services:
    ctx: Services = request.app.state.services
    return ctx


async def caller(request: Request, ctx: Annotated[Services, Depends(services)]) -> Caller:
    token = request.cookies.get(COOKIE, "")
    found = await accounts.session(ctx, token=token)
    if found is None:
        raise SignInRequired()
    return Caller(account=found.account, csrf=found.csrf, ctx=ctx, token=token)


async def checked(who: Annotated[Caller, Depends(caller)], csrf: Annotated[str, Form()] = "") -> Caller:
    """A form post: the caller, once the form's CSRF token matches the session's (403 if not)."""
    if not csrf or not hmac.compare_digest(csrf, who.csrf):
        raise HTTPException(status_code=403, detail=CSRF_REFUSED)
    return who


def pre_session_form(request: Request, cookie: str, page: Callable[[str], Response]) -> Response:
    """A form shown before any session (sign-in, a sign-in link): `page` renders it with its own
    CSRF token, which is also set as a cookie (double submit: no session to bind it to yet)."""
    token = secrets.token_urlsafe(24)
    response = page(token)
    response.set_cookie(cookie, token, httponly=True, samesite="strict", secure=request.app.state.secure_cookies)
    return response


def check_pre_session(request: Request, cookie: str, csrf: str) -> None:
    """The post of such a form: its token must match its cookie (403 if not)."""
    expected = request.cookies.get(cookie, "")
    if not csrf or not expected or not hmac.compare_digest(csrf, expected):
        raise HTTPException(status_code=403, detail=CSRF_REFUSED)


def set_cookie(response: Response, token: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=secure, path="/")


CallerDep = Annotated[Caller, Depends(caller)]
PostDep = Annotated[Caller, Depends(checked)]
ServicesDep = Annotated[Services, Depends(services)]
