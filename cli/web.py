"""`duban web`: the web door alone, against the configured cluster (services and read side as the
CLI's); it refuses a non-loopback address without DUBAN_WEB_SECRET."""

from __future__ import annotations

import asyncio

import typer

from activities.config import get_settings
from cli.common import UserError, err
from web.serve import bind_refusal, serve


def web(
    host: str | None = typer.Option(None, "--host", help="Address to bind (default DUBAN_WEB_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Port (default DUBAN_WEB_PORT, 8640)."),
) -> None:
    """Serve the web pages: the office's board, each agency's page, the auditor's timeline."""
    settings = get_settings()
    host = host or settings.web_host
    port = port or settings.web_port
    why = bind_refusal(host, settings)
    if why is not None:
        raise UserError(why, code=1)
    err.print(f"duban web: http://{host}:{port}/ (accounts: duban users add NAME --role office)", markup=False)
    asyncio.run(serve(settings, host=host, port=port))
