"""For auditors, the office and the convener: a 责令整改 order's story, told from the audit chain.

`explain_order` reads every chain row about one order: what issued it (the month's bulletin that
named the unit among its laggards, the rule firings on its items, or a failed 达标验收), the
order itself (its measure on the 责令整改 → 通报批评 → 约谈 ladder, the obligations it lists, its
deadline), its workflow's steps (reminders and escalations with the rule, the facts it saw and
the working days counted, the due date passing, each 整改报告 and review, the convener's 批示,
refused attempts) and how it ended. The order's row in `rectification_orders` only finds the
order and says where it stands now; every step shown is a chain row, numbered by its `seq`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.audit_reasons import Context, Step, day, deadline, facts_seen, held, pinned, short
from activities.campaign.order_rounds import ADDED_KIND
from activities.paperwork.bulletin_request import bulletin_key
from activities.store.audit import payload_of
from activities.store.tables import audit_events, campaigns, obligations, rectification_orders
from models.rectification import OrderState, campaign_of, rectification_workflow_id
from models.ruleset import Rule
from models.time import CST
from rules.convener import ORDER_INSTRUCTED
from rules.rectification import OVERDUE_RULE

ISSUED = "rectification_order"
ITEM = "rectification_item"
RESOLVING = ("rectification.accepted", "rectification_resolved")
REJECTED = "rectification.rejected"
"""The rows that resolve an order: the office accepts its report, or a milestone's re-check passes."""


class UnknownOrder(LookupError):
    """No rectification order of that id in its campaign."""


@dataclass(frozen=True)
class Item:
    """An obligation the order lists, as the obligations table has it now."""

    obligation_id: str
    title: str
    due: str
    state: str


@dataclass(frozen=True)
class OrderExplanation:
    order_id: str
    key: str
    campaign_id: str
    unit_id: str
    state: str
    header: tuple[str, ...]
    items: tuple[Item, ...]
    steps: tuple[Step, ...]
    ending: str
    warnings: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        out = list(self.header)
        out += [f"  item {i.obligation_id}: {i.title} (due {i.due}, now {i.state})" for i in self.items]
        for s in self.steps:
            out += s.lines()
        out.append(self.ending)
        out += [f"warning: {w}" for w in self.warnings]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "order": self.order_id,
            "key": self.key,
            "campaign": self.campaign_id,
            "unit": self.unit_id,
            "state": self.state,
            "header": list(self.header),
            "items": [asdict(i) for i in self.items],
            "steps": [s.as_dict() for s in self.steps],
            "ending": self.ending,
            "warnings": list(self.warnings),
        }


async def order_row(conn: AsyncConnection, subject: str) -> Any:
    """The order's row by its id (`CAMPAIGN/rectify/…`, its workflow's) or its key
    (`CAMPAIGN#rectify#…`, as `duban rectify list --json` shows both), or None. Orders issued
    before they were followed have no workflow id: their id is derived from their key."""
    o = rectification_orders.c
    by_key = (await conn.execute(select(rectification_orders).where(o.idempotency_key == subject))).mappings().first()
    if by_key is not None:
        return by_key
    try:
        cid = campaign_of(subject)
    except ValueError:
        return None
    rows = (
        await conn.execute(
            select(rectification_orders).where(
                o.campaign_id == cid, or_(o.workflow_id == subject, o.workflow_id.is_(None))
            )
        )
    ).mappings()
    return next(
        (r for r in rows if (r["workflow_id"] or rectification_workflow_id(cid, r["idempotency_key"])) == subject),
        None,
    )


