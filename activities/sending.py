"""The `dispatch` activity: the ledger's due pushes sent by e-mail (SMTP), webhook (signed HTTP
POST) and group robot (企业微信, 钉钉, 飞书: `activities.robots`).

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
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.config import Settings, get_settings
from activities.delivery import CampaignCalendars, UnknownCampaign
from activities.mail import check_email, smtp_send
from activities.posting import DELIVERY_HEADER, SendError, http_url, post
from activities.robots import send_robot
from activities.store import deliveries as ledger
from activities.store.deliveries import Claimed
from models.delivery import (
    ROBOT_CHANNELS,
    AttemptOutcome,
    DeliveryChannel,
    DispatchRequest,
    DispatchResult,
    delivery_id,
)
from models.payloads import Act
from rules.calendar import WorkCalendar
from rules.quiet import release_time

log = structlog.get_logger()

SIGNATURE_HEADER = "X-Duban-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Duban-Signature` value: HMAC-SHA256 over "<timestamp>.<body>"."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes posted (and signed): canonical JSON, UTF-8, the same on every attempt."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


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
            elif c.channel in ROBOT_CHANNELS:
                await send_robot(c, http)
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
        check_email(c.address)
        msg = email_message(c, self.settings.smtp_sender)
        # smtplib blocks: run it in a thread so the worker's event loop keeps serving.
        await asyncio.to_thread(smtp_send, self.settings, msg, c.address)

    # -- webhook ----------------------------------------------------------------------------------

    async def _webhook(self, c: Claimed, http: httpx.AsyncClient) -> None:
        url = http_url(c.address, "webhook")
        # A receiver with its own secret names the variable that holds it; the others share the
        # service's DUBAN_WEBHOOK_SECRET (refused at start-up in production while it is the default).
        secret = os.environ.get(c.secret_env) if c.secret_env else self.settings.webhook_secret
        if not secret:
            raise SendError(f"the webhook secret is missing: set {c.secret_env} in the environment", permanent=True)
        body = webhook_body(c.payload)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "duban",
            DELIVERY_HEADER: delivery_id(c.key),
            SIGNATURE_HEADER: sign(secret, int(time.time()), body),
        }
        await post(http, url, body, headers, "webhook")
