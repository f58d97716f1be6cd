"""Real servers for integration tests: the embedded PostgreSQL (one fresh database per run)
and the time-skipping Temporal server (one per test)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities import servers
from activities.config import Settings
from activities.store.db import make_engine, upgrade
from tests.integration.receivers import Hooks, Mailbox, free_port


@pytest.fixture(scope="session")
async def db_url() -> AsyncIterator[str]:
    admin = await asyncio.to_thread(servers.ensure_postgres, Settings(env="test"))
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = await servers.create_database(admin, name)
    await upgrade(url)
    yield url
    await servers.drop_database(admin, name)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    e = make_engine(db_url)
    yield e
    await e.dispose()


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    e = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=servers.test_server_path(), data_converter=pydantic_data_converter
    )
    yield e
    await e.shutdown()


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    h = Hooks()
    thread = threading.Thread(target=h.server.serve_forever, daemon=True)
    thread.start()
    yield h
    h.server.shutdown()
    h.server.server_close()
    thread.join()
