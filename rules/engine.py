"""The rule engine: given an obligation, a rule set and a calendar, what fires when, and why.

Pure and deterministic: the same obligation, rule set, calendar and milestones always give the
same firings at the same plan times; CEL conditions are compiled once per rule set and see only
the facts below. Workflows ask it and sleep; they never decide anything themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import cel

from models.obligation import Obligation, ObligationSpec
from models.payloads import FiredAction
from models.plan import Plan
from models.ruleset import ActionKind, DeadlineShift, Event, Role, Rule, RuleSet, Trigger, TriggerKind
from models.time import CST, Clock, at
from rules.calendar import WorkCalendar
from rules.wording import wording

FACTS: dict[str, Any] = {
    "state": "assigned",  # assigned | acknowledged | in_progress | completed
    "progress": 0,  # last reported percent
    "times_reminded": 0,
    "escalation_level": 0,
    "extensions": 0,  # approved 延期申请
    "role": "responsible",  # lead | responsible
    "unit_kind": "town",  # agency | town | farm | scenic_area
    "phase": "rollout",
    "task_no": 0,  # 0 for a phase duty
    "category": 0,
    "milestone": "",
    "days_left": 0,  # working days from today to the due date (negative once overdue)
    "days_overdue": 0,  # working days past the due date, 0 before it
    "days_since_assigned": 0,  # working days since the obligation was assigned (交办)
    "event": "",  # the event an event trigger fired on, "" otherwise
}
"""Every fact a condition may use, with a sample value of its type."""

_SAMPLES: tuple[dict[str, Any], ...] = (
    FACTS,
    {**FACTS, "state": "completed", "progress": 100, "days_left": -5, "days_overdue": 5, "event": "acknowledged"},
    {**FACTS, "times_reminded": 3, "escalation_level": 2, "extensions": 1, "task_no": 15, "category": 7},
)
"""Facts a condition is tried on when compiled: a type error hidden behind `&&` or `?:` shows
up on one of them rather than on the day the rule first fires."""


_DUE_FACTS = frozenset({"days_left", "days_overdue"})
_FROM_OBLIGATION: dict[str, Any] = {
    "state": lambda o: o.state.value,
    "progress": lambda o: o.progress,
    "times_reminded": lambda o: o.reminders,
    "escalation_level": lambda o: o.escalation_level,
    "extensions": lambda o: o.extensions,
    "role": lambda o: o.spec.role.value,
    "unit_kind": lambda o: o.spec.unit_kind,
    "phase": lambda o: o.spec.phase.value,
    "task_no": lambda o: o.spec.task_no or 0,
    "category": lambda o: o.spec.category or 0,
    "milestone": lambda o: o.spec.milestone or "",
}
"""How each fact `Obligation.facts_base` gives is read off an obligation, one at a time."""


class RuleError(ValueError):
    """A rule set that cannot run: bad CEL, an unknown fact, a type error, a role or milestone
    the plan does not have."""

    def __init__(self, rule_id: str, message: str, *, part: str = "when") -> None:
        super().__init__(f"rule {rule_id}: {message}")
        self.rule_id = rule_id
        self.part = part
        """Which part of the rule is wrong (`when`, `action`, `trigger`): the loader points at it."""


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule due to be considered for an obligation at a plan instant."""

    rule: Rule
    on: date
    at: datetime
    occurrence: str = field(default="")
    """What makes this firing one of a kind: `rule@date`, or `rule@event:token` for an event."""

    def __post_init__(self) -> None:
        if not self.occurrence:
            object.__setattr__(self, "occurrence", f"{self.rule.id}@{self.on.isoformat()}")


def compile_condition(rule: Rule) -> Any:
    try:
        program = cel.compile(rule.when)
    except ValueError as e:
        raise RuleError(rule.id, f"condition does not parse: {str(e).splitlines()[0]}") from None
    unknown = sorted(set(program.variables()) - set(FACTS))
    if unknown:
        raise RuleError(rule.id, f"condition uses unknown fact {unknown[0]!r} (known: {', '.join(FACTS)})")
    for sample in _SAMPLES:
        try:
            result = program.execute(dict(sample))
        except (TypeError, RuntimeError) as e:
            raise RuleError(rule.id, f"condition does not type-check: {e}") from None
        except (ArithmeticError, LookupError) as e:
            # e.g. `progress / times_reminded`: it fails on a fresh obligation, so it cannot run.
            raise RuleError(rule.id, f"condition fails on a fresh obligation's facts: {e}") from None
        if not isinstance(result, bool):
            raise RuleError(rule.id, f"condition must be true or false, not {type(result).__name__}")
    return program


