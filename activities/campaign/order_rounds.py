"""责令整改 per unit: one order listing the unit's items, with one deadline, at the unit's measure.

Written by `deliver` (a rule's rectify actions, one order per unit per batch: `rules.rounds`) and
by the monthly cycle (one order per laggard unit per bulletin), inside their transactions. The
measure (责令整改 → 通报批评 → 约谈, the rule set's `rectification.measures`) climbs one rung for
every earlier order of the unit left unanswered past its due date; a bulletin issues no new
order to a unit whose order still stands (`rules.rounds.standing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.delivery import InboxItem, write_inbox
from activities.paperwork.facts import CampaignFacts
from activities.store import audit
from activities.store.tables import obligations, rectification_orders
from models.delivery import QuietHours
from models.rectification import OrderState
from models.ruleset import Channel, RuleSet
from models.time import CST
from rules.rounds import PriorOrder, Round, order_level

LISTED_IN_BODY = 5
"""Items named in an order's inbox text (the order's row and audit row list them all)."""


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
        out.append(PriorOrder(state, r.level, r.escalated_at is not None or overdue, overdue))
    return out


async def exists(conn: AsyncConnection, key: str) -> bool:
    found = await conn.scalar(select(rectification_orders.c.id).where(rectification_orders.c.idempotency_key == key))
    return found is not None


async def write_order(
    conn: AsyncConnection,
    facts: CampaignFacts,
    ruleset: RuleSet,
    d: OrderDraft,
    *,
    at: audit.Stamped,
    actor: str,
    quiet: QuietHours | None = None,
    channels: tuple[Channel, ...] | None = None,
) -> tuple[InboxItem, audit.Event]:
    """The order's row and its inbox row, written; its inbox item (for the caller to push) and
    its audit row (for the caller's batch)."""
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
    titles = dict(
        (await conn.execute(select(obligations.c.id, obligations.c.title).where(obligations.c.id.in_(d.items)))).all()
    )
    name = facts.name(d.unit_id)
    as_of = at.plan_time.astimezone(CST).date()
    named = "；".join(f"“{titles.get(i, i)}”" for i in d.items[:LISTED_IN_BODY])
    more = f"等{len(d.items)}项" if len(d.items) > LISTED_IN_BODY else f"共{len(d.items)}项"
    again = f"此前已{unanswered}次责令整改逾期未报告，" if unanswered else ""
    also = "" if measure == measures[0] else f"并{measures[0]}"
    body = (
        f"{name}截至{as_of:%Y年%m月%d日}，{named}{more}任务逾期未办结（{d.why}）。{again}"
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
) -> tuple[InboxItem, audit.Event] | None:
    """A rule's 责令整改 for the unit's round (None: written by an earlier attempt)."""
    if await exists(conn, r.key):
        return None
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
    return await write_order(
        conn, facts, ruleset, d, at=first, actor=f"rule:{first.rule_id}", quiet=quiet, channels=channels
    )
