"""Accounts and sign-in: `duban users add|list|disable|reset`, the web's sign-in, sessions that
expire, lockout after repeated failures, and the revocable tokens of calendar feeds.

Passwords are hashed with argon2 (argon2-cffi, in a thread: it is meant to be slow). Session and
feed tokens are random, shown once, and stored as their SHA-256, so a copy of the database signs
no one in. Only the office manages accounts; the command line's operator acts as the office.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict

from activities.store import accounts as store
from activities.store import views
from models.board import AccountView, parse_role
from services.actors import Actor
from services.context import Services
from services.errors import Conflict, Forbidden, Invalid, NotFound

MIN_PASSWORD = 8
_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs what a wrong password does.
_DUMMY = _hasher.hash("duban-no-such-account")
SIGN_IN_REFUSED = "用户名或密码错误"


class SignedIn(BaseModel):
    model_config = ConfigDict(frozen=True)

    token: str
    """For the cookie; never stored."""
    csrf: str
    account: AccountView
    expires_at: datetime


class WebSession(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: AccountView
    csrf: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _view(row: Mapping[str, Any]) -> AccountView:
    return AccountView.model_validate(row)


def _office(actor: Actor) -> None:
    if actor.role != "office":
        raise Forbidden("only the office manages accounts")


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable() or " " in name or name.startswith("cli:"):
        raise Invalid(f"{name!r} is not an account name: 1–100 printable characters, no spaces, not cli:…")
    return name


def _password(password: str) -> str:
    if len(password) < MIN_PASSWORD or len(password) > 1000:
        raise Invalid(f"a password needs {MIN_PASSWORD} to 1000 characters")
    return password


async def add(
    ctx: Services, *, actor: Actor, name: str, role: str, password: str, display_name: str = ""
) -> AccountView:
    """A new account with its role (office | agency:<unit> | auditor | convener)."""
    _office(actor)
    try:
        parse_role(role)
    except ValueError as e:
        raise Invalid(str(e)) from None
    row = {
        "name": _name(name),
        "display_name": display_name.strip()[:200],
        "role": role.strip(),
        "password_hash": await asyncio.to_thread(_hasher.hash, _password(password)),
        "created_by": actor.account,
    }
    async with ctx.writing() as conn:
        if not await store.insert_account(conn, row):
            raise Conflict(f"an account {row['name']!r} already exists")
        return _view(await store.account(conn, row["name"]) or row)


async def list_accounts(ctx: Services, *, actor: Actor) -> list[AccountView]:
    _office(actor)
    return [_view(r) for r in await ctx.read(store.all_accounts)]


async def disable(ctx: Services, *, actor: Actor, name: str) -> AccountView:
    """Disabled: its sessions end and its calendar feeds stop at once."""
    _office(actor)
    async with ctx.writing() as conn:
        if not await store.set_account(conn, name, disabled=True):
            raise NotFound(f"no account {name!r}")
        await store.end_sessions(conn, account=name)
        await store.revoke_ics_tokens(conn, name, _now())
        return _view(await store.account(conn, name) or {})


async def reset(ctx: Services, *, actor: Actor, name: str, password: str) -> AccountView:
    """A new password: the lockout lifted, the account enabled again, its sessions ended."""
    _office(actor)
    hashed = await asyncio.to_thread(_hasher.hash, _password(password))
    async with ctx.writing() as conn:
        values = {"password_hash": hashed, "failed_attempts": 0, "locked_until": None, "disabled": False}
        if not await store.set_account(conn, name, **values):
            raise NotFound(f"no account {name!r}")
        await store.end_sessions(conn, account=name)
        return _view(await store.account(conn, name) or {})


def _verify(hashed: str | None, password: str) -> bool:
    try:
        return _hasher.verify(hashed or _DUMMY, password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


async def sign_in(ctx: Services, *, name: str, password: str) -> SignedIn:
    """A new session, or Forbidden: the same words for a wrong name or password; a lockout
    (after `web_lockout_attempts` failures in a row) and a disabled account say so."""
    s = ctx.settings
    now = _now()
    async with ctx.writing() as conn:
        row = await store.account(conn, name.strip()[:100], lock=True)
        ok = await asyncio.to_thread(_verify, row["password_hash"] if row else None, password)
        if row is None:
            raise Forbidden(SIGN_IN_REFUSED)
        if row["locked_until"] is not None and row["locked_until"] > now:
            raise Forbidden(f"尝试次数过多，账户已锁定，请于 {row['locked_until']:%H:%M} (UTC) 后再试")
        if row["disabled"]:
            raise Forbidden("账户已停用，请联系联席会议办公室")
        if not ok:
            failed = row["failed_attempts"] + 1
            locked = now + timedelta(minutes=s.web_lockout_minutes) if failed >= s.web_lockout_attempts else None
            await store.set_account(
                conn, row["name"], failed_attempts=0 if locked else failed, locked_until=locked or row["locked_until"]
            )
            return_error = Forbidden(SIGN_IN_REFUSED)
        else:
            await store.set_account(conn, row["name"], failed_attempts=0, locked_until=None)
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            expires = now + timedelta(minutes=s.web_session_minutes)
            await store.add_session(
                conn,
                {
                    "token_sha256": _digest(token),
                    "account": row["name"],
                    "csrf": csrf,
                    "created_at": now,
                    "expires_at": expires,
                },
            )
            return SignedIn(token=token, csrf=csrf, account=_view(row), expires_at=expires)
    # Raised outside the block, so the failure count above is committed.
    raise return_error


async def session(ctx: Services, *, token: str) -> WebSession | None:
    """The live session a cookie names (None: unknown, expired, or its account disabled)."""
    if not token or len(token) > 200:
        return None
    row = await ctx.read(store.session, _digest(token), _now())
    if row is None:
        return None
    csrf, expires = row.pop("csrf"), row.pop("expires_at")
    return WebSession(account=_view(row), csrf=csrf, expires_at=expires)


async def sign_out(ctx: Services, *, token: str) -> None:
    async with ctx.writing() as conn:
        await store.end_sessions(conn, token_sha256=_digest(token))


async def new_feed_token(ctx: Services, *, account: AccountView) -> str:
    """A calendar-feed token for the account (shown once; any earlier one stays until revoked)."""
    token = secrets.token_urlsafe(32)
    async with ctx.writing() as conn:
        await store.add_ics_token(conn, {"token_sha256": _digest(token), "account": account.name, "created_at": _now()})
    return token


async def revoke_feed_tokens(ctx: Services, *, account: AccountView) -> int:
    async with ctx.writing() as conn:
        return await store.revoke_ics_tokens(conn, account.name, _now())


async def feed_owner(ctx: Services, *, token: str) -> AccountView | None:
    if not token or len(token) > 200:
        return None
    row = await ctx.read(store.ics_account, _digest(token))
    return _view(row) if row is not None else None


async def actor_of(ctx: Services, *, account: AccountView, campaign: str | None) -> Actor:
    """The actor a signed-in account is in a campaign: the office acts as the campaign's office
    unit; an agency as its unit; an auditor or convener for no unit. Recorded as `web:<name>`."""
    kind, unit = parse_role(account.role)
    if kind == "office" and campaign is not None:
        head = await ctx.read(views.campaign_head, campaign)
        unit = head.office if head is not None else None
    return Actor(account=f"web:{account.name}", unit=unit, role=kind)


async def first_office(ctx: Services, *, actor: Actor) -> tuple[str, str] | None:
    """On a system with no accounts yet, an office account `office` with a random password:
    (name, password), shown once by `duban up`; None when any account exists."""
    _office(actor)
    if await ctx.read(store.all_accounts):
        return None
    password = secrets.token_urlsafe(12)
    await add(ctx, actor=actor, name="office", role="office", password=password, display_name="联席会议办公室")
    return "office", password
