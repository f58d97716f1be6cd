"""A campaign's rules on the record: which rule sets ran from when, what happened to each
obligation, and what the rules did: the inputs of `duban rules explain` and `rules whatif`.

Read-only. Everything comes from PostgreSQL: the campaign row (the plan, the rule set and the
calendar pinned at launch), the obligations, and the audit chain (state changes, actions, and
`rules.installed` rows, which carry each later rule set whole). A finished rehearsal can be
questioned as well as a live campaign.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.store.tables import audit_events, campaigns, obligations
from models.calendar import CalendarData
from models.obligation import Obligation, ObligationSpec, ObligationState
from models.payloads import FiredAction
from models.plan import Plan
from models.ruleset import Rule, RuleSet
from models.time import CST
from rules.calendar import WorkCalendar
from rules.engine import Engine, compile_condition, describe_trigger
from rules.whatif import Difference, Happening, Outcome, apply_happening, compare, replay, tally


class UnknownCampaign(LookupError):
    pass


@dataclass(frozen=True)
class Version:
    """A rule set in force on a campaign from `since` (None: from launch)."""

    ruleset: RuleSet
    hash: str
    since: datetime | None


@dataclass
class Record:
    """A campaign as the record has it."""

    campaign_id: str
    plan: Plan
    calendar: CalendarData
    versions: list[Version]
    ends: date
    office: str
    convener: str
    as_of: datetime | None
    """The latest plan time on the record: 'now' for a campaign still running."""
    closed: bool
    specs: dict[str, ObligationSpec] = field(default_factory=dict)
    happenings: dict[str, list[Happening]] = field(default_factory=lambda: defaultdict(list))
    outcomes: dict[str, list[Outcome]] = field(default_factory=lambda: defaultdict(list))

    @property
    def current(self) -> Version:
        return self.versions[-1]

    def version(self, ruleset_hash: str) -> Version | None:
        return next((v for v in self.versions if v.hash == ruleset_hash), None)

    def engine(self, ruleset: RuleSet | None = None, calendar: CalendarData | None = None) -> Engine:
        rs = ruleset or self.current.ruleset
        milestones = {m.id: m.due for p in self.plan.phases for m in p.milestones}
        return Engine(rs, WorkCalendar(calendar or self.calendar), milestones)


_ACTION_KINDS = {
    "reminder": "remind",
    "escalation": "escalate",
    "notice": "notice",
    "rectification_order": "rectify",
    "listed": "bulletin",
    # Papers per unit: each action's row, naming its unit's notice or order of the round.
    "notice_item": "notice",
    "rectification_item": "rectify",
}


async def load(conn: AsyncConnection, campaign_id: str, *, obligation_id: str | None = None) -> Record:
    """The campaign's record; with `obligation_id`, that obligation's rows only."""
    c = (await conn.execute(select(campaigns).where(campaigns.c.id == campaign_id))).first()
    if c is None:
        raise UnknownCampaign(f"no campaign {campaign_id!r} on record")
    plan = Plan.model_validate(c.plan)
    launched = RuleSet.model_validate(c.ruleset)
    versions = [Version(launched, c.ruleset_hash, None)]
    q = select(audit_events).where(audit_events.c.campaign_id == campaign_id)
    q = q.where(
        (audit_events.c.kind == "rules.installed")
        | (
            (audit_events.c.obligation_id == obligation_id)
            if obligation_id is not None
            else audit_events.c.obligation_id.is_not(None)
        )
    )
    rec = Record(
        campaign_id=campaign_id,
        plan=plan,
        calendar=CalendarData.model_validate(c.calendar),
        versions=versions,
        ends=plan.end,
        office=plan.joint_meeting.office,
        convener=plan.joint_meeting.convener,
        as_of=c.closed_plan_time
        or (
            await conn.execute(
                select(func.max(audit_events.c.plan_time)).where(audit_events.c.campaign_id == campaign_id)
            )
        ).scalar(),
        closed=c.closed_plan_time is not None,
    )
    for r in (await conn.execute(q.order_by(audit_events.c.seq))).mappings():
        _read_row(rec, r)
    oq = select(obligations).where(obligations.c.campaign_id == campaign_id)
    if obligation_id is not None:
        oq = oq.where(obligations.c.id == obligation_id)
    fields = set(ObligationSpec.model_fields)
    for r in (await conn.execute(oq.order_by(obligations.c.id))).mappings():
        rec.specs[r["id"]] = ObligationSpec.model_validate({k: v for k, v in r.items() if k in fields})
    return rec


def _read_row(rec: Record, r: Any) -> None:
    import json

    kind = r["kind"]
    payload = json.loads(r["payload"])
    t = r["plan_time"].astimezone(CST)
    if kind == "rules.installed":
        rs = RuleSet.model_validate(payload["ruleset"])
        rec.versions.append(Version(rs, payload["hash"], datetime.fromisoformat(payload["since"])))
        return
    ob = r["obligation_id"]
    if kind.startswith("obligation."):
        token = r["event_key"].split("#update:", 1)[-1]
        rec.happenings[ob].append(
            Happening(at=t, state=ObligationState(payload["state"]), progress=payload.get("progress"), token=token)
        )
    elif kind == "extension.approved":
        token = r["event_key"].split("#update:", 1)[-1]
        rec.happenings[ob].append(Happening(at=t, extended_due=date.fromisoformat(payload["due"]), token=token))
    elif kind in _ACTION_KINDS and r["rule_id"]:
        role = payload.get("role", "unit") if kind != "notice" else "unit"
        level = int(payload.get("level", 0)) if kind in ("escalation", "notice") else 0
        facts = payload.get("facts", {})
        rec.outcomes[ob].append(
            Outcome(on=t.date(), kind=_ACTION_KINDS[kind], role=role, level=level, rule_id=r["rule_id"], facts=facts)
        )
        if kind == "escalation" and "notice" in payload:
            # Its 督办通知 is its unit's notice of the round (a row of its own, naming no obligation).
            rec.outcomes[ob].append(
                Outcome(on=t.date(), kind="notice", role="unit", level=level, rule_id=r["rule_id"], facts=facts)
            )


def simulate(rec: Record, engine: Engine, obligation_id: str) -> list[FiredAction]:
    """What `engine` does for one obligation given what the record says happened to it."""
    return replay(
        engine,
        rec.specs[obligation_id],
        rec.happenings.get(obligation_id, []),
        until=rec.ends,
        office=rec.office,
        convener=rec.convener,
    )


@dataclass
class WhatIf:
    campaign_id: str
    ruleset: RuleSet
    obligations: int
    before: dict[str, int]
    after: dict[str, int]
    differences: list[Difference]

    def as_dict(self) -> dict[str, Any]:
        def o(x: Outcome) -> dict[str, Any]:
            return {"on": x.on.isoformat(), "kind": x.kind, "role": x.role, "level": x.level, "rule": x.rule_id}

        return {
            "campaign_id": self.campaign_id,
            "ruleset": {"id": self.ruleset.id, "version": self.ruleset.version, "hash": self.ruleset.digest()},
            "obligations": self.obligations,
            "changed": len(self.differences),
            "before": self.before,
            "after": self.after,
            "differences": [
                {
                    "obligation_id": d.obligation_id,
                    "would_not_happen": [o(x) for x in d.only_before],
                    "would_happen": [o(x) for x in d.only_after],
                    "would_move": [{"from": o(a), "to": o(b)} for a, b in d.moved],
                }
                for d in self.differences
            ],
        }


def whatif(rec: Record, ruleset: RuleSet, calendar: CalendarData | None = None) -> WhatIf:
    """Every obligation's recorded actions against those `ruleset` would have taken."""
    engine = rec.engine(ruleset, calendar)
    before: list[Outcome] = []
    after: list[Outcome] = []
    diffs = []
    for oid in rec.specs:
        recorded = rec.outcomes.get(oid, [])
        would = [o for a in simulate(rec, engine, oid) for o in Outcome.of(a)]
        before += recorded
        after += would
        d = compare(oid, recorded, would)
        if d is not None:
            diffs.append(d)
    return WhatIf(rec.campaign_id, ruleset, len(rec.specs), tally(before), tally(after), diffs)


