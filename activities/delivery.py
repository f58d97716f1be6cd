"""Delivery channels: e-mail (SMTP), webhooks (signed HTTP POST) and group robots (企业微信, 钉钉,
飞书), through an outbox and a ledger.

An action's in-app inbox row is written by `CampaignActivities.deliver` at once; in the same
transaction `Outbox.push` puts its e-mail, webhook and robot pushes in the ledger (`deliveries`), held
to the next working morning by quiet hours. The `dispatch` activity (`activities.sending`) sends
what is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import and_, delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.config import Settings
from activities.source_files import read_source, referenced
from activities.store import deliveries as ledger
from activities.store.tables import campaigns, inbox
from models.calendar import CalendarData
from models.contacts import ContactBook
from models.delivery import (
    Attachment,
    DeliveryChannel,
    OutgoingMessage,
    QuietHours,
    chosen_by_rule,
    delivery_id,
    ledger_key,
)
from rules.calendar import WorkCalendar
from rules.contacts import directory_reference, parse_contacts
from rules.loading import SourceError, parse_directory
from rules.quiet import release_time
from rules.robots import RobotNote, page_link
from rules.robots import payload as robot_payload

log = structlog.get_logger()


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
    due: date | None = None
    """The deadline the message is about (the obligation's due date, a notice's reply-by date)."""


def _inbox_row(item: InboxItem) -> dict[str, object]:
    return {
        "idempotency_key": item.key,
        "campaign_id": item.campaign_id,
        "recipient": item.recipient,
        "kind": item.kind,
        "obligation_id": item.obligation_id,
        "rule_id": item.rule_id,
        "level": item.level,
        "title": item.title,
        "body": item.body,
        "plan_time": item.plan_time,
        "server_time": item.server_time,
    }


async def write_inbox(conn: AsyncConnection, item: InboxItem) -> bool:
    """The item's in-app inbox row, once (its key is unique); whether it is new. Every action,
    notice, order and alert reaches a person through here; pushes follow with `Outbox.push`."""
    return bool(await write_inboxes(conn, [item]))


async def write_inboxes(conn: AsyncConnection, items: Sequence[InboxItem]) -> set[str]:
    """Several items' inbox rows in one statement (one round trip), each once: the keys of those
    that are new. A key already there (a retried batch) is left alone by its unique constraint;
    a key armed ahead (`arm_inboxes`) and not yet confirmed is confirmed now, and counts as new:
    its delivery is this one."""
    if not items:
        return set()
    # The rows as parameters of one cached statement (SQLAlchemy's "insertmanyvalues": still one
    # round trip per 1,000 rows), not a VALUES list compiled afresh per batch: compiling it
    # was ~8 % of the worker's CPU in a timer storm (BENCHMARKS.md).
    stmt = insert(inbox).on_conflict_do_nothing().returning(inbox.c.idempotency_key)
    new = set((await conn.execute(stmt, [_inbox_row(i) for i in items])).scalars())
    there = [i for i in items if i.key not in new]
    if there:  # a retry, or rows armed ahead: only the armed are confirmed (one more round trip)
        new |= await _confirm(conn, there)
    return new


_CONFIRM = text(
    "UPDATE inbox AS i SET confirmed_at = now(), title = v.title, body = v.body, level = v.level"
    " FROM unnest(CAST(:keys AS text[]), CAST(:titles AS text[]), CAST(:bodies AS text[]),"
    " CAST(:levels AS int[])) AS v(key, title, body, level)"
    " WHERE i.idempotency_key = v.key AND i.visible_from IS NOT NULL AND i.confirmed_at IS NULL"
    " RETURNING i.idempotency_key"
)


async def _confirm(conn: AsyncConnection, items: Sequence[InboxItem]) -> set[str]:
    """Armed rows among these keys confirmed, with the text decided at the instant (the same as
    armed unless an Update came in too late to re-arm): the keys confirmed."""
    params = {
        "keys": [i.key for i in items],
        "titles": [i.title for i in items],
        "bodies": [i.body for i in items],
        "levels": [i.level for i in items],
    }
    return set((await conn.execute(_CONFIRM, params)).scalars())


async def arm_inboxes(conn: AsyncConnection, items: Sequence[InboxItem], disarm: Sequence[str] = ()) -> None:
    """Rows written ahead, to show from their instant (`server_time`) until the delivery at the
    instant confirms them; `disarm`: armed rows no longer due, removed unless confirmed. An armed
    key again replaces its text (the unit's state changed before the instant); a key delivered
    already is left alone. Each key once: its unique constraint."""
    armed_only = (inbox.c.visible_from.is_not(None), inbox.c.confirmed_at.is_(None))
    if disarm:
        await conn.execute(delete(inbox).where(inbox.c.idempotency_key.in_(disarm), *armed_only))
    if not items:
        return
    stmt = insert(inbox)
    stmt = stmt.on_conflict_do_update(
        index_elements=[inbox.c.idempotency_key],
        set_={"title": stmt.excluded.title, "body": stmt.excluded.body, "level": stmt.excluded.level},
        where=and_(*armed_only),
    )
    await conn.execute(stmt, [{**_inbox_row(i), "visible_from": i.server_time} for i in items])


class Outbox:
    """Turns inbox rows into ledger rows for the recipient's e-mail, webhook and group robots,
    quiet hours applied. Robot messages link to pages under `web_base_url`."""

    def __init__(
        self, contacts: ContactBook, quiet: QuietHours | None = None, *, web_base_url: str = "http://127.0.0.1:8640"
    ) -> None:
        self.contacts = contacts
        self.quiet = quiet or QuietHours()
        self.web_base_url = web_base_url
        self.calendars = CampaignCalendars()

    @classmethod
    def from_settings(cls, settings: Settings) -> Outbox | None:
        """The configured outbox, or None when there is no contacts file (inbox only)."""
        if not settings.contacts_file.is_file():
            return None
        return cls(load_contacts(settings.contacts_file), settings.quiet_hours(), web_base_url=settings.web_base_url)

    async def messages(
        self, conn: AsyncConnection, item: InboxItem, attachments: Sequence[Attachment] = ()
    ) -> list[OutgoingMessage]:
        contact = self.contacts.for_unit(item.recipient)
        channels = contact.push_channels() if contact else ()
        if item.channels is not None:
            channels = tuple(c for c in channels if chosen_by_rule(c, item.channels))
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
            elif (robot := contact.robot(ch)) is not None:
                note = RobotNote(
                    title=item.title,
                    text=item.body,
                    obligation_id=item.obligation_id,
                    due=item.due,
                    link=page_link(self.web_base_url, item.campaign_id, item.obligation_id, item.recipient),
                    ref=delivery_id(key),
                )
                out.append(
                    OutgoingMessage(
                        **common, address=str(robot.url), secret_env=robot.secret_env, payload=robot_payload(ch, note)
                    )
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
