"""Delivery channels: e-mail (SMTP) and webhooks (signed HTTP POST), through an outbox and a ledger.

An action's in-app inbox row is written by `CampaignActivities.deliver` at once; in the same
transaction `Outbox.push` puts its e-mail and webhook pushes in the ledger (`deliveries`), held
to the next working morning by quiet hours. The `dispatch` activity sends what is due.

Exactly once, or surfaced: each row is claimed (committed) before it is sent and its outcome
recorded after (`activities.store.deliveries` has the protocol). A row whose claimer died in
between is never re-sent automatically: it becomes `uncertain`, is counted in the result and
listed by `duban deliveries CAMPAIGN --status uncertain`. Every message carries an id derived
from its idempotency key (SMTP `Message-ID`, webhook `X-Duban-Delivery`), so receivers can drop
a duplicate too (a retry after a timeout whose request had in fact arrived).

Errors: permanent ones (SMTP 5xx, HTTP 4xx other than 408/429, a redirect, a missing secret,
a bad or placeholder address) fail the row at once; transient ones (connection refused,
timeouts, SMTP 4xx such as 421/451, HTTP 408/429/5xx) put it back to pending with exponential
backoff (quiet hours still apply), up to `delivery_max_attempts`, then fail it. A failed row
stays in the ledger with every attempt's error, and each dispatch result counts failures per
channel: a channel that stays down is surfaced, never dropped.

Webhook signature: `X-Duban-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
keyed with the unit's secret (the environment variable its contact names); see
docs/ARCHITECTURE.md, "Delivery".
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import os
import re
import smtplib
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.config import Settings, get_settings
from activities.source_files import read_source, referenced
from activities.store import deliveries as ledger
from activities.store.deliveries import Claimed
from activities.store.tables import campaigns, inbox
from models.calendar import CalendarData
from models.contacts import ContactBook
from models.delivery import (
    Attachment,
    AttemptOutcome,
    DeliveryChannel,
    DispatchRequest,
    DispatchResult,
    OutgoingMessage,
    QuietHours,
    delivery_id,
    ledger_key,
)
from models.payloads import Act
from rules.calendar import WorkCalendar
from rules.contacts import directory_reference, parse_contacts
from rules.loading import SourceError, parse_directory
from rules.quiet import release_time

log = structlog.get_logger()

SIGNATURE_HEADER = "X-Duban-Signature"
DELIVERY_HEADER = "X-Duban-Delivery"
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$")


# -- contacts and calendars ----------------------------------------------------------------------


def load_contacts(path: Path) -> ContactBook:
    """Read a contacts file and the unit directory it names (relative to it).

    Raises:
        SourceError: `FILE:LINE: message` for anything wrong in either file.
    """
    text = read_source(path)
    ref = directory_reference(text, path=str(path))
    if ref is None:
        raise SourceError(str(path), 1, "directory: must name the unit directory file (e.g. ../units/suixian.yaml)")
    # Contacts sit in plans/contacts/ and name ../units/…: confined to the folder above theirs.
    dpath = referenced(path, ref[0], line=ref[1], root=path.parent.parent)
    directory = parse_directory(read_source(dpath), path=str(dpath))
    return parse_contacts(text, path=str(path), directory=directory)


class UnknownCampaign(Exception):
    pass


class CampaignCalendars:
    """Each campaign's pinned working-day calendar, read once from its row (it never changes)."""

    def __init__(self) -> None:
        self._cache: dict[str, WorkCalendar] = {}

    async def get(self, conn: AsyncConnection, campaign_id: str) -> WorkCalendar:
        if campaign_id not in self._cache:
            data = await conn.scalar(select(campaigns.c.calendar).where(campaigns.c.id == campaign_id))
            if data is None:
                raise UnknownCampaign(f"no campaign {campaign_id!r}")
            self._cache[campaign_id] = WorkCalendar(CalendarData.model_validate(data))
        return self._cache[campaign_id]


