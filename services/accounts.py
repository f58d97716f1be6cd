"""Accounts and sign-in: `duban users add|list|disable|reset`, the web's sign-in, sessions that
expire, lockout after repeated failures, and the revocable tokens of calendar feeds.

Passwords are hashed with argon2 (argon2-cffi, in a thread: it is meant to be slow). Session and
feed tokens are random, shown once, and stored as their SHA-256, so a copy of the database signs
no one in. Only the office manages accounts; the command line's operator acts as the office.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.config import Settings
from activities.mail import check_email, smtp_send
from activities.posting import SendError
from activities.store import accounts as store
from activities.store import views
from models.board import AccountView, parse_role
from models.time import CST
from services.actors import Actor
from services.context import Services
from services.errors import Conflict, Forbidden, Invalid, NotFound

MIN_PASSWORD = 8
_hasher = PasswordHasher()


@functools.cache
def _dummy() -> str:
    """Verified against when the name is unknown, so a wrong name costs what a wrong password
    does. Made on first use: hashing costs ~0.1 s, which every CLI command paid at import."""
    return _hasher.hash("duban-no-such-account")


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
        return _hasher.verify(hashed or _dummy(), password) and hashed is not None
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
            return await _new_session(conn, s, row, now)
    # Raised outside the block, so the failure count above is committed.
    raise return_error


async def _new_session(conn: AsyncConnection, s: Settings, row: Mapping[str, Any], now: datetime) -> SignedIn:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now + timedelta(minutes=s.web_session_minutes)
    session = {"token_sha256": _digest(token), "account": row["name"], "csrf": csrf}
    await store.add_session(conn, {**session, "created_at": now, "expires_at": expires})
    return SignedIn(token=token, csrf=csrf, account=_view(row), expires_at=expires)


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


# -- one-time sign-in links (`duban users invite`) ------------------------------------------------

LINK_REFUSED = "此登录链接无效、已使用或已过期，请联系联席会议办公室重新发送邀请"


class Invited(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: AccountView
    email: str
    expires_at: datetime
    created: bool
    """A new account (else a re-invitation of an existing one)."""


def invite_url(s: Settings, token: str) -> str:
    return f"{s.web_base_url.rstrip('/')}/welcome/{token}"


def _invite_message(s: Settings, account: AccountView, to: str, token: str, expires: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = s.smtp_sender
    msg["To"] = to
    msg["Subject"] = "督办系统账户：设置密码并登录"
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain="duban")
    who = account.display_name or account.name
    msg.set_content(
        f"{who}：\n\n联席会议办公室为您开通了督办系统账户「{account.name}」（{account.role}）。\n"
        f"请在 {expires.astimezone(CST):%Y-%m-%d %H:%M}（北京时间）前打开以下链接，设置密码并登录。"
        f"链接只能使用一次，请勿转发：\n\n{invite_url(s, token)}\n\n"
        "如非本人申请，请忽略本邮件。\n—— 督办系统（duban）自动发送",
        cte="base64",
    )
    return msg


async def invite(
    ctx: Services, *, actor: Actor, name: str, email: str, role: str | None = None, display_name: str = ""
) -> Invited:
    """Make the account (no password yet) or re-invite an existing one, and e-mail a one-time
    sign-in link: good once, for `web_invite_hours`; a newer invitation voids the older links.
    The link is stored as its SHA-256 only, and never shown to the office: only the mailbox has it.
    Sent before the transaction commits, so a refused or unreachable mail server leaves nothing."""
    _office(actor)
    s = ctx.settings
    email = email.strip()
    try:
        check_email(email)
    except SendError as e:
        raise Invalid(str(e)) from None
    if role is not None:
        try:
            parse_role(role)
        except ValueError as e:
            raise Invalid(str(e)) from None
    now = _now()
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=s.web_invite_hours)
    async with ctx.writing() as conn:
        row = await store.account(conn, _name(name), lock=True)
        created = row is None
        if row is None:
            if role is None:
                raise Invalid(f"no account {name!r} yet: say its --role to make it")
            new = {"name": _name(name), "display_name": display_name.strip()[:200], "role": role.strip()}
            await store.insert_account(conn, {**new, "password_hash": None, "created_by": actor.account})
            row = await store.account(conn, new["name"]) or new
        elif role is not None and role.strip() != row["role"]:
            raise Conflict(f"account {row['name']!r} is {row['role']}, not {role.strip()}: roles are not changed here")
        elif row["disabled"]:
            raise Conflict(f"account {row['name']!r} is disabled: `duban users reset` enables it")
        account = _view(row)
        link = {"account": account.name, "email": email, "created_by": actor.account, "created_at": now}
        await store.add_sign_in_link(conn, {**link, "token_sha256": _digest(token), "expires_at": expires})
        try:
            await asyncio.to_thread(smtp_send, s, _invite_message(s, account, email, token, expires), email)
        except SendError as e:
            raise Conflict(f"the invitation was not sent, nothing was changed: {e}") from None
    return Invited(account=account, email=email, expires_at=expires, created=created)


async def _link(conn: AsyncConnection, token: str, now: datetime, *, lock: bool = False) -> dict[str, Any]:
    row = await store.sign_in_link(conn, _digest(token), lock=lock) if token and len(token) <= 200 else None
    if row is None or row["used_at"] is not None or row["expires_at"] <= now or row["disabled"]:
        raise Forbidden(LINK_REFUSED)
    return row


async def invited(ctx: Services, *, token: str) -> AccountView:
    """Whose a sign-in link is, without spending it (a mail scanner opening the link spends nothing)."""
    async with ctx.reading() as conn:
        return _view(await _link(conn, token, _now()))


async def accept_invite(ctx: Services, *, token: str, password: str) -> SignedIn:
    """Spend a sign-in link: the account's new password set (its lockout lifted, its other
    sessions ended) and a session started; Forbidden for a link used, voided or expired."""
    hashed = await asyncio.to_thread(_hasher.hash, _password(password))
    now = _now()
    async with ctx.writing() as conn:
        row = await _link(conn, token, now, lock=True)
        if not await store.use_sign_in_link(conn, _digest(token), now):
            raise Forbidden(LINK_REFUSED)
        await store.set_account(conn, row["name"], password_hash=hashed, failed_attempts=0, locked_until=None)
        await store.end_sessions(conn, account=row["name"])
        return await _new_session(conn, ctx.settings, row, now)