def describe_trigger(t: Trigger) -> str:
    """A trigger in words, for explanations."""
    n = t.working_days
    days = f"{abs(n)} working day{'s' if abs(n) != 1 else ''}"
    k = t.kind
    if k is TriggerKind.before_due:
        return f"{days} before the due date" if n else "on the due date"
    if k is TriggerKind.after_due:
        return f"{days} after the due date" if n else "on the due date"
    if k is TriggerKind.at_due:
        return "on the due date"
    if k is TriggerKind.not_acknowledged:
        return f"not signed for {days} after assignment"
    if k is TriggerKind.monthly:
        return f"monthly, on the working day {n} of the month"
    if k is TriggerKind.milestone:
        where = "on" if not n else (f"{days} after" if n > 0 else f"{days} before")
        return f"{where} milestone {t.milestone}"
    return f"on the event {t.event}"


def check_against_plan(ruleset: RuleSet, plan: Plan) -> None:
    """What a rule set asks of the plan it runs: its roles and milestones must exist there."""
    milestones = {m.id for p in plan.phases for m in p.milestones}
    has = {Role.unit, Role.lead, Role.office} | ({Role.convener} if plan.joint_meeting.convener else set())
    for r in ruleset.rules:
        if r.action.to not in has:
            raise RuleError(r.id, f"acts on the {r.action.to}, which plan {plan.id} does not have", part="action")
        m = r.trigger.milestone
        if m is not None and m not in milestones:
            known = ", ".join(sorted(milestones)) or "none"
            raise RuleError(r.id, f"plan {plan.id} has no milestone {m!r} (it has: {known})", part="trigger")


