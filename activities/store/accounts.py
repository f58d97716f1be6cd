"""Accounts, sessions and calendar-feed tokens: who may use the web door, and how long.

Tables on the one `metadata` (the migration 0008 mirrors them). Secrets are never stored: a
session or feed token is kept as its SHA-256, the password as its argon2 hash. Every function is
one small query; the rules (lockout, expiry, who may do what) are `services.accounts`'.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.tables import metadata

accounts = Table(
    "accounts",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("display_name", Text, nullable=False, server_default=""),
    # office | agency:<unit> | auditor | convener
    Column("role", String(80), nullable=False),
    Column("password_hash", Text),
    Column("disabled", Boolean, nullable=False, server_default="false"),
    Column("failed_attempts", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("created_by", String(100), nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("account", ForeignKey("accounts.name", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_web_sessions_account", "account"),
)

ics_tokens = Table(
    "ics_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("account", ForeignKey("accounts.name", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_ics_tokens_account", "account"),
)

# A one-time sign-in link (`duban users invite`, migration 0010): good once, until it expires.
sign_in_links = Table(
    "sign_in_links",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("account", ForeignKey("accounts.name", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Index("ix_sign_in_links_account", "account"),
)


async def insert_account(conn: AsyncConnection, row: dict[str, Any]) -> bool:
    """Insert an account; False if the name is taken."""
    q = insert(accounts).values(**row).on_conflict_do_nothing().returning(accounts.c.name)
    return (await conn.execute(q)).first() is not None


async def account(conn: AsyncConnection, name: str, *, lock: bool = False) -> dict[str, Any] | None:
    q = select(accounts).where(accounts.c.name == name)
    if lock:
        q = q.with_for_update()
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row is not None else None


async def all_accounts(conn: AsyncConnection) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(select(accounts).order_by(accounts.c.name))).mappings()]


async def set_account(conn: AsyncConnection, name: str, **values: Any) -> bool:
    q = update(accounts).where(accounts.c.name == name).values(**values).returning(accounts.c.name)
    return (await conn.execute(q)).first() is not None


async def add_session(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(web_sessions).values(**row))


async def session(conn: AsyncConnection, token_sha256: str, now: datetime) -> dict[str, Any] | None:
    """The live session and its account's row (None if expired, unknown, or the account disabled)."""
    q = (
        select(web_sessions.c.csrf, web_sessions.c.expires_at, accounts)
        .join(accounts, accounts.c.name == web_sessions.c.account)
        .where(
            web_sessions.c.token_sha256 == token_sha256,
            web_sessions.c.expires_at > now,
            accounts.c.disabled.is_(False),
        )
    )
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row is not None else None


async def end_sessions(conn: AsyncConnection, *, token_sha256: str | None = None, account: str | None = None) -> None:
    """End one session (by token) or every session of an account; expired ones go too."""
    q = delete(web_sessions)
    if token_sha256 is not None:
        q = q.where(web_sessions.c.token_sha256 == token_sha256)
    if account is not None:
        q = q.where(web_sessions.c.account == account)
    await conn.execute(q)


async def add_ics_token(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(insert(ics_tokens).values(**row))


async def ics_account(conn: AsyncConnection, token_sha256: str) -> dict[str, Any] | None:
    """The account a live feed token belongs to (None: unknown, revoked, or the account disabled)."""
    q = (
        select(accounts)
        .join(ics_tokens, ics_tokens.c.account == accounts.c.name)
        .where(
            ics_tokens.c.token_sha256 == token_sha256,
            ics_tokens.c.revoked_at.is_(None),
            accounts.c.disabled.is_(False),
        )
    )
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row is not None else None


async def revoke_ics_tokens(conn: AsyncConnection, account: str, now: datetime) -> int:
    q = (
        update(ics_tokens)
        .where(ics_tokens.c.account == account, ics_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ics_tokens.c.token_sha256)
    )
    return len((await conn.execute(q)).all())


async def add_sign_in_link(conn: AsyncConnection, row: dict[str, Any]) -> None:
    """A new link for the account; its earlier unused ones stop working (the newest e-mail wins)."""
    await conn.execute(
        update(sign_in_links)
        .where(sign_in_links.c.account == row["account"], sign_in_links.c.used_at.is_(None))
        .values(used_at=row["created_at"])
    )
    await conn.execute(insert(sign_in_links).values(**row))


async def sign_in_link(conn: AsyncConnection, token_sha256: str, *, lock: bool = False) -> dict[str, Any] | None:
    """A link and its account's row, whatever their state (the caller says why one is refused)."""
    q = (
        select(sign_in_links.c.expires_at, sign_in_links.c.used_at, accounts)
        .join(accounts, accounts.c.name == sign_in_links.c.account)
        .where(sign_in_links.c.token_sha256 == token_sha256)
    )
    if lock:
        q = q.with_for_update(of=sign_in_links)
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row is not None else None


async def use_sign_in_link(conn: AsyncConnection, token_sha256: str, now: datetime) -> bool:
    """Spend a link: True once (unused and unexpired), False ever after."""
    q = (
        update(sign_in_links)
        .where(
            sign_in_links.c.token_sha256 == token_sha256,
            sign_in_links.c.used_at.is_(None),
            sign_in_links.c.expires_at > now,
        )
        .values(used_at=now)
        .returning(sign_in_links.c.token_sha256)
    )
    return (await conn.execute(q)).first() is not None