async def explain_order(conn: AsyncConnection, subject: str) -> OrderExplanation:
    """An order's whole story from the chain, in plan time; `subject` its id or its key.

    Raises:
        UnknownOrder: no order of that id.
    """
    row = await order_row(conn, subject)
    if row is None:
        raise UnknownOrder(f"no rectification order {subject!r}")
    cid, key = row["campaign_id"], row["idempotency_key"]
    order_id = row["workflow_id"] or rectification_workflow_id(cid, key)
    campaign = (await conn.execute(select(campaigns).where(campaigns.c.id == cid))).first()
    assert campaign is not None  # the order's row references it
    rows = await _chain(conn, cid, key, order_id)
    issued = next((r for r in rows if r["kind"] == ISSUED and r["event_key"] == key), None)
    if issued is not None and issued["rule_id"] is None and "milestone" not in payload_of(issued):
        bulletin = await _row(conn, cid, bulletin_key(cid, row["month"]))
        if bulletin is not None:
            rows = sorted([bulletin, *rows], key=lambda r: r["seq"])
    ctx = pinned(campaign, None)
    listed = payload_of(issued).get("items") if issued is not None else None
    ids = [str(i) for i in listed or row["listed"] or ([row["obligation_id"]] if row["obligation_id"] else [])]
    items = await _items(conn, cid, ids)
    # `rectification.rejected` was a send-back until orders could end rejected (整改不到位); the
    # final one is the order's last rejection when its row says it ended so.
    rejections = [r["seq"] for r in rows if r["kind"] == REJECTED]
    final = rejections[-1] if rejections and row["state"] == OrderState.rejected.value else None
    steps = [_step(ctx, r, final_rejection=final) for r in rows]
    return OrderExplanation(
        order_id=order_id,
        key=key,
        campaign_id=cid,
        unit_id=row["unit_id"],
        state=row["state"],
        header=tuple(_header(ctx, order_id, row, issued, items)),
        items=tuple(items),
        steps=tuple(steps),
        ending=_ending(row, campaign, rows),
        warnings=tuple(ctx.warnings),
    )


async def _row(conn: AsyncConnection, cid: str, key: str) -> Any:
    a = audit_events.c
    return (await conn.execute(select(audit_events).where(a.campaign_id == cid, a.event_key == key))).mappings().first()


async def _chain(conn: AsyncConnection, cid: str, key: str, order_id: str) -> list[Any]:
    """Every row about the order: its own (keyed by the order, `<key>#…`), the rows of the
    obligations it lists that name it (`paper`), its steps and follow-ups (`order`), the rounds
    that joined it and their items, and the attempts its workflow refused (keyed `<workflow
    id>#refused:…`, naming the order)."""
    a = audit_events.c
    q = (
        select(audit_events)
        .where(
            a.campaign_id == cid,
            or_(
                a.event_key == key,
                a.event_key.startswith(f"{key}#", autoescape=True),
                a.event_key.startswith(f"{order_id}#", autoescape=True),
                a.payload.contains(key, autoescape=True),
            ),
        )
        .order_by(a.seq)
    )
    found = []
    for r in (await conn.execute(q)).mappings():
        p = payload_of(r)
        if (
            r["event_key"] == key
            or r["event_key"].startswith((f"{key}#", f"{order_id}#"))
            or key in (p.get("order"), p.get("paper"), p.get("obligation_id"))
        ):
            found.append(r)
    # A round ordered to the unit while this order was open joined it (`rectification_added`,
    # keyed as the order it did not become): its items' rows name that round as their paper.
    joined = [r["event_key"] for r in found if r["kind"] == ADDED_KIND]
    if joined:
        q = select(audit_events).where(
            a.campaign_id == cid, or_(*(a.payload.contains(k, autoescape=True) for k in joined))
        )
        seen = {r["seq"] for r in found}
        more = [r for r in (await conn.execute(q)).mappings() if payload_of(r).get("paper") in joined]
        found = sorted([*found, *(r for r in more if r["seq"] not in seen)], key=lambda r: r["seq"])
    return found


async def _items(conn: AsyncConnection, cid: str, ids: list[str]) -> list[Item]:
    if not ids:
        return []
    o = obligations.c
    known = {
        r.id: r
        for r in await conn.execute(select(o.id, o.title, o.due, o.state).where(o.campaign_id == cid, o.id.in_(ids)))
    }
    return [
        Item(i, known[i].title, known[i].due.isoformat(), known[i].state)
        if i in known
        else Item(i, "(not in the obligations table)", "?", "?")
        for i in ids
    ]


def _measures(ctx: Context) -> tuple[str, ...]:
    return ctx.ruleset.rectification.measures if ctx.ruleset is not None else ("责令整改",)


