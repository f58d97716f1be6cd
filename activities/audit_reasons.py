"""What `activities.audit_explain` reasons from: what a campaign pinned at launch, rebuilt from its
row, and the deadline arithmetic it re-derives for every firing (the facts a condition saw, the
working days counted, the reminders a rule would have fired that the record does not show).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from models.calendar import CalendarData
from models.obligation import Obligation, ObligationSpec, ObligationState
from models.ruleset import ActionKind, Rule, RuleSet, TriggerKind
from models.time import CST
from rules.calendar import WorkCalendar
from rules.engine import Engine, RuleError, describe_trigger

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def day(d: date) -> str:
    return f"{d.isoformat()} ({_WEEKDAYS[d.weekday()]})"


def short(h: str | None) -> str:
    if not h:
        return "-"
    algo, _, digest = h.rpartition(":")
    return f"{algo + ':' if algo else ''}{digest[:12]}…"


@dataclass(frozen=True)
class Step:
    """One audit row of an obligation, with the reasoning behind it."""

    seq: int | None
    """The chain row; None for a firing the rules scheduled that left no row."""
    plan_time: datetime
    kind: str
    actor: str
    text: str
    details: tuple[str, ...] = ()
    rule_id: str | None = None
    facts: dict[str, Any] | None = None
    progress: int = 0
    level: int = 0

    def lines(self) -> list[str]:
        where = f"#{self.seq}" if self.seq is not None else "(no row)"
        head = f"{self.plan_time.astimezone(CST):%Y-%m-%d %H:%M} {where} {self.text}"
        return [head, *(f"    {d}" for d in self.details)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "plan_time": self.plan_time.astimezone(CST).isoformat(),
            "kind": self.kind,
            "actor": self.actor,
            "text": self.text,
            "details": list(self.details),
            "rule": self.rule_id,
            "facts": self.facts,
        }


@dataclass
class Context:
    """What the campaign pinned at launch, rebuilt from its row."""

    campaign: Any
    ruleset: RuleSet | None
    calendar: WorkCalendar | None
    engine: Engine | None
    spec: ObligationSpec | None
    warnings: list[str] = field(default_factory=list)

    def rule(self, row: Any) -> Rule | None:
        if self.ruleset is None or row["ruleset_hash"] != self.campaign.ruleset_hash:
            return None
        return next((r for r in self.ruleset.rules if r.id == row["rule_id"]), None)


def _milestones(plan: Any) -> dict[str, date]:
    """The plan's milestone dates, as the campaign's engine had them (milestone rules count from them)."""
    out: dict[str, date] = {}
    for phase in (plan or {}).get("phases", []) if isinstance(plan, dict) else []:
        for m in phase.get("milestones", []) or []:
            if isinstance(m, dict) and "id" in m and "due" in m:
                out[str(m["id"])] = date.fromisoformat(str(m["due"]))
    return out


def pinned(campaign: Any, ob: Any) -> Context:
    warnings: list[str] = []
    ruleset: RuleSet | None = None
    calendar: WorkCalendar | None = None
    engine: Engine | None = None
    try:
        ruleset = RuleSet.model_validate(campaign.ruleset)
        if ruleset.digest() != campaign.ruleset_hash:
            warnings.append(f"the stored rule set hashes to {ruleset.digest()}, not its pinned {campaign.ruleset_hash}")
    except ValueError as e:
        warnings.append(f"the campaign's stored rule set does not load: {e}")
    try:
        data = CalendarData.model_validate(campaign.calendar)
        if data.digest() != campaign.calendar_hash:
            warnings.append(f"the stored calendar hashes to {data.digest()}, not its pinned {campaign.calendar_hash}")
        calendar = WorkCalendar(data)
    except ValueError as e:
        warnings.append(f"the campaign's stored calendar does not load: {e}")
    if ruleset is not None and calendar is not None:
        try:
            engine = Engine(ruleset, calendar, _milestones(campaign.plan))
        except RuleError as e:
            warnings.append(f"the stored rule set does not compile: {e}")
    spec = None
    if ob is not None:
        fields = set(ObligationSpec.model_fields)
        spec = ObligationSpec.model_validate({k: v for k, v in ob.items() if k in fields})
    return Context(campaign, ruleset, calendar, engine, spec, warnings)


def facts_seen(rule: Rule | None, facts: dict[str, Any]) -> list[str]:
    """The facts the condition names, in the order it names them, then the deadline's."""
    names: list[str] = []
    if rule is not None:
        found = [(m.start(), m.group()) for m in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", rule.when)]
        names = list(dict.fromkeys(n for _, n in sorted(found) if n in facts))
    overdue = rule is not None and rule.trigger.kind is TriggerKind.after_due
    for k in ("days_overdue",) if overdue else ("days_left",):
        if k not in names and k in facts:
            names.append(k)
    return names


def held(ctx: Context, rule: Rule | None, facts: dict[str, Any]) -> str:
    if ctx.engine is None or rule is None:
        return ""
    try:
        held = ctx.engine.holds(rule, facts)
    except (TypeError, RuntimeError, ValueError, ArithmeticError, LookupError) as e:
        return f" (the condition does not evaluate on them now: {e})"
    return " → condition true" if held else " → ⚠ the condition is FALSE on these facts"


def deadline(ctx: Context, r: Any, rule: Rule | None, payload: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    cal = ctx.calendar
    if cal is None or "due" not in payload:
        return []
    due = date.fromisoformat(payload["due"])
    on = r["plan_time"].astimezone(CST).date()
    out = []
    planned = ctx.spec.due if ctx.spec is not None else due
    if planned == due:
        out.append(f"due {day(due)}, a {cal.kind(due)}: not moved")
    else:
        rest = ", ".join(f"{d} {cal.kind(d)}" for d in _dates(planned, due - timedelta(days=1)))
        out.append(
            f"due {day(due)}: planned {day(planned)} is a rest day, moved to the next working day (skipped {rest})"
        )
    if ctx.engine is not None and ctx.spec is not None:
        pinned = ctx.engine.due_date(Obligation(spec=ctx.spec))
        if pinned != due:
            out.append(f"⚠ the pinned calendar puts the due date on {day(pinned)}")

    counted: list[str] = []
    skipped: list[str] = []
    days, head = _counted_days(ctx, rule, on, due)
    n = 0
    for d in days:
        k = cal.kind(d)
        if cal.is_working_day(d):
            n += 1
            counted.append(f"{d} ({n}{', 调休 make-up workday' if k == 'make-up workday' else ''})")
        else:
            skipped.append(f"{d} {k}")
    if rule is not None:
        head += f": {describe_trigger(rule.trigger)}"
    line = head
    if counted:
        line += "; counted " + ", ".join(counted)
    if skipped:
        line += "; skipped " + ", ".join(skipped)
    out.append(line)
    if (
        ctx.engine is not None
        and ctx.spec is not None
        and rule is not None
        and rule.trigger.kind is not TriggerKind.event
    ):
        expected = ctx.engine.fire_dates(rule, Obligation(spec=ctx.spec), until=on)
        if on not in expected:
            put = ", ".join(day(d) for d in expected) or "no date up to then"
            out.append(f"⚠ the pinned rule set and calendar put this firing on {put}")
    if "days_left" in facts:
        left = cal.working_days_between(on, due)
        if left != facts["days_left"]:
            out.append(f"⚠ the pinned calendar gives days_left={left}, the condition saw {facts['days_left']}")
    return out


def _counted_days(ctx: Context, rule: Rule | None, on: date, due: date) -> tuple[list[date], str]:
    """The days a firing's working-day count ran over, from the date its trigger counts from
    (the same anchors as rules.engine.Engine._dates), and how to say it."""
    kind = rule.trigger.kind if rule is not None else None
    cal = ctx.calendar
    assert cal is not None
    if kind is TriggerKind.event:
        return [], f"fired {day(on)}, when the event happened (no days counted)"
    if kind is TriggerKind.not_acknowledged and ctx.spec is not None:
        start = cal.on_or_after(ctx.spec.assigned)
        return _dates(start + timedelta(days=1), on), f"fired {day(on)}, counting from the assignment on {day(start)}"
    if kind is TriggerKind.milestone and rule is not None and ctx.engine is not None:
        name = rule.trigger.milestone or ""
        m = ctx.engine.milestones.get(name)
        if m is not None:
            return _dates(m + timedelta(days=1), on), f"fired {day(on)}, counting from the {name} milestone {day(m)}"
    if kind is TriggerKind.monthly:
        before = on.replace(day=1) - timedelta(days=1)
        return _dates(before + timedelta(days=1), on), f"fired {day(on)}, counting from the start of {on:%Y-%m}"
    if kind is TriggerKind.before_due or (kind is None and on <= due):
        # A rule before the due date counts back from it: the due date is day 0, the firing
        # date the last one counted (rules.calendar.WorkCalendar.shift).
        return list(reversed(_dates(on, due - timedelta(days=1)))), f"fired {day(on)}, counting back from the due date"
    return _dates(due + timedelta(days=1), on), f"fired {day(on)}, counting from the due date {day(due)}"


ACTED = ("reminder", "escalation", "listed", "rectification_order", "rectification_item", "notice_item")
"""The rows a rule's firing for the obligation leaves (an order or notice per unit leaves its
`…_item` row on each obligation it lists)."""


def not_acted(ctx: Context, steps: list[Step], until: datetime) -> list[Step]:
    """Firings the pinned rules schedule for the obligation up to `until` (the campaign's close,
    or its latest row while it runs) that left no row, each with the facts it would have seen,
    rebuilt from the rows before it."""
    assert ctx.engine is not None and ctx.spec is not None
    acted = {(s.rule_id, s.plan_time.astimezone(CST).date()) for s in steps if s.kind in ACTED}
    out = []
    for f in ctx.engine.firings(Obligation(spec=ctx.spec), until=until.astimezone(CST).date()):
        if (f.rule.id, f.on) in acted or f.at > until:
            continue
        before = [s for s in steps if s.seq is not None and s.plan_time < f.at]
        state, progress, last = ObligationState.assigned, 0, None
        for s in before:
            if s.kind.startswith("obligation."):
                state, progress, last = ObligationState(s.kind.split(".", 1)[1]), s.progress, s
        then = Obligation(
            spec=ctx.spec,
            state=state,
            progress=progress,
            reminders=sum(s.kind == "reminder" for s in before),
            escalation_level=max((s.level for s in before if s.kind == "escalation"), default=0),
        )
        facts = ctx.engine.facts(then, f.on)
        seen = ", ".join(f"{k}={facts[k]}" for k in facts_seen(f.rule, facts))
        since = f" (#{last.seq}, {last.plan_time.astimezone(CST):%Y-%m-%d %H:%M})" if last is not None else ""
        try:
            held = ctx.engine.holds(f.rule, facts)
        except (TypeError, RuntimeError, ValueError, ArithmeticError, LookupError) as e:
            held, why = None, f"its condition does not evaluate on the facts then: {e}"
        if held is False:
            why = f"its condition {f.rule.when} was false: the record shows {seen}{since}"
        elif held:
            why = (
                f"⚠ its condition {f.rule.when} held on the facts the record gives ({seen}), yet no action is recorded"
            )
        noun = "reminder" if f.rule.action.kind is ActionKind.remind else "escalation"
        text = f"no {noun}: rule {f.rule.id}「{f.rule.description}」 was scheduled and did not act"
        out.append(
            Step(
                seq=None,
                plan_time=f.at,
                kind="not acted",
                actor=f"rule:{f.rule.id}",
                text=text,
                details=(why,),
                rule_id=f.rule.id,
                facts=facts,
            )
        )
    return out


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
