"""The FastAPI app: its routes, templates and the one mapping of refusals to pages and statuses
(NotFound 404, Forbidden 403, Invalid 400, Conflict 409; no session: a redirect to sign in)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.routing import BaseRoute

from rules.loading import SourceError
from services.context import Services
from services.errors import Conflict, Forbidden, Invalid, NotFound, Refused

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
STATES = {"assigned": "待签收", "acknowledged": "已签收", "in_progress": "办理中", "completed": "已办结"}
templates.env.filters["state"] = lambda s: STATES.get(s, s)

STATUS = {NotFound: 404, Forbidden: 403, Invalid: 400, Conflict: 409}


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _error(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", status, message=message, status=status)


def api_routes(routes: Iterable[BaseRoute]) -> list[APIRoute]:
    """Every endpoint of an app, flat: FastAPI 0.115 copies included routes into `app.routes`;
    newer versions keep each included router whole (with its `original_router`)."""
    found: list[APIRoute] = []
    for r in routes:
        if isinstance(r, APIRoute):
            found.append(r)
        elif (inner := getattr(r, "original_router", None)) is not None:
            found += api_routes(inner.routes)
    return found


def create_app(ctx: Services, *, secure_cookies: bool = True) -> FastAPI:
    """The app over one `Services` (its engine and client shared by every request)."""
    from web import (
        routes_account,
        routes_agency,
        routes_assessments,
        routes_audit,
        routes_convener,
        routes_office,
        routes_papers,
        routes_uploads,
        routes_welcome,
    )
    from web.auth import SignInRequired

    app = FastAPI(title="督办 duban", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.services = ctx
    app.state.secure_cookies = secure_cookies
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (
        routes_account,
        routes_welcome,
        routes_office,
        routes_agency,
        routes_audit,
        routes_convener,
        routes_papers,
        routes_assessments,
        routes_uploads,
    ):
        app.include_router(module.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, e: Refused) -> Response:
        return _error(request, next((s for k, s in STATUS.items() if isinstance(e, k)), 400), e.message)

    @app.exception_handler(SourceError)
    async def _source(request: Request, e: SourceError) -> Response:
        return _error(request, 400, str(e))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, e: HTTPException) -> Response:
        return _error(request, e.status_code, str(e.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> Response:
        fields = "; ".join(f"{'.'.join(str(p) for p in err['loc'][1:])}: {err['msg']}" for err in e.errors())
        return _error(request, 400, f"输入有误：{fields}")

    return app