def _header(ctx: Context, order_id: str, row: Any, issued: Any, items: list[Item]) -> list[str]:
    c = ctx.campaign
    measures = _measures(ctx)
    level = int(row["level"] or 1)
    measure = row["measure"] or (measures[level - 1] if level <= len(measures) else measures[-1])
    first = row["first_due"] or row["due"]
    due = f"due {day(row['due'])}" + (f" (first due {day(first)})" if first != row["due"] else "")
    rs = f"{ctx.ruleset.id} v{ctx.ruleset.version}" if ctx.ruleset else c.ruleset_id
    return [
        order_id,
        f"  {measure} to {row['unit_id']}: level {level} of {' → '.join(measures)}; {len(items)} items; {due}",
        f"  issued {row['plan_time'].astimezone(CST).date()} ({_source(row, issued)}); "
        f"now: {row['state']}, round {row['round']}",
        f"  campaign {c.id} ({c.status}): plan {c.plan_id} {short(c.plan_hash)}, rule set {rs} "
        f"{short(c.ruleset_hash)}, calendar {short(c.calendar_hash)}",
    ]


def _source(row: Any, issued: Any) -> str:
    if issued is None:
        return f"source {row['source'] or '?'}; its issuing row is not on the chain"
    p = payload_of(issued)
    if p.get("milestone"):
        return f"the {p['milestone']} milestone's 达标验收 failed"
    if issued["rule_id"]:
        return f"by rule {issued['rule_id']}"
    return f"by the {row['month']:%Y-%m} bulletin"


def _who(actor: str, p: dict[str, Any]) -> str:
    return f"{actor} [{p['account']}, {p.get('role', '?')}]" if p.get("account") else actor


def _step(ctx: Context, r: Any, *, final_rejection: int | None = None) -> Step:
    p = payload_of(r)
    kind, actor = r["kind"], r["actor"]
    base = {"seq": r["seq"], "plan_time": r["plan_time"], "kind": kind, "actor": actor}
    if kind == "bulletin":
        laggards = p.get("laggards") or []
        # Bulletins that ordered per unit recorded no laggards before 2026-12-04: not a "no".
        named = f"; laggards {', '.join(laggards)}" if laggards else ""
        text = f"bulletin {str(p.get('month', ''))[:7]} by {actor}: {p.get('units', '?')} units reconciled{named}"
        return Step(**base, text=text)
    if kind == ISSUED:
        return _issued(ctx, r, p, base)
    if kind == ITEM or (kind.startswith("rectification.") and r["rule_id"] and p.get("recipient")):
        return _firing(ctx, r, p, base)
    if kind == "rectification.opened":
        return Step(**base, text=f"followed by its workflow {p.get('workflow_id')} (source {p.get('source')})")
    if kind == "rectification.reported":
        ev = p.get("evidence") or []
        text = f"整改报告 by {_who(actor, p)}「{p.get('text', '')}」" + (f", evidence {', '.join(ev)}" if ev else "")
        return Step(**base, text=text + f" → {p.get('state')}")
    if kind == "rectification.accepted":
        said = f"「{p['reason']}」" if p.get("reason") else ""
        return Step(**base, text=f"report accepted by {_who(actor, p)}{said} → {p.get('state')}")
    if kind == REJECTED and r["seq"] == final_rejection:
        said = f"「{p['reason']}」" if p.get("reason") else ""
        return Step(**base, text=f"report rejected for good by {_who(actor, p)}{said}: 整改不到位, closed unrectified")
    if kind in (REJECTED, "rectification.sent_back"):
        text = (
            f"report sent back by {_who(actor, p)}「{p.get('reason', '')}」 → {p.get('state')}, "
            f"round {p.get('round')}, new due {p.get('due')}"
        )
        return Step(**base, text=text)
    if kind == ADDED_KIND:
        added = p.get("added") or []
        raised = f", raised to {p.get('measure')} (level {p.get('level')})" if p.get("raised") else ""
        text = (
            f"ordered again by {actor}: {len(added)} items added to this open order "
            f"(now {len(p.get('items') or [])}){raised}; due still {p.get('due')}"
        )
        return Step(**base, text=text, rule_id=r["rule_id"])
    if kind == "rectification.overdue":
        return Step(
            **base, text=f"due {p.get('due')} passed with no report (round {p.get('round')}) → {p.get('state')}"
        )
    if kind == ORDER_INSTRUCTED:
        return Step(
            **base,
            text=f"批示 on the level {p.get('level', '?')} escalation by {_who(actor, p)}「{p.get('text', '')}」",
        )
    if kind == "rectification_resolved":
        return Step(**base, text=f"resolved by the {p.get('by', '?')} (score {p.get('score')})")
    if kind == "refused":
        said = f"「{p['text']}」" if p.get("text") else ""
        return Step(**base, text=f"refused {p.get('verb')} by {_who(actor, p)}{said}: {p.get('reason')}")
    # A step this code does not know yet (a new order state, say) is still shown, whole.
    rest = {k: v for k, v in p.items() if k != "order"}
    return Step(**base, text=f"{kind} by {_who(actor, p)} {rest}", rule_id=r["rule_id"])


