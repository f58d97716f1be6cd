"""Rule tests for the secretariat: a table of scenarios (an obligation, what happens to it, the
actions expected and their dates) run against a rule set (`duban rules test FILE SCENARIOS`).

A scenario file, YAML:

    calendar_years: [2021, 2022]        # optional
    milestones: {basic: 2021-12-31}     # for milestone triggers
    scenarios:
      - name: 逾期不办，逐级督办
        obligation: {assigned: 2021-05-06, due: 2021-12-31, unit_kind: town, task_no: 3}
        happens:                          # optional: what the unit does, in plan time
          - {at: 2021-12-20 10:00, state: acknowledged}
          - {at: 2021-12-27 10:00, state: in_progress, progress: 30}
        until: 2022-01-31                 # optional: the campaign's end (default: due + 60 days)
        expect:                           # the actions, in date order
          - {on: 2021-12-28, kind: remind, rule: remind-before-due}
          - {on: 2022-01-04, kind: escalate, to: lead, level: 1}
        exactly: true                     # default: nothing else may fire

Pure: the same replay the what-if uses (`rules.whatif.replay`), so a scenario that passes here
is what a unit workflow does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.obligation import ObligationSpec, ObligationState, UnitRole
from models.plan import PhaseKind
from models.time import CST, at
from rules.engine import Engine
from rules.loading import Path as Where
from rules.loading import SourceError, parse_yaml, validate
from rules.whatif import Happening, Outcome, replay


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioObligation(_Model):
    assigned: date
    due: date
    unit_kind: str = "town"
    role: UnitRole = UnitRole.responsible
    phase: PhaseKind = PhaseKind.rollout
    task_no: int = 1
    category: int = 1
    milestone: str | None = None
    unit: str = "unit"
    lead: str = "lead"


class Happens(_Model):
    at: datetime
    state: ObligationState | None = None
    progress: int | None = Field(default=None, ge=0, le=100)
    extended_due: date | None = None

    @field_validator("at", mode="before")
    @classmethod
    def _local(cls, v: Any) -> Any:
        if isinstance(v, str) and len(v) <= 16:  # "2021-12-20 10:00" is plan time, Asia/Shanghai
            return datetime.fromisoformat(v).replace(tzinfo=CST)
        if isinstance(v, date) and not isinstance(v, datetime):
            return at(v, "10:00")
        return v


class Expect(_Model):
    on: date
    kind: Literal["remind", "escalate", "notice", "rectify", "bulletin"]
    to: str | None = None
    level: int | None = None
    rule: str | None = None


class Scenario(_Model):
    name: str
    obligation: ScenarioObligation
    happens: tuple[Happens, ...] = ()
    until: date | None = None
    expect: tuple[Expect, ...] = ()
    exactly: bool = True


class ScenarioFile(_Model):
    calendar_years: tuple[int, ...] = ()
    milestones: dict[str, date] = Field(default_factory=dict)
    """The plan's milestone dates, for milestone triggers (e.g. basic: 2021-12-31)."""
    scenarios: tuple[Scenario, ...] = Field(min_length=1)


def parse_scenarios(text: str, *, path: str) -> tuple[ScenarioFile, dict[Where, int]]:
    data, lines = parse_yaml(text, path=path)
    if not isinstance(data, dict):
        raise SourceError(path, 1, "a scenario file is a mapping with a `scenarios:` list")
    return validate(ScenarioFile, data, path=path, lines=lines), lines


@dataclass(frozen=True)
class Result:
    name: str
    line: int
    passed: bool
    missing: tuple[Expect, ...]
    unexpected: tuple[Outcome, ...]
    got: tuple[Outcome, ...]

    def lines(self) -> list[str]:
        head = f"{'PASS' if self.passed else 'FAIL'}  {self.name}"
        out = [head]
        if not self.passed:
            for e in self.missing:
                what = " ".join(x for x in (e.kind, e.to or "", f"L{e.level}" if e.level else "", e.rule or "") if x)
                out.append(f"   expected {e.on.isoformat()} {what}: did not fire")
            for o in self.unexpected:
                out.append(f"   also fired: {o.label()}")
            if not self.got:
                out.append("   nothing fired")
        return out


def _matches(e: Expect, o: Outcome) -> bool:
    return (
        e.on == o.on
        and e.kind == o.kind
        and (e.to is None or e.to == o.role)
        and (e.level is None or e.level == o.level)
        and (e.rule is None or e.rule == o.rule_id)
    )


def run(engine: Engine, scenario: Scenario, *, line: int = 0) -> Result:
    ob = scenario.obligation
    spec = ObligationSpec(
        id=f"test/{ob.phase.value}/{ob.unit}/T{ob.task_no:02d}",
        phase=ob.phase,
        unit_id=ob.unit,
        unit_name=ob.unit,
        unit_kind=ob.unit_kind,
        role=ob.role,
        task_no=ob.task_no,
        category=ob.category,
        milestone=ob.milestone,
        title=scenario.name,
        lead=ob.lead,
        assigned=ob.assigned,
        due=ob.due,
    )
    happenings = [
        Happening(at=h.at, state=h.state, progress=h.progress, extended_due=h.extended_due, token=f"h{i}")
        for i, h in enumerate(scenario.happens)
    ]
    until = scenario.until or ob.due + timedelta(days=60)
    got = [o for a in replay(engine, spec, happenings, until=until) for o in Outcome.of(a)]
    left = list(got)
    missing = []
    for e in scenario.expect:
        hit = next((o for o in left if _matches(e, o)), None)
        if hit is None:
            missing.append(e)
        else:
            left.remove(hit)
    unexpected = tuple(left) if scenario.exactly else ()
    return Result(scenario.name, line, not missing and not unexpected, tuple(missing), unexpected, tuple(got))
