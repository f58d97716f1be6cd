"""责令整改 per unit: the office's one open order to a unit, listing the unit's items, with one
deadline, at the unit's measure.

Written by `deliver` (a rule's rectify actions, one paper per unit per batch: `rules.rounds`) and
by the monthly cycle (one per laggard unit per bulletin), inside their transactions. A unit with
no open order gets a new one, its measure (责令整改 → 通报批评 → 约谈, the rule set's
`rectification.measures`) one rung up for every earlier order of the unit left unanswered past
its due date. A unit whose order is still open is not ordered again: the items join that order
(an audit row `rectification_added` keyed as the new order would have been, the order's list,
an inbox row to the unit), and its measure climbs one rung when the unit is ordered again while
not answering it (its due date passed, no report). The order keeps its due date and its one
report; a bulletin that finds nothing new to add and no rung to climb writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.delivery import InboxItem, write_inbox
from activities.paperwork.facts import CampaignFacts
from activities.store import audit
from activities.store.tables import audit_events, obligations, rectification_orders
from models.delivery import QuietHours
from models.rectification import OPEN_ORDER_STATES, OrderState
from models.ruleset import Channel, RuleSet
from models.time import CST
from rules.rounds import PriorOrder, Round, order_level, raised_level

LISTED_IN_BODY = 5
"""Items named in an order's inbox text (the order's row and audit row list them all)."""
ADDED_KIND = "rectification_added"
"""The audit row of items added to the unit's open order (kind `rectification_order`: a new one)."""


@dataclass(frozen=True)
class OrderDraft:
    """One order to write: to whom, for what, by when, at which rung."""

    key: str
    unit_id: str
    items: list[str]
    due: date
    month: date
    why: str
    """What led to it, for its text: 2021年12月通报 / 基础型节点后仍未办结."""
    rule_id: str | None = None


@dataclass(frozen=True)
class Issuer:
    """Who issues an order, when, and how it is pushed."""

    at: audit.Stamped
    actor: str
    quiet: QuietHours | None = None
    channels: tuple[Channel, ...] | None = None


async def prior_orders(conn: AsyncConnection, campaign_id: str, unit_id: str, as_of: date) -> list[PriorOrder]:
    """The unit's orders as of a date, as the next one's measure reads them."""
    o = rectification_orders.c
    rows = (
        await conn.execute(
            select(o.state, o.level, o.escalated_at, o.due).where(o.campaign_id == campaign_id, o.unit_id == unit_id)
        )
    ).all()
    out = []
    for r in rows:
        state = OrderState(r.state)
        overdue = state.awaiting_report and r.due < as_of
        out.append(PriorOrder(state, r.level, r.escalated_at is not None or overdue))
    return out


async def exists(conn: AsyncConnection, key: str) -> bool:
    found = await conn.scalar(select(rectification_orders.c.id).where(rectification_orders.c.idempotency_key == key))
    return found is not None


async def _recorded(conn: AsyncConnection, campaign_id: str, key: str) -> bool:
    a = audit_events.c
    return await conn.scalar(select(a.seq).where(a.campaign_id == campaign_id, a.event_key == key)) is not None


async def _named(conn: AsyncConnection, items: list[str]) -> str:
    """The first items by title, and how many in all, for an inbox text."""
    titles = dict(
        (await conn.execute(select(obligations.c.id, obligations.c.title).where(obligations.c.id.in_(items)))).all()
    )
    named = "；".join(f"“{titles.get(i, i)}”" for i in items[:LISTED_IN_BODY])
    return named + (f"等{len(items)}项" if len(items) > LISTED_IN_BODY else f"共{len(items)}项")


async def open_order(conn: AsyncConnection, campaign_id: str, unit_id: str) -> Row[Any] | None:
    """The unit's open order: one that lists items (a failed milestone's order lists none: its
    re-check answers it, not a report), not resolved, not closed as rejected; the latest, should
    several issued before orders were one per unit still be open."""
    o = rectification_orders.c
    q = (
        select(rectification_orders)
        .where(o.campaign_id == campaign_id, o.unit_id == unit_id, o.listed.is_not(None))
        .where(o.state.in_(OPEN_ORDER_STATES))
        .order_by(o.id.desc())
        .limit(1)
    )
    return (await conn.execute(q)).first()


async def place_order(
    conn: AsyncConnection, facts: CampaignFacts, ruleset: RuleSet, d: OrderDraft, by: Issuer, *, always: bool = False
) -> tuple[InboxItem | None, audit.Event] | None:
    """A new order when the unit has none open; else the draft's items added to its open one.

    Returns the inbox item to push (None: nothing to tell the unit) and the audit row; None when
    nothing is written: already written (by an earlier attempt), or, unless `always` (a rule's
    batch, whose record `audit verify` expects), nothing to add to the open order."""
    if await exists(conn, d.key) or await _recorded(conn, facts.campaign_id, d.key):
        return None
    standing = await open_order(conn, facts.campaign_id, d.unit_id)
    if standing is None:
        return await write_order(conn, facts, ruleset, d, by)
    return await add_to_order(conn, facts, ruleset, d, standing, by, always=always)


