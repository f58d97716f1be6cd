"""The embedded servers, each test on its own var dir (var/test-servers-<uuid>) and free port."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from activities import codec, servers
from activities.config import ROOT, Settings

# Environment that would send these tests to someone else's servers.
_FOREIGN_ENV = (
    "DATABASE_URL",
    "DUBAN_DATABASE_URL",
    "DUBAN_ENV",
    "DUBAN_VAR_DIR",
    "DUBAN_TEMPORAL_ADDRESS",
    "DUBAN_TEMPORAL_NAMESPACE",
    "DUBAN_TEMPORAL_PORT",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_PROFILE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    var_dir = ROOT / "var" / f"test-servers-{uuid.uuid4().hex}"
    for name in _FOREIGN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(var_dir / "absent-temporal.toml"))
    settings = Settings(var_dir=var_dir, env="test", temporal_port=_free_port())
    yield settings
    servers.stop_background_dev_server(settings)
    servers.stop_postgres(settings)
    shutil.rmtree(var_dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _postmaster_pid(settings: Settings) -> int:
    return int((settings.pg_dir / "postmaster.pid").read_text().split()[0])


async def _run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.integration
async def test_ensure_postgres_reuses_the_running_server_and_creates_databases(settings: Settings) -> None:
    url = await asyncio.to_thread(servers.ensure_postgres, settings)
    assert url == f"postgresql+asyncpg://postgres:@/postgres?host={settings.pg_dir.resolve()}"
    pid = _postmaster_pid(settings)

    assert await asyncio.to_thread(servers.ensure_postgres, settings) == url
    other_process = await _run_python(
        """
        import sys
        from activities.config import Settings
        from activities.servers import ensure_postgres
        print(ensure_postgres(Settings(var_dir=sys.argv[1])))
        """,
        str(settings.var_dir),
    )
    assert other_process.returncode == 0, other_process.stderr
    assert other_process.stdout.splitlines()[-1] == url
    assert _postmaster_pid(settings) == pid

    name = f"test_{uuid.uuid4().hex}"
    db_url = await servers.create_database(url, name)
    assert db_url == url.replace("/postgres?", f"/{name}?")
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("select 1, current_database()"))).one() == (1, name)
    finally:
        await engine.dispose()
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="already exists"):
        await servers.create_database(url, name)
    await servers.drop_database(url, name)

    assert servers.stop_postgres(settings)
    assert not servers.stop_postgres(settings)


@pytest.mark.integration
async def test_start_dev_server_serves_a_client_until_stopped(settings: Settings) -> None:
    port = _free_port()
    server = await servers.start_dev_server(settings, port=port)
    try:
        assert server.address == f"127.0.0.1:{port}"
        client = await servers.connect(settings.model_copy(update={"temporal_port": port}))
        assert client.data_converter.payload_converter_class is codec.SharedPydanticPayloadConverter
        info = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
        assert info.namespace_info.name == "default"
        with pytest.raises(RuntimeError, match="already listens"):
            await servers.start_dev_server(settings, port=port)
        with pytest.raises(RuntimeError, match="in use by another Temporal dev server"):
            await servers.start_dev_server(settings, port=_free_port())
    finally:
        server.stop()
    assert server.process.returncode is not None
    assert not _listening(port)
    assert "start-dev" in server.log_path.read_text()
    assert settings.temporal_db.exists()


@pytest.mark.integration
async def test_connect_leaves_a_dev_server_running_for_the_next_process(settings: Settings) -> None:
    cli_run = await _run_python(
        """
        import asyncio, sys
        from activities.config import Settings
        from activities.servers import connect, hard_exit
        asyncio.run(connect(Settings(var_dir=sys.argv[1], temporal_port=int(sys.argv[2]))))
        hard_exit(3)
        """,
        str(settings.var_dir),
        str(settings.temporal_port),
    )
    assert cli_run.returncode == 3, cli_run.stderr
    pid = int((settings.var_dir / "temporal.pid").read_text())
    assert os.getsid(pid) == pid  # its own session: the terminal's ^C does not reach it

    client = await servers.connect(settings)
    info = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
    assert info.namespace_info.name == "default"
    assert int((settings.var_dir / "temporal.pid").read_text()) == pid

    assert servers.stop_background_dev_server(settings)
    assert not _listening(settings.temporal_port)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/duban", "postgresql+asyncpg://u:p@db:5432/duban"),
        ("postgresql://u@db/duban?sslmode=require", "postgresql+asyncpg://u@db/duban?ssl=require"),
        ("postgresql+asyncpg://u:p%40ss@db/duban", "postgresql+asyncpg://u:p%40ss@db/duban"),
        (
            "postgresql://postgres:@/postgres?host=/srv/pg",
            "postgresql+asyncpg://postgres:@/postgres?host=/srv/pg",
        ),
    ],
)
def test_asyncpg_url_changes_only_the_driver(given: str, expected: str) -> None:
    assert servers.asyncpg_url(given) == expected


@pytest.mark.parametrize("given", ["mysql://u@db/duban", "sqlite:///duban.db", "db:5432/duban"])
def test_asyncpg_url_refuses_other_databases(given: str) -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        servers.asyncpg_url(given)


def test_database_url_means_no_embedded_postgres(settings: Settings) -> None:
    configured = settings.model_copy(update={"database_url": "postgres://u:p@db/duban"})
    assert servers.ensure_postgres(configured) == "postgresql+asyncpg://u:p@db/duban"
    assert not configured.pg_dir.exists()


def test_temporal_address_from_the_environment_wins(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "target_host" not in servers.client_connect_config(settings)
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "duban-prod")
    config = servers.client_connect_config(Settings(var_dir=settings.var_dir))
    assert config["target_host"] == "temporal.example:7233"
    assert config["namespace"] == "duban-prod"


def test_server_binaries_come_from_the_installed_packages() -> None:
    for path in (servers.dev_server_path(), servers.test_server_path()):
        assert Path(path).is_absolute()
        assert os.access(path, os.X_OK)
