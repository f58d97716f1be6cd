"""The rule engine: given an obligation, a rule set and a calendar, what fires when, and why.

Pure and deterministic: the same obligation, rule set and calendar always give the same firings
at the same plan times; CEL conditions are compiled once per rule set and see only the facts
below. Workflows ask it and sleep; they never decide anything themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import cel

from models.obligation import Obligation, ObligationSpec
from models.payloads import FiredAction
from models.ruleset import ActionKind, Role, Rule, RuleSet, TriggerKind
from models.time import Clock, at
from rules.calendar import WorkCalendar

FACTS: dict[str, Any] = {
    "state": "assigned",  # assigned | acknowledged | in_progress | completed
    "progress": 0,  # last reported percent
    "times_reminded": 0,
    "escalation_level": 0,
    "role": "responsible",  # lead | responsible
    "unit_kind": "town",  # agency | town | farm | scenic_area
    "phase": "rollout",
    "task_no": 0,  # 0 for a phase duty
    "category": 0,
    "milestone": "",
    "days_left": 0,  # working days from today to the due date (negative once overdue)
    "days_overdue": 0,  # working days past the due date, 0 before it
}
"""Every fact a condition may use, with a sample value of its type."""


class RuleError(ValueError):
    """A rule set that cannot run: bad CEL, an unknown fact, a type error."""

    def __init__(self, rule_id: str, message: str) -> None:
        super().__init__(f"rule {rule_id}: {message}")
        self.rule_id = rule_id


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule due to be considered for an obligation at a plan instant."""

    rule: Rule
    on: date
    at: datetime

    @property
    def occurrence(self) -> str:
        return f"{self.rule.id}@{self.on.isoformat()}"


def _compile(rule: Rule) -> Any:
    try:
        program = cel.compile(rule.when)
    except ValueError as e:
        raise RuleError(rule.id, f"condition does not parse: {str(e).splitlines()[0]}") from None
    unknown = sorted(set(program.variables()) - set(FACTS))
    if unknown:
        raise RuleError(rule.id, f"condition uses unknown fact {unknown[0]!r} (known: {', '.join(FACTS)})")
    try:
        result = program.execute(dict(FACTS))
    except (TypeError, RuntimeError) as e:
        raise RuleError(rule.id, f"condition does not type-check: {e}") from None
    except (ArithmeticError, LookupError) as e:
        # e.g. `progress / times_reminded`: it fails on a fresh obligation, so it cannot run.
        raise RuleError(rule.id, f"condition fails on a fresh obligation's facts: {e}") from None
    if not isinstance(result, bool):
        raise RuleError(rule.id, f"condition must be true or false, not {type(result).__name__}")
    return program


class Engine:
    """A compiled rule set over a calendar."""

    def __init__(self, ruleset: RuleSet, calendar: WorkCalendar) -> None:
        self.ruleset = ruleset
        self.calendar = calendar
        self._programs = {r.id: _compile(r) for r in ruleset.rules}

    # -- when --------------------------------------------------------------------------------------

    def due_date(self, spec: ObligationSpec) -> date:
        """The effective deadline: a due date on a rest day moves to the next working day."""
        return self.calendar.on_or_after(spec.due)

    def fire_date(self, rule: Rule, spec: ObligationSpec) -> date:
        due = self.due_date(spec)
        t = rule.trigger
        if t.kind is TriggerKind.before_due:
            return self.calendar.shift(due, -t.working_days)
        if t.kind is TriggerKind.after_due:
            return self.calendar.shift(due, t.working_days)
        return due

    def firings(self, spec: ObligationSpec, *, until: date) -> list[Firing]:
        """Every firing of the rule set for an obligation, in plan-time order.

        Firings before the obligation was assigned (a reminder for work assigned on its due
        date) or after `until` (the campaign's end) are not scheduled.
        """
        out = []
        for rule in self.ruleset.rules:
            on = self.fire_date(rule, spec)
            if spec.assigned <= on <= until:
                out.append(Firing(rule=rule, on=on, at=at(on, self.ruleset.time_of_day)))
        return sorted(out, key=lambda f: f.at)

    # -- whether -----------------------------------------------------------------------------------

    def facts(self, ob: Obligation, on: date) -> dict[str, Any]:
        due = self.due_date(ob.spec)
        left = self.calendar.working_days_between(on, due)
        return {**ob.facts_base(), "days_left": left, "days_overdue": max(0, -left)}

    def holds(self, rule: Rule, facts: dict[str, Any]) -> bool:
        return bool(self._programs[rule.id].execute(facts))

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
        facts = self.facts(ob, firing.on)
        if not self.holds(firing.rule, facts):
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
        unit = spec.unit_name
        due = self.due_date(spec)
        if action.kind is ActionKind.remind:
            title = f"催办：{spec.title}"
            body = (
                f"{unit}：“{spec.title}”应于{due:%Y年%m月%d日}前完成，还有{facts['days_left']}个工作日，"
                "请抓紧办理并及时上报进展。"
            )
        else:
            title = f"督办（{action.level}级）：{unit} {spec.title}"
            body = (
                f"{unit}承担的“{spec.title}”应于{due:%Y年%m月%d日}前完成，现已逾期{facts['days_overdue']}个工作日"
                f"（当前状态：{ob.state.value}，进度{ob.progress}%），请督促落实。"
            )
        return FiredAction(
            key=f"{spec.id}#{firing.occurrence}",
            kind=action.kind,
            rule_id=firing.rule.id,
            obligation_id=spec.id,
            unit_id=spec.unit_id,
            recipient=recipient,
            role=action.to,
            level=action.level,
            notice=action.notice,
            title=title,
            body=body,
            due=due,
            plan_time=firing.at,
            server_time=clock.server_time(firing.at),
            facts=facts,
        )