async def add_to_order(
    conn: AsyncConnection,
    facts: CampaignFacts,
    ruleset: RuleSet,
    d: OrderDraft,
    order: Row[Any],
    by: Issuer,
    *,
    always: bool,
) -> tuple[InboxItem | None, audit.Event] | None:
    """The draft's items on the unit's open order, its measure one rung up if the unit was not
    answering it; see `place_order`."""
    at, actor = by.at, by.actor
    as_of = at.plan_time.astimezone(CST).date()
    listed = list(order.listed)
    added = [i for i in d.items if i not in listed]
    measures = ruleset.rectification.measures
    level = raised_level(
        level=order.level, state=OrderState(order.state), overdue=order.due < as_of, measures=len(measures)
    )
    if not added and level == order.level and not always:
        return None
    measure = measures[level - 1]
    listed += added
    await conn.execute(
        update(rectification_orders)
        .where(rectification_orders.c.id == order.id)
        .values(listed=listed, overdue=len(listed), level=level, measure=measure)
    )
    event = audit.event(
        at,
        key=d.key,
        kind=ADDED_KIND,
        actor=actor,
        unit_id=d.unit_id,
        rule_id=d.rule_id,
        payload={
            "order": order.idempotency_key,
            "added": added,
            "items": listed,
            "level": level,
            "measure": measure,
            "raised": level > order.level,
            "due": order.due.isoformat(),
        },
    )
    if not added and level == order.level:
        return None, event  # on the record; nothing new to tell the unit
    name = facts.name(d.unit_id)
    issued = order.plan_time.astimezone(CST).date()
    what = f"{await _named(conn, added)}任务逾期未办结（{d.why}），" if added else f"（{d.why}）"
    raised = f"因逾期未报告整改情况，现升级为{measure}，" if level > order.level else ""
    body = (
        f"{name}截至{as_of:%Y年%m月%d日}{what}并入{issued:%Y年%m月%d日}下达的责令整改一并办理。{raised}"
        f"整改期限仍为{order.due:%Y年%m月%d日}，整改完成后一次书面报告，逐项说明（共{len(listed)}项）。"
    )
    title = f"{measure}：{name}（{d.why}，" + (f"追加{len(added)}项）" if added else "升级）")
    item = InboxItem(
        key=d.key, campaign_id=facts.campaign_id, recipient=d.unit_id, kind="rectification",
        title=title, body=body, **audit.times(at), rule_id=d.rule_id,
        level=level, channels=by.channels, quiet=by.quiet, due=order.due,
    )  # fmt: skip
    await write_inbox(conn, item)
    return item, event


async def write_order(
    conn: AsyncConnection, facts: CampaignFacts, ruleset: RuleSet, d: OrderDraft, by: Issuer
) -> tuple[InboxItem, audit.Event]:
    """The order's row and its inbox row, written; its inbox item (for the caller to push) and
    its audit row (for the caller's batch)."""
    at, actor, quiet, channels = by.at, by.actor, by.quiet, by.channels
    cid = facts.campaign_id
    prior = await prior_orders(conn, cid, d.unit_id, at.plan_time.astimezone(CST).date())
    measures = ruleset.rectification.measures
    level = order_level(prior, measures=len(measures))
    measure = measures[level - 1]
    unanswered = sum(1 for p in prior if p.unanswered)
    await conn.execute(
        insert(rectification_orders).values(
            idempotency_key=d.key,
            campaign_id=cid,
            unit_id=d.unit_id,
            month=d.month,
            overdue=len(d.items),
            due=d.due,
            level=level,
            measure=measure,
            listed=d.items,
            **audit.times(at),
        )
    )
    name = facts.name(d.unit_id)
    as_of = at.plan_time.astimezone(CST).date()
    named = await _named(conn, d.items)
    again = f"此前已{unanswered}次责令整改逾期未报告，" if unanswered else ""
    also = "" if measure == measures[0] else f"并{measures[0]}"
    body = (
        f"{name}截至{as_of:%Y年%m月%d日}，{named}任务逾期未办结（{d.why}）。{again}"
        f"现予{measure}{also}，责令于{d.due:%Y年%m月%d日}前整改到位并书面报告（一次报告，逐项说明）。"
    )
    item = InboxItem(
        key=d.key, campaign_id=cid, recipient=d.unit_id, kind="rectification",
        title=f"{measure}{also}：{name}（{d.why}，{len(d.items)}项）", body=body,
        **audit.times(at), rule_id=d.rule_id,
        level=level, channels=channels, quiet=quiet, due=d.due,
    )  # fmt: skip
    await write_inbox(conn, item)
    event = audit.event(
        at,
        key=d.key,
        kind="rectification_order",
        actor=actor,
        unit_id=d.unit_id,
        rule_id=d.rule_id,
        payload={
            "overdue": len(d.items),
            "due": d.due.isoformat(),
            "level": level,
            "measure": measure,
            "items": d.items,
            "unanswered_before": unanswered,
        },
    )
    return item, event


async def issue_round_order(
    conn: AsyncConnection, facts: CampaignFacts, ruleset: RuleSet, r: Round, *, quiet: QuietHours | None
) -> tuple[InboxItem | None, audit.Event] | None:
    """A rule's 责令整改 for the unit's round, or its items added to the unit's open order (None:
    written by an earlier attempt; the inbox item None: nothing new to tell the unit)."""
    first = r.actions[0]
    assert first.rectify_due is not None
    d = OrderDraft(
        key=r.key,
        unit_id=r.unit_id,
        items=r.obligation_ids,
        due=first.rectify_due,
        month=first.plan_time.astimezone(CST).date().replace(day=1),
        why=next((x.description for x in ruleset.rules if x.id == first.rule_id and x.description), first.rule_id),
        rule_id=first.rule_id,
    )
    channels = tuple(dict.fromkeys(c for a in r.actions for c in a.channels))
    by = Issuer(at=first, actor=f"rule:{first.rule_id}", quiet=quiet, channels=channels)
    return await place_order(conn, facts, ruleset, d, by, always=True)