_VERBS = {"remind": "催办", "escalate": "督办", "notice": "督办通知", "rectify": "责令整改", "bulletin": "列入通报"}


def _action(kind: str, role: str, level: int) -> str:
    lv = f" L{level}" if level else ""
    return f"{_VERBS.get(kind, kind)}{lv} → {role}"


def explain_obligation(rec: Record, obligation_id: str) -> dict[str, Any]:
    """Each recorded action with its rule and what it saw; then, under the rule set in force,
    the firings still to come with whether they would fire if nothing changed."""
    spec = rec.specs[obligation_id]
    taken = []
    for o in rec.outcomes.get(obligation_id, []):
        rule = _rule(rec, o.rule_id)
        taken.append(
            {
                "on": o.on.isoformat(),
                "action": _action(o.kind, o.role, o.level),
                "rule": o.rule_id,
                "description": rule.description if rule else "",
                "trigger": describe_trigger(rule.trigger) if rule else "?",
                "when": rule.when if rule else "?",
                "saw": ", ".join(f"{k}={o.facts[k]}" for k in _read_by(rule, o.facts)) or "nothing",
            }
        )
    # The obligation as it stands: the recorded happenings and actions, applied in order.
    now = Obligation(spec=spec)
    for h in sorted(rec.happenings.get(obligation_id, []), key=lambda h: h.at):
        apply_happening(now, h)
    for o in rec.outcomes.get(obligation_id, []):
        if o.kind == "remind":
            now.reminders += 1
        elif o.kind == "escalate":
            now.escalation_level = max(now.escalation_level, o.level)
    version = rec.current
    engine = rec.engine(version.ruleset)
    as_of = rec.as_of
    upcoming = []
    if not rec.closed and not now.done:
        since = max(t for t in (as_of, version.since) if t is not None) if (as_of or version.since) else None
        done_on = {(o.rule_id, o.on) for o in rec.outcomes.get(obligation_id, [])}
        for f in engine.firings(now, until=rec.ends, since=since):
            if (f.rule.id, f.on) in done_on or (as_of is not None and f.at <= as_of):
                continue
            facts = engine.facts(now, f.on)
            held = engine.applies(now, f) and engine.holds(f.rule, facts)
            upcoming.append(
                {
                    "on": f.on.isoformat(),
                    "action": _action(f.rule.action.kind.value, f.rule.action.to.value, f.rule.action.level),
                    "rule": f.rule.id,
                    "description": f.rule.description,
                    "would_fire": held,
                    "why": ""
                    if held
                    else f"{f.rule.when} is false on " + ", ".join(f"{k}={facts[k]}" for k in _read_by(f.rule, facts)),
                }
            )
    return {
        "obligation_id": obligation_id,
        "title": spec.title,
        "due": engine.due_date(now).isoformat(),
        "state": now.state.value,
        "progress": now.progress,
        "ruleset": f"{version.ruleset.id} v{version.ruleset.version} ({version.hash[:19]})"
        + (f", installed {version.since.astimezone(CST):%Y-%m-%d %H:%M}" if version.since else ", since launch"),
        "taken": taken,
        "closed": rec.closed,
        "as_of": as_of.astimezone(CST).strftime("%Y-%m-%d %H:%M") if as_of else None,
        "next": upcoming,
    }


def _rule(rec: Record, rule_id: str) -> Rule | None:
    for v in reversed(rec.versions):
        for r in v.ruleset.rules:
            if r.id == rule_id:
                return r
    return None


def _read_by(rule: Rule | None, facts: dict[str, Any]) -> list[str]:
    """The facts a rule's condition reads (all of them when it cannot be compiled here)."""
    if rule is None:
        return []
    if rule.when.strip() == "true":
        return []
    try:
        names = compile_condition(rule).variables()
    except ValueError:
        return sorted(facts)
    return [k for k in names if k in facts]
