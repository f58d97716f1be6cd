"""Delivery channels and the delivery ledger: quiet hours, outgoing messages, the dispatch payloads.

The in-app inbox is written with the action itself; e-mail and webhook pushes go through a
ledger (`deliveries`) and are sent by the `dispatch` activity; so do the group robots (企业微信,
钉钉, 飞书). Pure pydantic, like every model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DeliveryChannel(StrEnum):
    inbox = "inbox"  # written at once, in the same transaction as the action (table `inbox`)
    email = "email"  # SMTP, with attachments
    webhook = "webhook"  # HTTP POST of JSON, HMAC-signed (e.g. a government IM bot)
    # Group robots in the IM the county offices work in (rules/robots.py has their formats):
    wecom = "wecom"  # 企业微信 group robot: markdown, its key (in the URL) from the environment
    dingtalk = "dingtalk"  # 钉钉 custom robot: markdown, the URL signed (timestamp + sign)
    feishu = "feishu"  # 飞书 custom bot: text, timestamp + sign in the body


ROBOT_CHANNELS = (DeliveryChannel.wecom, DeliveryChannel.dingtalk, DeliveryChannel.feishu)
"""The group-robot channels: one JSON POST each, in the robot's own format."""

PUSH_CHANNELS = (DeliveryChannel.email, DeliveryChannel.webhook, *ROBOT_CHANNELS)
"""The channels that reach people outside the application, and so keep quiet hours."""


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for not_before, or for a retry after a transient failure
    sending = "sending"  # claimed by a dispatch attempt that has not recorded its outcome yet
    sent = "sent"
    failed = "failed"  # a permanent error, or transient ones past the attempt limit
    uncertain = "uncertain"  # claimed, and the claimer stopped before recording: maybe sent, never re-sent


class AttemptOutcome(StrEnum):
    sent = "sent"
    retry = "retry"  # a transient error; the row is pending again with a later not_before
    failed = "failed"
    uncertain = "uncertain"


class QuietHours(BaseModel):
    """When pushes to people may go out: working days (China's official calendar) from `start`
    to `end`, plan time. Outside it they wait for the next working morning."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time = time(8, 30)
    end: time = time(18, 0)

    @model_validator(mode="after")
    def _ordered(self) -> QuietHours:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are plan wall-clock times, without a time zone")
        if not self.start < self.end:
            raise ValueError(f"the sending window must start before it ends ({self.start}–{self.end})")
        return self


def chosen_by_rule(channel: DeliveryChannel, named: Iterable[DeliveryChannel]) -> bool:
    """Whether a rule naming `named` channels pushes on `channel`. A rule's `webhook` means the
    unit's IM group however it is reached: the generic signed webhook or any group robot; which
    of them a unit has is the contacts file's business, not the rule set's."""
    named = set(named)
    return channel in named or (channel in ROBOT_CHANNELS and DeliveryChannel.webhook in named)


def ledger_key(inbox_key: str, channel: DeliveryChannel) -> str:
    """The idempotency key of an inbox row's push on a channel."""
    return f"{inbox_key}#{channel.value}"


def ledger_keys(inbox_keys: Iterable[str]) -> list[str]:
    """Every push key the given inbox rows may have queued (for `DispatchRequest.keys`: a
    workflow knows its actions' keys, not which channels each recipient has)."""
    return [ledger_key(k, ch) for k in inbox_keys for ch in PUSH_CHANNELS]


def delivery_id(key: str) -> str:
    """The message id a receiver can deduplicate on: the same for every attempt of a ledger row
    (SMTP `Message-ID: <ID@duban>`, webhook header `X-Duban-Delivery: ID`)."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class Attachment(BaseModel):
    """A file sent with an e-mail (a 督办通知 as DOCX, a bulletin as PDF)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    filename: str = Field(min_length=1, max_length=200)
    content: bytes
    content_type: str | None = None
    """MIME type; guessed from the file name when not given."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


class OutgoingMessage(BaseModel):
    """One ledger row to be: an action's push on one channel to one address."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(max_length=320)
    """Idempotency key: the inbox row's key + '#' + channel. Unique in `deliveries`."""
    campaign_id: str
    recipient: str
    """The unit id."""
    channel: DeliveryChannel
    address: str
    """E-mail address, webhook or robot URL, as the contacts file had it when the action fired."""
    secret_env: str | None = None
    """Webhooks and robots: the environment variable holding the secret (never the secret)."""
    subject: str
    body: str
    payload: dict[str, Any] = Field(default_factory=dict)
    """Webhooks: the JSON posted; robots: the JSON posted before signing; e-mail: what the
    message is about (kind, obligation, rule)."""
    attachments: tuple[Attachment, ...] = ()
    plan_time: datetime
    server_time: datetime
    not_before: datetime
    """Server time from which it may be sent (quiet hours applied)."""


# -- the dispatch activity ------------------------------------------------------------------------


class DispatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: str
    keys: list[str] | None = None
    """Only these ledger rows (idempotency keys); all of the campaign's when None."""
    as_of: datetime | None = None
    """Server time to compare not_before with: the workflow's `workflow.now()`. The activity's
    own clock when None."""


class DispatchResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sent: int = 0
    retrying: int = 0
    """Transient failures in this call: pending again, with a later not_before."""
    failed: int = 0
    """Rows that became `failed` in this call."""
    uncertain: int = 0
    """Rows found claimed by an attempt that never recorded its outcome, now `uncertain`."""
    failed_by_channel: dict[str, int] = Field(default_factory=dict)
    pending: int = 0
    """Rows still pending in scope after this call."""
    next_not_before: datetime | None = None
    """The earliest not_before still pending in scope (server time): when to call again."""
    more: bool = False
    """Due rows were left for the next call (this one ran out of its time budget)."""