def _issued(ctx: Context, r: Any, p: dict[str, Any], base: dict[str, Any]) -> Step:
    measure = p.get("measure") or _measures(ctx)[0]
    n = len(p.get("items") or []) or p.get("overdue", "?")
    text = (
        f"{measure} (level {p.get('level', 1)}) issued by {r['actor']} to {r['unit_id']}: {n} items, due {p.get('due')}"
    )
    details = []
    if p.get("unanswered_before"):
        details.append(
            f"earlier orders left unanswered past their due date: {p['unanswered_before']}, one measure up each"
        )
    if p.get("milestone"):
        details.append(f"the {p['milestone']} milestone's 达标验收 failed; re-checked on the due date")
    elif not r["rule_id"] and ctx.ruleset is not None:
        at_least = ctx.ruleset.monthly.rectify_if_overdue_at_least
        details.append(
            f"{p.get('overdue', '?')} obligations overdue at the bulletin; {at_least} or more make a unit a laggard, "
            "ordered to rectify (the rule set's monthly.rectify_if_overdue_at_least)"
        )
    if r["rule_id"] and p.get("facts"):  # one order per rule action (before orders were per unit)
        details += _reasons(ctx, r, _rule(ctx, r), p)
    return Step(**base, text=text, details=tuple(details), rule_id=r["rule_id"])


def _rule(ctx: Context, r: Any) -> Rule | None:
    if r["rule_id"] == OVERDUE_RULE.id:
        return OVERDUE_RULE
    return ctx.rule(r)


def _firing(ctx: Context, r: Any, p: dict[str, Any], base: dict[str, Any]) -> Step:
    """A rule's firing: on one of the items (which issued the order) or on the order itself (a
    reminder or escalation of it), with the facts its condition saw and the days counted."""
    rule = _rule(ctx, r)
    rid = r["rule_id"]
    why = f"by rule {rid}「{rule.description}」 when {rule.when}" if rule is not None else f"by rule {rid}"
    level = f" (level {p['level']})" if p.get("level") else ""
    if r["kind"] == ITEM:
        text = f"{r['obligation_id']}: rule fired {why}, listed in this order"
    else:
        text = f"{r['kind'].removeprefix('rectification.')} → {p.get('recipient')}{level} {why}"
    facts: dict[str, Any] = p.get("facts") or {}
    details = _reasons(ctx, r, rule, p)
    return Step(**base, text=text, details=details, rule_id=rid, facts=facts or None, level=int(p.get("level") or 0))


def _reasons(ctx: Context, r: Any, rule: Rule | None, p: dict[str, Any]) -> tuple[str, ...]:
    """The facts a firing's condition saw, and the working days its trigger counted."""
    facts: dict[str, Any] = p.get("facts") or {}
    out = []
    if facts:
        out.append("saw " + ", ".join(f"{k}={facts[k]}" for k in facts_seen(rule, facts)) + held(ctx, rule, facts))
    if rule is not OVERDUE_RULE:  # an event rule: no days counted, and not in the campaign's rule set
        out += deadline(ctx, r, rule, p, facts)
    return tuple(out)


def _ending(row: Any, campaign: Any, rows: list[Any]) -> str:
    try:
        state = OrderState(row["state"])
    except ValueError:  # a state added since: say it as stored
        return f"ended: state {row['state']}"
    if state is OrderState.resolved:
        last = next((r for r in reversed(rows) if r["kind"] in RESOLVING), None)
        on = f" on {last['plan_time'].astimezone(CST).date()} (#{last['seq']})" if last is not None else ""
        return f"ended: resolved{on}"
    if state is OrderState.rejected:
        return f"ended: rejected (整改不到位) after round {row['round']}"
    if campaign.status == "closed":
        return f"ended with the campaign, unresolved: {state.value}, round {row['round']}, due {row['due']}"
    return f"not ended: {state.value}, round {row['round']}, due {row['due']}"
