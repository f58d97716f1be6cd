"""What the campaign's activities share: the rows an action writes, the counts a summary reports,
the keys of the chain's rule and plan changes, and the base every activity class builds on (its
engine, its outbox, the paperwork)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import paperwork
from activities.delivery import InboxItem, Outbox
from activities.documents import RenderedSet
from activities.gathering import Gathering
from activities.store.tables import (
    INBOX_DELIVERED,
    assessment_scores,
    assessments,
    audit_events,
    bulletins,
    inbox,
    obligations,
    rectification_orders,
    supervision_notices,
)
from models.delivery import Attachment
from models.obligation import ObligationState
from models.payloads import RecordAmendment, RecordRules
from models.plan import UnitKind
from models.ruleset import ActionKind

LOCAL_KINDS = [k.value for k in UnitKind if k.is_local]

INBOX_KIND = {
    ActionKind.remind: "reminder",
    ActionKind.escalate: "escalation",
    ActionKind.notice: "notice",
    ActionKind.rectify: "rectification",
    ActionKind.bulletin: "listing",
}
"""The inbox row an action writes."""
AUDIT_KIND = {**INBOX_KIND, ActionKind.rectify: "rectification_order", ActionKind.bulletin: "listed"}
"""The audit row it writes: a rule's rectification order reads like the monthly cycle's."""
LISTED_KIND = {ActionKind.notice: "notice_item", ActionKind.rectify: "rectification_item"}
"""The audit row of an action whose paper is its unit's (papers per unit: `rules.rounds`): the
paper has the `notice` or `rectification_order` row, one per paper, as before."""


# What a campaign's summary counts, in the order it is shown: the table and the rows it counts.
_COUNTED: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "obligations": (obligations, ()),
    "completed": (obligations, (obligations.c.state == ObligationState.completed.value,)),
    # A reminder armed ahead counts once its instant's delivery confirmed it (what the chain has).
    "reminders": (inbox, (inbox.c.kind == "reminder", INBOX_DELIVERED)),
    "escalations": (inbox, (inbox.c.kind == "escalation",)),
    "notices": (supervision_notices, ()),
    "rectification_orders": (rectification_orders, ()),
    "bulletins": (bulletins, ()),
    "scores": (assessment_scores, ()),
    "assessments": (assessments, ()),
    "audit_events": (audit_events, ()),
}
COUNTS = tuple(_COUNTED)


async def campaign_counts(conn: AsyncConnection, campaign_id: str) -> dict[str, int]:
    """The numbers a summary reports (COUNTS), straight from the read side."""
    out = {}
    for name, (table, where) in _COUNTED.items():
        q = select(func.count()).select_from(table).where(table.c.campaign_id == campaign_id, *where)
        out[name] = int((await conn.execute(q)).scalar_one())
    return out


def _on_time(row: Any, as_of: date) -> bool:
    done = row.completed_at
    return done is not None and done.date() <= min(row.due, as_of)


def rules_key(inp: RecordRules) -> str:
    return f"{inp.provenance.campaign_id}#rules#{inp.change.ruleset_hash}#{inp.change.since.isoformat()}"


def amendment_key(inp: RecordAmendment) -> str:
    return f"{inp.provenance.campaign_id}#amend#{inp.plan.digest()}#{inp.plan_time.isoformat()}"


@dataclass(frozen=True)
class IssuedNotice:
    """A 督办通知 written by `Delivering._notice`: its number and what its audit row records beyond the action."""

    code: str
    record: dict[str, Any] = field(default_factory=dict)


def attachments(files: RenderedSet, *formats: str) -> list[Attachment]:
    return [
        Attachment(filename=files[f].name, content=files[f].data, content_type=files[f].media_type) for f in formats
    ]


class Base:
    """What every class of campaign activities holds: its engine, its outbox (None: the in-app
    inbox only) and the paperwork."""

    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Outbox | None = None,
        *,
        papers_on_request: bool = False,
        gathering: Gathering | None = None,
    ) -> None:
        self.db = engine
        self.outbox = outbox
        # Deliveries arriving together written in one transaction (`activities.gathering`).
        self.gathering = gathering
        # A notice's papers rendered when first asked for, not while issuing it: only where no
        # e-mail would carry them (a rehearsal), since the outbox attaches them at issue.
        self.papers_on_request = papers_on_request and outbox is None
        self.papers = paperwork.CampaignPapers()

    async def _push(self, conn: AsyncConnection, item: InboxItem, files: Sequence[Attachment] = ()) -> None:
        if self.outbox is not None:
            await self.outbox.push(conn, item, files)