class Engine:
    """A compiled rule set over a calendar and the plan's milestone dates."""

    def __init__(self, ruleset: RuleSet, calendar: WorkCalendar, milestones: Mapping[str, date] | None = None) -> None:
        self.ruleset = ruleset
        self.calendar = calendar
        self.milestones = dict(milestones or {})
        self._programs = {r.id: compile_condition(r) for r in ruleset.rules}
        # CEL converts every variable it is handed on each call: handing it only those a
        # condition reads is ~10x faster than the whole fact dict (BENCHMARKS.md).
        self._reads = {rid: tuple(p.variables()) for rid, p in self._programs.items()}
        # A condition of `true` needs no evaluation at all; most defaults share a few texts.
        self._always = {r.id for r in ruleset.rules if r.when.strip() == "true"}
        self._scheduled = tuple(r for r in ruleset.rules if r.trigger.kind is not TriggerKind.event)
        self._on_event: dict[Event, tuple[Rule, ...]] = {
            e: tuple(r for r in ruleset.rules if r.trigger.event is e) for e in Event
        }
        self._hhmm = ruleset.time_of_day
        self._ats: dict[date, datetime] = {}  # a day's firing instant, asked ~800 times per town

    # -- when --------------------------------------------------------------------------------------

    def due_date(self, ob: Obligation | ObligationSpec) -> date:
        """The effective deadline: a due date on a rest day moves as the rule set says (to the
        next working day unless it says otherwise); an approved extension replaces the plan's."""
        due = ob.due
        shift = self.ruleset.deadline_shift
        if shift is DeadlineShift.next_working_day:
            return self.calendar.on_or_after(due)
        if shift is DeadlineShift.previous_working_day and not self.calendar.is_working_day(due):
            return self.calendar.shift(due, -1)
        return due

    def fire_date(self, rule: Rule, ob: Obligation | ObligationSpec) -> date | None:
        """The first date a scheduled rule falls on, before checking it against the obligation's
        assignment (a reminder may fall before the work was even assigned)."""
        days = self._dates(rule, _obligation(ob), until=date.max)
        return days[0] if days else None

    def fire_dates(self, rule: Rule, ob: Obligation | ObligationSpec, *, until: date) -> list[date]:
        """The plan dates a scheduled rule fires on for an obligation: always working days."""
        o = _obligation(ob)
        return [d for d in self._dates(rule, o, until=until) if o.spec.assigned <= d <= until]

    def _dates(self, rule: Rule, ob: Obligation, *, until: date) -> list[date]:
        t = rule.trigger
        n = t.working_days
        cal = self.calendar
        k = t.kind
        if k is TriggerKind.before_due:
            days = [cal.shift(self.due_date(ob), -n)]
        elif k is TriggerKind.after_due:
            days = [cal.shift(self.due_date(ob), n)]
        elif k is TriggerKind.at_due:
            days = [cal.on_or_after(self.due_date(ob))]
        elif k is TriggerKind.not_acknowledged:
            days = [cal.shift(cal.on_or_after(ob.spec.assigned), n)]
        elif k is TriggerKind.milestone:
            m = self.milestones.get(t.milestone or "")
            days = [] if m is None else [cal.shift(m, n) if n else cal.on_or_after(m)]
        elif k is TriggerKind.monthly:
            days = []
            month = date(ob.spec.assigned.year, ob.spec.assigned.month, 1)
            # Unbounded (fire_date asks for the first only), a year past the due date is plenty.
            last = until if until < date.max else ob.due + timedelta(days=366)
            while month <= last:
                days.append(cal.shift(month - timedelta(days=1), n))
                month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        else:
            days = []
        return days

    def firings(self, ob: Obligation | ObligationSpec, *, until: date, since: datetime | None = None) -> list[Firing]:
        """Every scheduled firing of the rule set for an obligation, in plan-time order.

        Firings before the obligation was assigned, after `until` (the campaign's end) or before
        `since` (when this rule set was installed on a running campaign) are not scheduled.
        """
        o = _obligation(ob)
        out = [
            Firing(rule=rule, on=on, at=self._at(on))
            for rule in self._scheduled
            for on in self.fire_dates(rule, o, until=until)
        ]
        if since is not None:
            out = [f for f in out if f.at >= since]
        return sorted(out, key=lambda f: (f.at, f.rule.id))

    def _at(self, on: date) -> datetime:
        instant = self._ats.get(on)
        if instant is None:
            instant = self._ats[on] = at(on, self._hhmm)
        return instant

    def schedule(self, ob: Obligation | ObligationSpec, *, until: date) -> dict[date, tuple[Rule, ...]]:
        """The scheduled rules by the day they fall due: worked out once per obligation, so a
        wake-up only looks up today's."""
        out: dict[date, list[Rule]] = {}
        for f in self.firings(ob, until=until):
            out.setdefault(f.on, []).append(f.rule)
        return {d: tuple(rs) for d, rs in out.items()}

    def on_event(self, event: Event, when: datetime, token: str) -> list[Firing]:
        """The firings an event sets off at plan time `when`; `token` tells two events apart."""
        d = when.astimezone(CST).date()
        return [
            Firing(rule=r, on=d, at=when, occurrence=f"{r.id}@{event.value}:{token}") for r in self._on_event[event]
        ]

    # -- whether -----------------------------------------------------------------------------------

    def facts(self, ob: Obligation, on: date, event: str = "") -> dict[str, Any]:
        """Every fact about an obligation on a day: what an action records as having been seen."""
        cal = self.calendar
        left = cal.working_days_between(on, self.due_date(ob))
        since = cal.working_days_between(ob.spec.assigned, on)
        return {
            **ob.facts_base(),
            "days_left": left,
            "days_overdue": max(0, -left),
            "days_since_assigned": max(0, since),
            "event": event,
        }

    def check(self, ob: Obligation, on: date, rules: tuple[Rule, ...] | None = None, event: str = "") -> list[Rule]:
        """Which of the rules (all by default) hold for an obligation on a day: the hot path of a
        wake-up, so only the facts some condition reads are worked out (a calendar count is
        most of a check's cost, and most conditions read only `state`)."""
        rules = self.ruleset.rules if rules is None else rules
        if not rules:
            return []
        needed: set[str] = set()
        for r in rules:
            needed.update(self._reads[r.id])
        facts: dict[str, Any] = {k: _FROM_OBLIGATION[k](ob) for k in needed if k in _FROM_OBLIGATION}
        if needed:
            if needed & _DUE_FACTS:
                left = self.calendar.working_days_between(on, self.due_date(ob))
                facts["days_left"], facts["days_overdue"] = left, max(0, -left)
            if "days_since_assigned" in needed:
                facts["days_since_assigned"] = max(0, self.calendar.working_days_between(ob.spec.assigned, on))
            if "event" in needed:
                facts["event"] = event
        # Rules often share a condition (`state != "completed"`): evaluate each text once.
        seen: dict[str, bool] = {}
        out = []
        for r in rules:
            held = seen.get(r.when)
            if held is None:
                held = seen[r.when] = self.holds(r, facts)
            if held:
                out.append(r)
        return out

    def holds(self, rule: Rule, facts: dict[str, Any]) -> bool:
        if rule.id in self._always:
            return True
        return bool(self._programs[rule.id].execute({k: facts[k] for k in self._reads[rule.id]}))

    def applies(self, ob: Obligation, firing: Firing) -> bool:
        """What a trigger implies beyond its condition: a not-acknowledged reminder is moot once
        the unit has signed for it, and nothing fires for completed work but its own events."""
        if firing.rule.trigger.kind is TriggerKind.not_acknowledged:
            return ob.acknowledged_at is None
        return True

    # -- what --------------------------------------------------------------------------------------

    def act(
        self,
        ob: Obligation,
        firing: Firing,
        *,
        clock: Clock,
        office: str,
        convener: str,
    ) -> FiredAction | None:
        """The action a firing takes for an obligation now, or None when its condition is false."""
        event = firing.rule.trigger.event
        facts = self.facts(ob, firing.on, event.value if event else "")
        if not self.applies(ob, firing) or not self.holds(firing.rule, facts):
            return None
        spec = ob.spec
        action = firing.rule.action
        recipient = {
            Role.unit: spec.unit_id,
            # The lead unit's own obligation escalates past itself, to the office.
            Role.lead: spec.lead if spec.lead != spec.unit_id else office,
            Role.office: office,
            Role.convener: convener,
        }[action.to]
        due = self.due_date(ob)
        rectify_due = self.calendar.shift(firing.on, action.working_days) if action.working_days else None
        title, body = wording(action.kind, ob, facts, due, action.level, rectify_due)
        return FiredAction(
            key=f"{spec.id}#{firing.occurrence}",
            kind=action.kind,
            rule_id=firing.rule.id,
            obligation_id=spec.id,
            unit_id=spec.unit_id,
            recipient=recipient,
            role=action.to,
            level=action.level,
            notice=action.notice or action.kind is ActionKind.notice,
            title=title,
            body=body,
            due=due,
            rectify_due=rectify_due,
            channels=list(action.channels),
            plan_time=firing.at,
            server_time=clock.server_time(firing.at),
            facts=facts,
        )