# -- the outbox: what deliver writes ----------------------------------------------------------------


@dataclass(frozen=True)
class InboxItem:
    """An in-app inbox row just written, to be pushed to its recipient's other channels."""

    key: str
    campaign_id: str
    recipient: str
    kind: str
    title: str
    body: str
    plan_time: datetime
    server_time: datetime
    obligation_id: str | None = None
    rule_id: str | None = None
    level: int = 0
    channels: tuple[DeliveryChannel, ...] | None = None
    """The channels the rule named (None: every channel the contact has)."""
    quiet: QuietHours | None = None
    """The campaign rule set's quiet hours (None: the outbox's own)."""


async def write_inbox(conn: AsyncConnection, item: InboxItem) -> bool:
    """The item's in-app inbox row, once (its key is unique); whether it is new. Every action,
    notice, order and alert reaches a person through here; pushes follow with `Outbox.push`."""
    new = (
        await conn.execute(
            insert(inbox)
            .values(
                idempotency_key=item.key,
                campaign_id=item.campaign_id,
                recipient=item.recipient,
                kind=item.kind,
                obligation_id=item.obligation_id,
                rule_id=item.rule_id,
                level=item.level,
                title=item.title,
                body=item.body,
                plan_time=item.plan_time,
                server_time=item.server_time,
            )
            .on_conflict_do_nothing()
            .returning(inbox.c.id)
        )
    ).scalar()
    return new is not None


class Outbox:
    """Turns inbox rows into ledger rows for the recipient's e-mail and webhook, quiet hours applied."""

    def __init__(self, contacts: ContactBook, quiet: QuietHours | None = None) -> None:
        self.contacts = contacts
        self.quiet = quiet or QuietHours()
        self.calendars = CampaignCalendars()

    @classmethod
    def from_settings(cls, settings: Settings) -> Outbox | None:
        """The configured outbox, or None when there is no contacts file (inbox only)."""
        if not settings.contacts_file.is_file():
            return None
        return cls(load_contacts(settings.contacts_file), settings.quiet_hours())

    async def messages(
        self, conn: AsyncConnection, item: InboxItem, attachments: Sequence[Attachment] = ()
    ) -> list[OutgoingMessage]:
        contact = self.contacts.for_unit(item.recipient)
        channels = contact.push_channels() if contact else ()
        if item.channels is not None:
            channels = tuple(c for c in channels if c in item.channels)
        if not contact or not channels:
            return []
        calendar = await self.calendars.get(conn, item.campaign_id)
        release = release_time(item.plan_time, calendar, item.quiet or self.quiet)
        # Plan time runs at the server's pace (speed 1: a live campaign, or one rehearsed on a
        # fixed offset), so the hold in plan time is the hold in server time. A drill at speed N
        # holds pushes N times too long; drills should not push to people anyway.
        not_before = item.server_time + (release - item.plan_time)
        about = {"kind": item.kind, "obligation_id": item.obligation_id, "rule_id": item.rule_id, "level": item.level}
        out = []
        for ch in channels:
            key = ledger_key(item.key, ch)
            common: dict[str, Any] = {
                "key": key,
                "campaign_id": item.campaign_id,
                "recipient": item.recipient,
                "channel": ch,
                "subject": item.title,
                "body": item.body,
                "plan_time": item.plan_time,
                "server_time": item.server_time,
                "not_before": not_before,
            }
            if ch is DeliveryChannel.email:
                assert contact.email is not None
                out.append(
                    OutgoingMessage(**common, address=contact.email, payload=about, attachments=tuple(attachments))
                )
            else:
                assert contact.webhook is not None
                payload = {
                    "id": delivery_id(key),
                    "campaign_id": item.campaign_id,
                    "recipient": item.recipient,
                    **about,
                    "title": item.title,
                    "text": item.body,
                    "plan_time": item.plan_time.isoformat(),
                    "attachments": [
                        {"filename": a.filename, "sha256": a.sha256, "size": len(a.content)} for a in attachments
                    ],
                }
                out.append(
                    OutgoingMessage(
                        **common, address=str(contact.webhook), secret_env=contact.webhook_secret_env, payload=payload
                    )
                )
        return out

    async def push(self, conn: AsyncConnection, item: InboxItem, attachments: Sequence[Attachment] = ()) -> int:
        """Enqueue the item's pushes inside the caller's transaction; returns new ledger rows."""
        return await ledger.enqueue(conn, await self.messages(conn, item, attachments))


