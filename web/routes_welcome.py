"""A one-time sign-in link (`duban users invite`): its page asks for a new password, and only the
form's post spends the link, sets the password and signs in.

Opening the link spends nothing, since mail scanners and link previews open links before the
person does; a password is set at once so the account has one for every later sign-in (the link
is not a standing credential). The link's token is in the path, so these pages send no Referer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from services import accounts
from services.errors import Forbidden, Invalid
from web.app import render
from web.auth import ServicesDep, check_pre_session, pre_session_form, set_cookie

router = APIRouter()

PRE = "duban_welcome"
"""The form's own CSRF token (double submit: before a session there is none to bind to)."""


def _page(request: Request, status: int = 200, **context: object) -> Response:
    response = render(request, "welcome.html", status, min_password=accounts.MIN_PASSWORD, **context)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/welcome/{token}")
async def welcome_form(request: Request, token: str, ctx: ServicesDep) -> Response:
    try:
        account = await accounts.invited(ctx, token=token)
    except Forbidden as e:
        return _page(request, 403, account=None, error=e.message)
    return pre_session_form(
        request, PRE, lambda csrf: _page(request, account=account, token=token, csrf=csrf, error=None)
    )


@router.post("/welcome/{token}")
async def welcome(
    request: Request,
    token: str,
    ctx: ServicesDep,
    password: Annotated[str, Form(max_length=1000)] = "",
    again: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_pre_session(request, PRE, csrf)
    try:
        if password != again:
            raise Invalid("两次输入的密码不一致")
        done = await accounts.accept_invite(ctx, token=token, password=password)
    except Invalid as e:  # the link is not spent: the form again, with what to fix
        account = await accounts.invited(ctx, token=token)
        return _page(request, 400, account=account, token=token, csrf=csrf, error=e.message)
    except Forbidden as e:
        return _page(request, 403, account=None, error=e.message)
    response = RedirectResponse("/", status_code=303)
    secure = request.app.state.secure_cookies
    set_cookie(response, done.token, secure=secure, max_age=ctx.settings.web_session_minutes * 60)
    response.delete_cookie(PRE)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