def act_on(
    engine: Engine,
    due: Iterable[tuple[Obligation, Firing]],
    *,
    clock: Clock,
    office: str,
    convener: str,
) -> list[FiredAction]:
    """Every action of the firings due at a wake-up, in plan-time then obligation order, each
    left on its obligation (`fired`, and `took`) so a later firing of the same instant sees it:
    the unit workflow's wake-up and its look ahead (`rules.arming`) both go through here."""
    actions: list[FiredAction] = []
    for ob, f in sorted(due, key=lambda x: (x[1].at, x[0].id)):
        ob.fired.append(f.occurrence)
        action = engine.act(ob, f, clock=clock, office=office, convener=convener)
        if action is None:
            continue
        actions.append(action)
        took(ob, action)
    return actions


def took(ob: Obligation, action: FiredAction) -> None:
    """What an action leaves on its obligation, for the facts of later firings: the workflow
    and the what-if replay both count through here, so they cannot drift apart."""
    if action.kind is ActionKind.remind:
        ob.reminders += 1
    elif action.kind is ActionKind.escalate:
        ob.escalation_level = max(ob.escalation_level, action.level)
    ob.notices += int(action.notice)


def _obligation(ob: Obligation | ObligationSpec) -> Obligation:
    return ob if isinstance(ob, Obligation) else Obligation(spec=ob)
