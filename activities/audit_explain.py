"""For auditors: an obligation's timeline explained.

`explain` reads an obligation's audit rows and, for every rule firing, rebuilds the reasoning
from what the campaign pinned at launch (its rule set and calendar, stored with the campaign):
the rule and its CEL condition, the facts the condition saw, the effective due date and the
working days counted from it, each named with its kind (调休 make-up workdays, holidays and
weekends skipped). It also re-runs that arithmetic with `rules.engine` and says so where the
record and the rules disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.audit_reasons import Context, Step, day, deadline, facts_seen, held, not_acted, pinned, short
from activities.store.audit import payload_of
from activities.store.tables import audit_events, campaigns, obligations
from rules.convener import INSTRUCTED

_FIRINGS = ("reminder", "escalation", "notice")
_UPDATES = {
    "obligation.acknowledged": "acknowledged (签收)",
    "obligation.in_progress": "progress reported (进展上报)",
    "obligation.completed": "completed (办结)",
    "obligation.assigned": "set back to assigned",
}


class UnknownObligation(LookupError):
    """No obligation of that id in any campaign, and no audit row naming it."""


@dataclass(frozen=True)
class Explanation:
    obligation_id: str
    campaign_id: str
    header: tuple[str, ...]
    steps: tuple[Step, ...]
    warnings: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        out = list(self.header)
        for s in self.steps:
            out += s.lines()
        out += [f"warning: {w}" for w in self.warnings]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "obligation": self.obligation_id,
            "campaign": self.campaign_id,
            "header": list(self.header),
            "steps": [s.as_dict() for s in self.steps],
            "warnings": list(self.warnings),
        }


async def explain(conn: AsyncConnection, obligation_id: str) -> Explanation:
    """An obligation's whole record in plan time, each step with the unit or rule behind it.

    Raises:
        UnknownObligation: no obligation of that id and no audit row naming it.
    """
    ob = (await conn.execute(select(obligations).where(obligations.c.id == obligation_id))).mappings().first()
    cid = ob["campaign_id"] if ob is not None else None
    if cid is None:
        cid = (
            await conn.execute(
                select(audit_events.c.campaign_id).where(audit_events.c.obligation_id == obligation_id).limit(1)
            )
        ).scalar()
    if cid is None:
        raise UnknownObligation(f"no record of obligation {obligation_id!r}")
    campaign = (await conn.execute(select(campaigns).where(campaigns.c.id == cid))).first()
    if campaign is None:
        raise UnknownObligation(f"obligation {obligation_id!r} names campaign {cid!r}, which has no record")
    rows = (
        (
            await conn.execute(
                select(audit_events)
                .where(
                    audit_events.c.campaign_id == cid,
                    (audit_events.c.obligation_id == obligation_id) | (audit_events.c.kind == "campaign.launched"),
                )
                .order_by(audit_events.c.seq)
            )
        )
        .mappings()
        .all()
    )
    # Papers issued per unit (a round's 督办通知 or 责令整改) name no obligation: each action's row
    # names its paper, which is shown in the obligation's timeline with the action.
    papers = {p[k] for p in (payload_of(r) for r in rows) for k in ("notice", "paper") if isinstance(p.get(k), str)}
    if papers:
        more = (
            await conn.execute(
                select(audit_events).where(audit_events.c.campaign_id == cid, audit_events.c.event_key.in_(papers))
            )
        ).mappings()
        rows = sorted([*rows, *more], key=lambda r: r["seq"])
    ctx = pinned(campaign, ob)
    steps = [_step(ctx, r, ob) for r in rows]
    if ctx.engine is not None and ctx.spec is not None:
        until = (
            campaign.closed_plan_time
            or (
                await conn.execute(select(func.max(audit_events.c.plan_time)).where(audit_events.c.campaign_id == cid))
            ).scalar()
        )
        if until is not None:
            steps += not_acted(ctx, steps, until)
    steps.sort(key=lambda s: (s.plan_time, s.seq if s.seq is not None else 0))
    return Explanation(
        obligation_id=obligation_id,
        campaign_id=cid,
        header=tuple(_header(ctx, obligation_id, ob)),
        steps=tuple(steps),
        warnings=tuple(ctx.warnings),
    )


def _header(ctx: Context, obligation_id: str, ob: Any) -> list[str]:
    c = ctx.campaign
    rs = f"{ctx.ruleset.id} v{ctx.ruleset.version}" if ctx.ruleset else c.ruleset_id
    out = [f"{obligation_id}"]
    if ob is not None:
        out.append(f"  {ob['title']}")
        out.append(
            f"  {ob['unit_name']} ({ob['unit_id']}, {ob['role']}), lead {ob['lead']}; "
            f"assigned {day(ob['assigned'])}, due {day(ob['due'])}"
        )
        out.append(
            f"  now: {ob['state']}, {ob['progress']}%, reminded {ob['reminders']}×, "
            f"escalation level {ob['escalation_level']}"
        )
    else:
        out.append("  (not in the obligations table: only its audit rows are known)")
    out.append(
        f"  campaign {c.id} ({c.status}): plan {c.plan_id} {short(c.plan_hash)}, rule set {rs} "
        f"{short(c.ruleset_hash)}, calendar {short(c.calendar_hash)}"
    )
    return out


def _step(ctx: Context, r: Any, ob: Any) -> Step:
    payload = payload_of(r)
    kind, actor = r["kind"], r["actor"]
    base = {"seq": r["seq"], "plan_time": r["plan_time"], "kind": kind, "actor": actor}
    if kind == "campaign.launched":
        text = f"launched by {actor}: campaign {r['campaign_id']}, {payload.get('obligations', '?')} obligations"
        details = []
        if ob is not None:
            details.append(f"assigned to {ob['unit_id']} ({ob['role']}) from {day(ob['assigned'])}")
        details.append(
            f"pinned plan {short(r['plan_hash'])}, rule set {payload.get('ruleset', '?')} "
            f"{short(r['ruleset_hash'])}, calendar {short(payload.get('calendar_hash'))}"
        )
        return Step(**base, text=text, details=tuple(details))
    if kind == INSTRUCTED:
        by = f"{actor} [{payload['account']}, {payload.get('role', '?')}]" if payload.get("account") else actor
        level = payload.get("level", "?")
        return Step(**base, text=f"批示 on the level {level} escalation by {by}「{payload.get('text', '')}」")
    if kind in _UPDATES:
        by = actor if actor == r["unit_id"] else f"{actor} (for {r['unit_id']})"
        if payload.get("account"):  # who acted for the unit, as the door proved it
            by += f" [{payload['account']}, {payload.get('role', '?')}]"
        text = f"{_UPDATES[kind]} by {by}: {payload.get('state')} {payload.get('progress', 0)}%"
        if payload.get("text"):
            text += f"「{payload['text']}」"
        return Step(**base, text=text, progress=int(payload.get("progress") or 0))
    if kind in _FIRINGS and r["rule_id"]:
        return _firing(ctx, r, payload, base)
    return Step(**base, text=f"{kind} by {actor} {json.dumps(payload, ensure_ascii=False)}", rule_id=r["rule_id"])


def _firing(ctx: Context, r: Any, payload: dict[str, Any], base: dict[str, Any]) -> Step:
    rule = ctx.rule(r)
    rid = r["rule_id"]
    if rule is not None:
        why = f"by rule {rid}「{rule.description}」 when {rule.when}"
    elif r["ruleset_hash"] != ctx.campaign.ruleset_hash:
        why = f"by rule {rid} of rule set {short(r['ruleset_hash'])} (not the launch rule set; its text is not stored)"
    else:
        why = f"by rule {rid} (not in the campaign's rule set)"
    kind = r["kind"]
    if kind == "notice":
        copies = payload.get("copy_to")
        # A list of lead units since notices became documents; one unit id before.
        copied = (", ".join(copies) or "none") if isinstance(copies, list) else copies
        colour = f", {payload['severity']}" if payload.get("severity") else ""
        text = (
            f"notice {payload.get('code')} to {payload.get('to')}, copy to {copied} "
            f"(level {payload.get('level')}{colour}) {why}"
        )
        return Step(**base, text=text, rule_id=rid)
    level = f" (level {payload['level']})" if payload.get("level") else ""
    text = f"{kind} → {payload.get('recipient')}{level} {why}"
    facts: dict[str, Any] = payload.get("facts") or {}
    details = []
    if facts:
        details.append("saw " + ", ".join(f"{k}={facts[k]}" for k in facts_seen(rule, facts)) + held(ctx, rule, facts))
    details += deadline(ctx, r, rule, payload, facts)
    return Step(
        **base,
        text=text,
        details=tuple(details),
        rule_id=rid,
        facts=facts or None,
        level=int(payload.get("level") or 0),
    )
