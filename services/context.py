"""What every service needs, made once per door request: settings, a Temporal client and a
database engine, each connected on first use (a command that reads PostgreSQL never starts
Temporal, and the other way round)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio.client import Client

from activities import servers
from activities.config import Settings, get_settings
from activities.store.db import make_engine, upgrade

P = ParamSpec("P")
R = TypeVar("R")


class Services:
    """Settings plus a lazily connected Temporal client and a lazily made engine.

    Tests hand in a client or an engine they made (on their own servers); those are theirs to
    close. An engine made here is disposed by `aclose` (or leaving `async with`).
    """

    def __init__(
        self, settings: Settings | None = None, *, client: Client | None = None, engine: AsyncEngine | None = None
    ) -> None:
        self.settings = settings or get_settings()
        self._client = client
        self._engine = engine
        self._owns_engine = engine is None

    async def client(self, *, start: bool = True) -> Client:
        """The Temporal client; with `start=False`, never start the embedded dev server (reading
        or acting on existing workflows finds nothing on a fresh one): raises RuntimeError."""
        if self._client is None:
            self._client = await servers.connect(self.settings, start=start)
        return self._client

    async def engine(self) -> AsyncEngine:
        """The database engine; the embedded PostgreSQL is started and migrated as `duban up` does."""
        if self._engine is None:
            self._engine = make_engine(
                await migrate(self.settings),
                pool_size=self.settings.db_pool_size,
                max_overflow=self.settings.db_max_overflow,
            )
        return self._engine

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        async with (await self.engine()).connect() as conn:
            yield conn

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        async with (await self.engine()).begin() as conn:
            yield conn

    async def read(
        self, query: Callable[Concatenate[AsyncConnection, P], Awaitable[R]], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run one read-side query (`activities.store.views`) on a connection of its own."""
        async with self.reading() as conn:
            return await query(conn, *args, **kwargs)

    async def aclose(self) -> None:
        if self._owns_engine and self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def __aenter__(self) -> Services:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def migrate(settings: Settings) -> str:
    """Bring the configured database (the embedded one started if need be) to the latest schema;
    its URL."""
    url = await servers.app_database(settings)
    await upgrade(url)
    return url
