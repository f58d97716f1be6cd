"""PostgreSQL: the embedded server (pgserver) of a laptop install, or the configured one.

pgserver keeps its data under `settings.var_dir` and outlives the CLI run that started it, so the
next run finds it listening and reuses it. With `DATABASE_URL` set, nothing is started and that
server is used instead.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import psutil
import sqlalchemy.exc
import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from activities.config import ROOT, Settings

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer


log = structlog.get_logger(__name__)


ASYNCPG_SCHEME = "postgresql+asyncpg"
_PG_SCHEMES = ("postgres", "postgresql", ASYNCPG_SCHEME)
_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def asyncpg_url(url: str) -> str:
    """Return `url` for SQLAlchemy's asyncpg driver.

    Accepts postgres://, postgresql:// and postgresql+asyncpg:// URLs. Only the scheme changes, and
    libpq's `sslmode` query parameter becomes asyncpg's `ssl`; the rest is kept byte for byte, so
    escapes in a password or a socket path stay as the operator wrote them.

    Raises:
        ValueError: if `url` is not a PostgreSQL URL.
    """
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme.lower() not in _PG_SCHEMES:
        raise ValueError(
            f"not a PostgreSQL URL: {scheme or url!r}:// (expected postgres://, postgresql:// or {ASYNCPG_SCHEME}://)"
        )
    location, qmark, query = rest.partition("?")
    if qmark:
        params = [("ssl" + p[len("sslmode") :]) if p.startswith("sslmode=") else p for p in query.split("&")]
        query = "&".join(params)
    normalised = f"{ASYNCPG_SCHEME}://{location}{qmark}{query}"
    make_url(normalised)  # raises ArgumentError on a malformed URL, here rather than at first use
    return normalised


def ensure_postgres(settings: Settings) -> str:
    """Return the asyncpg URL of the database to use, starting the embedded PostgreSQL if needed.

    With `settings.database_url` set, that URL is returned (normalised by `asyncpg_url`) and nothing
    is started. Otherwise PostgreSQL from pgserver runs on `settings.pg_dir` and listens only on a
    unix socket in that folder; a server already running there, from this or any other process, is
    reused. It keeps running after this process exits: `stop_postgres` stops it.

    Blocking (about a second for a first start, a few milliseconds to reuse): from async code,
    call it through `asyncio.to_thread`.
    """
    if settings.database_url:
        return asyncpg_url(settings.database_url)
    if settings.env == "production":
        raise RuntimeError("DATABASE_URL must be set in production (no embedded PostgreSQL)")
    pg_dir = _embedded_pg_dir(settings)
    server = _pgserver_start(pg_dir)
    uri = server.get_uri()
    _release_handle(server)
    return asyncpg_url(uri)


APP_DATABASE = "duban"


async def app_database(settings: Settings) -> str:
    """The URL of duban's own database: DATABASE_URL when set; else the embedded server's
    database "duban", created on first use (its admin database "postgres" stays untouched)."""
    admin = await asyncio.to_thread(ensure_postgres, settings)
    if settings.database_url:
        return admin
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            found = (
                await conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": APP_DATABASE})
            ).first()
    finally:
        await engine.dispose()
    if found is None:
        # Another process may create it meanwhile: PostgreSQL then reports a duplicate database
        # (or, in a closer race, a unique violation in its catalogue).
        with contextlib.suppress(sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.IntegrityError):
            await create_database(admin, APP_DATABASE)
    return _with_database(admin, APP_DATABASE)


async def create_database(admin_url: str, name: str) -> str:
    """Create the empty database `name` on the server of `admin_url` and return its asyncpg URL.

    Meant for tests (one database per run) and first installs; it fails if `name` exists.
    """
    _check_db_name(name)
    await _execute_autocommit(admin_url, f'CREATE DATABASE "{name}"')
    return _with_database(asyncpg_url(admin_url), name)


async def drop_database(admin_url: str, name: str) -> None:
    """Drop the database `name` if it exists, disconnecting its sessions first."""
    _check_db_name(name)
    await _execute_autocommit(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stop_postgres(settings: Settings) -> bool:
    """Stop the embedded PostgreSQL of `settings.pg_dir`; return whether one was running."""
    pg_dir = settings.pg_dir.resolve()
    if _postmaster_pid(pg_dir) is None:
        return False
    pg_ctl = getattr(_import_pgserver()._commands, "pg_ctl")  # noqa: B009  # made at import time
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pg_dir, user=_pg_system_user(), timeout=30)
    return True


def _import_pgserver() -> ModuleType:
    with warnings.catch_warnings():
        # platformdirs warns, at pgserver's import, when root has no XDG_RUNTIME_DIR; it falls
        # back to /tmp/runtime-0 for pgserver's lock file, which is fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver
        import pgserver._commands
    return pgserver


def _embedded_pg_dir(settings: Settings) -> Path:
    var_dir = settings.var_dir.resolve()
    project_var = (ROOT / "var").resolve()
    # As root, pgserver runs postgres as a `pgserver` user and opens read/execute on every parent
    # folder of the data folder: confine that to a folder this project owns.
    if os.geteuid() == 0 and not var_dir.is_relative_to(project_var):
        raise RuntimeError(
            f"embedded PostgreSQL as root must keep its data under {project_var}, not {var_dir}: "
            "set DUBAN_VAR_DIR inside it, or point DATABASE_URL at a PostgreSQL server"
        )
    var_dir.mkdir(parents=True, exist_ok=True)
    return settings.pg_dir.resolve()


def _pg_system_user() -> str | None:
    return "pgserver" if os.geteuid() == 0 else None


def _postmaster_pid(pg_dir: Path) -> int | None:
    """The pid of the live postmaster of `pg_dir`, or None."""
    try:
        pid = int((pg_dir / "postmaster.pid").read_text().split()[0])
        proc = psutil.Process(pid)
        alive = proc.status() != psutil.STATUS_ZOMBIE and proc.name() == "postgres"
    except (FileNotFoundError, IndexError, ValueError, psutil.Error):
        return None
    return pid if alive else None


def _forget_stale_postmaster(pg_dir: Path) -> None:
    # After a crash or a reboot the pid in postmaster.pid can name a zombie (a container's init
    # may be slow to reap, or never) or an unrelated process; pgserver then believes the server
    # runs, and postgres refuses to start. A pid that is not a live postgres is stale.
    pid_file = pg_dir / "postmaster.pid"
    if pid_file.exists() and _postmaster_pid(pg_dir) is None:
        log.warning("removing stale postmaster.pid", path=str(pid_file))
        pid_file.unlink(missing_ok=True)


def _pgserver_start(pg_dir: Path) -> PostgresServer:
    pgserver = _import_pgserver()
    # Under pgserver's own inter-process lock, which it holds while it runs initdb and starts the
    # server: outside it, the lock file of a postgres still starting up could look stale.
    with pgserver.PostgresServer._lock:
        _forget_stale_postmaster(pg_dir)
    # pgserver caches one handle per folder and process; a cached handle can outlive its server.
    stale = pgserver.PostgresServer._instances.pop(pg_dir, None)
    if stale is not None:
        atexit.unregister(stale._cleanup)
    started = time.perf_counter()
    server: PostgresServer = pgserver.get_server(pg_dir, cleanup_mode=None)
    log.debug("postgres ready", pg_dir=str(pg_dir), seconds=round(time.perf_counter() - started, 3))
    return server


def _release_handle(server: PostgresServer) -> None:
    # pgserver counts the processes holding a handle so that the last one out stops the server.
    # We want the opposite (cleanup_mode=None: the server outlives every run), and a CLI that leaves
    # by os._exit never runs atexit, so its pid would stay in .handle_pids.json for ever: let go of
    # the handle at once, and drop pids of processes that are gone.
    atexit.unregister(server._cleanup)
    type(server)._instances.pop(server.pgdata, None)
    with type(server)._lock:
        handles = server.global_process_id_list
        handles.put([pid for pid in handles.get() if pid != os.getpid() and psutil.pid_exists(pid)])


def _check_db_name(name: str) -> None:
    if not _DB_NAME.fullmatch(name):
        raise ValueError(f"database name must match {_DB_NAME.pattern}: {name!r}")


async def _execute_autocommit(url: str, statement: str) -> None:
    engine = create_async_engine(asyncpg_url(url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def _with_database(url: str, name: str) -> str:
    # urlsplit keeps the query verbatim (SQLAlchemy's renderer would percent-encode a socket path)
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))