# -- sending --------------------------------------------------------------------------------------


class SendError(Exception):
    """A send that did not succeed: `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Duban-Signature` value: HMAC-SHA256 over "<timestamp>.<body>"."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes posted (and signed): canonical JSON, UTF-8, the same on every attempt."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _placeholder(host: str) -> bool:
    return host.lower().rstrip(".").endswith(".invalid")


def _check_email(address: str) -> None:
    m = _EMAIL.fullmatch(address)
    if not m:
        raise SendError(f"bad e-mail address {address!r}", permanent=True)
    if _placeholder(m[1]):
        raise SendError(
            f"placeholder address {address!r} (the reserved .invalid domain): fill in the contacts file",
            permanent=True,
        )


def _smtp_error(code: int, text: bytes | str, what: str) -> SendError:
    msg = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return SendError(f"SMTP {code} {what}: {msg}", permanent=500 <= code < 600)


def email_message(c: Claimed, sender: str) -> EmailMessage:
    did = delivery_id(c.key)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = c.address
    msg["Subject"] = c.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = f"<{did}@duban>"
    msg[DELIVERY_HEADER] = did
    msg.set_content(f"{c.body}\n\n—— 督办系统（duban）自动发送，编号 {did}", cte="base64")
    for a in c.attachments:
        maintype, _, subtype = ledger.content_type(a).partition("/")
        msg.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
    return msg


# -- the activity ---------------------------------------------------------------------------------

AfterSend = Callable[[Claimed], Awaitable[None] | None]


class DeliveryActivities:
    """The dispatch activity over one database, built by the worker (settings injected).

    `after_send`, when given, runs after a message went out and before its outcome is recorded:
    tests use it to kill an attempt at the worst moment.
    """

    def __init__(self, engine: AsyncEngine, settings: Settings | None = None, *, after_send: AfterSend | None = None):
        self.db = engine
        self.settings = settings or get_settings()
        self.quiet = self.settings.quiet_hours()
        self.after_send = after_send
        self.calendars = CampaignCalendars()

    @activity.defn(name=Act.dispatch)
    async def dispatch(self, req: DispatchRequest) -> DispatchResult:
        """Send the campaign's due pushes (optionally only `req.keys`); see the module docstring.

        One call takes at most `delivery_budget_seconds` to claim rows plus one send's timeout,
        so about 90 s with the defaults. How a workflow calls it: `workflows.common.DISPATCH_ACTIVITY`
        (start-to-close 3 min, retried with backoff for a day; a retry never re-sends a claimed
        row, it surfaces it as uncertain). Call it again at `next_not_before` while rows are
        pending, and at once when `more`.

        Raises:
            ApplicationError: type "InvalidInput", non-retryable, for an unknown campaign.
        """
        as_of = req.as_of or datetime.now(UTC)
        out = DispatchResult()
        # One connection for the whole call, closed at the end rather than pooled: the advisory
        # locks that mark this call's claims as alive belong to its session and go with it,
        # however the call ends. Sends run concurrently; their database work takes turns on it.
        async with self.db.connect() as conn:
            try:
                await self._dispatch(conn, req, as_of, out)
            finally:
                await conn.invalidate()
        if out.sent or out.failed or out.retrying or out.uncertain:
            log.info(
                "dispatched",
                campaign_id=req.campaign_id,
                sent=out.sent,
                retrying=out.retrying,
                failed=out.failed_by_channel,
                uncertain=out.uncertain,
                pending=out.pending,
            )
        return out

    async def _dispatch(
        self, conn: AsyncConnection, req: DispatchRequest, as_of: datetime, out: DispatchResult
    ) -> None:
        s = self.settings
        started = time.monotonic()
        try:
            async with conn.begin():
                calendar = await self.calendars.get(conn, req.campaign_id)
        except UnknownCampaign as e:
            raise ApplicationError(str(e), type="InvalidInput", non_retryable=True) from None
        async with conn.begin():
            out.uncertain = await ledger.sweep(conn, req.campaign_id, req.keys)
        turn = asyncio.Lock()
        done: list[int] = []
        async with httpx.AsyncClient(timeout=s.webhook_timeout_seconds, follow_redirects=False) as http:
            while True:
                if time.monotonic() - started > s.delivery_budget_seconds:
                    out.more = True
                    break
                async with conn.begin():
                    batch = await ledger.claim(
                        conn, req.campaign_id, req.keys, as_of=as_of, limit=s.delivery_concurrency, skip=done
                    )
                if not batch:
                    break
                done += [c.id for c in batch]
                try:
                    async with asyncio.TaskGroup() as tg:
                        tasks = [tg.create_task(self._one(c, conn, turn, http, calendar, as_of)) for c in batch]
                except ExceptionGroup as eg:
                    # The rows of this batch left in `sending` will be found uncertain: that is
                    # the point. Report the first cause, not the group.
                    raise eg.exceptions[0] from None
                for c, t in zip(batch, tasks, strict=True):
                    outcome = t.result()
                    if outcome is AttemptOutcome.sent:
                        out.sent += 1
                    elif outcome is AttemptOutcome.retry:
                        out.retrying += 1
                    else:
                        out.failed += 1
                        out.failed_by_channel[c.channel] = out.failed_by_channel.get(c.channel, 0) + 1
        async with conn.begin():
            out.pending, out.next_not_before = await ledger.pending_summary(conn, req.campaign_id, req.keys)

    async def _one(
        self,
        c: Claimed,
        conn: AsyncConnection,
        turn: asyncio.Lock,
        http: httpx.AsyncClient,
        calendar: WorkCalendar,
        as_of: datetime,
    ) -> AttemptOutcome:
        bound = log.bind(campaign_id=c.campaign_id, delivery=c.key, channel=c.channel, attempt=c.attempt)
        try:
            if c.channel == DeliveryChannel.email.value:
                await self._email(c)
            elif c.channel == DeliveryChannel.webhook.value:
                await self._webhook(c, http)
            else:
                raise SendError(f"unknown channel {c.channel!r}", permanent=True)
        except SendError as e:
            retry_at = None
            if e.permanent:
                outcome, error = AttemptOutcome.failed, str(e)
            elif c.attempt >= self.settings.delivery_max_attempts:
                outcome, error = AttemptOutcome.failed, f"{e} (gave up after {c.attempt} attempts)"
            else:
                outcome, error = AttemptOutcome.retry, str(e)
                retry_at = self._retry_at(c, calendar, as_of, e.retry_after)
            async with turn, conn.begin():
                await ledger.record(conn, c, outcome, error=error, retry_at=retry_at)
            (bound.warning if outcome is AttemptOutcome.retry else bound.error)(
                "delivery " + outcome.value, error=error, retry_at=retry_at.isoformat() if retry_at else None
            )
            return outcome
        if self.after_send is not None:
            result = self.after_send(c)
            if inspect.isawaitable(result):
                await result
        async with turn, conn.begin():
            await ledger.record(conn, c, AttemptOutcome.sent)
        bound.info("delivery sent")
        return AttemptOutcome.sent

    def _retry_at(self, c: Claimed, calendar: WorkCalendar, as_of: datetime, at_least: float | None) -> datetime:
        s = self.settings
        delay = min(s.delivery_backoff_seconds * 2 ** (c.attempt - 1), s.delivery_backoff_max_seconds)
        delay = max(delay, at_least or 0.0)
        offset = c.server_time - c.plan_time  # server time − plan time for this campaign
        plan = as_of + timedelta(seconds=delay) - offset
        return release_time(plan, calendar, self.quiet) + offset  # a retry keeps quiet hours too

    # -- e-mail -----------------------------------------------------------------------------------

    async def _email(self, c: Claimed) -> None:
        _check_email(c.address)
        msg = email_message(c, self.settings.smtp_sender)
        # smtplib blocks: run it in a thread so the worker's event loop keeps serving.
        await asyncio.to_thread(self._smtp_send, msg, c.address)

    def _smtp_send(self, msg: EmailMessage, to: str) -> None:
        s = self.settings
        try:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        except (OSError, smtplib.SMTPException) as e:
            raise SendError(f"SMTP {s.smtp_host}:{s.smtp_port} unreachable: {e!r}", permanent=False) from None
        try:
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value() if s.smtp_password else "")
            smtp.send_message(msg, from_addr=s.smtp_sender, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients.get(to, (550, b"refused"))
            raise _smtp_error(code, text, f"refused {to}") from None
        except smtplib.SMTPResponseException as e:
            raise _smtp_error(e.smtp_code, e.smtp_error, "error") from None
        except smtplib.SMTPNotSupportedError as e:
            raise SendError(f"SMTP server does not support what is configured: {e}", permanent=True) from None
        except (smtplib.SMTPServerDisconnected, OSError) as e:
            raise SendError(f"SMTP connection lost: {e!r}", permanent=False) from None
        except (smtplib.SMTPException, ValueError) as e:
            raise SendError(f"SMTP: {e!r}", permanent=True) from None
        finally:
            try:
                smtp.quit()  # the message is accepted already; a failing QUIT changes nothing
            except (OSError, smtplib.SMTPException):
                smtp.close()

    # -- webhook ----------------------------------------------------------------------------------

    async def _webhook(self, c: Claimed, http: httpx.AsyncClient) -> None:
        try:
            url = httpx.URL(c.address)
        except httpx.InvalidURL as e:
            raise SendError(f"bad webhook URL {c.address!r}: {e}", permanent=True) from None
        if url.scheme not in ("http", "https") or not url.host:
            raise SendError(f"bad webhook URL {c.address!r}: not http(s)", permanent=True)
        if _placeholder(url.host):
            raise SendError(
                f"placeholder webhook {c.address!r} (the reserved .invalid domain): fill in the contacts file",
                permanent=True,
            )
        secret = os.environ.get(c.secret_env or "")
        if not c.secret_env or not secret:
            raise SendError(
                f"the webhook secret is missing: set the environment variable {c.secret_env or '(none named)'}",
                permanent=True,
            )
        body = webhook_body(c.payload)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "duban",
            DELIVERY_HEADER: delivery_id(c.key),
            SIGNATURE_HEADER: sign(secret, int(time.time()), body),
        }
        try:
            r = await http.post(url, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise SendError(f"webhook unreachable: {e!r}", permanent=False) from None
        except httpx.TimeoutException as e:
            # The request may have arrived: a retry carries the same X-Duban-Delivery to dedup on.
            raise SendError(f"webhook timed out: {e!r}", permanent=False) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
            raise SendError(f"bad webhook URL {c.address!r}: {e}", permanent=True) from None
        except httpx.TransportError as e:
            raise SendError(f"webhook transport error: {e!r}", permanent=False) from None
        if r.is_success:
            return
        detail = f"HTTP {r.status_code} {r.reason_phrase}: {r.text[:300]}".rstrip(": ")
        if r.status_code in (408, 429) or r.status_code >= 500:
            raise SendError(detail, permanent=False, retry_after=_retry_after(r))
        raise SendError(detail, permanent=True)


def _retry_after(r: httpx.Response) -> float | None:
    value = r.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None
