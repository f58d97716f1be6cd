"""Replaying an obligation's recorded facts under a rule set: what would have fired, and when.

The same questions a unit workflow asks the engine, asked in the same order: scheduled firings
and recorded happenings (签收, 进展上报, 办结, 延期) merged on plan time, each firing judged on the
facts as they stood then, its own earlier actions included (times reminded, escalation level).
Run with the campaign's own rule set it gives back the recorded actions; with another one it
tells the office what a rule change would have done (`duban rules whatif`), and with a table of
made-up happenings it is a rule test (`duban rules test`). Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from models.obligation import Obligation, ObligationSpec, ObligationState
from models.payloads import FiredAction
from models.ruleset import ActionKind, Event
from models.time import CST, Clock
from rules.engine import Engine, Firing, act_on

NO_CLOCK = Clock()
"""Server times do not matter to a replay: plan time is what rules reason in."""


@dataclass(frozen=True, slots=True)
class Happening:
    """Something the record says happened to an obligation, at a plan time."""

    at: datetime
    state: ObligationState | None = None
    progress: int | None = None
    extended_due: date | None = None
    token: str = ""
    """Tells two events of one kind apart (the Update id): part of an event firing's key."""

    @property
    def events(self) -> list[Event]:
        out = []
        if self.state is ObligationState.acknowledged:
            out.append(Event.acknowledged)
        if self.state is ObligationState.in_progress:
            out.append(Event.progress_reported)
        if self.extended_due is not None:
            out.append(Event.extension_approved)
        return out


@dataclass(frozen=True, slots=True)
class Outcome:
    """An action as the office reads it: what, to whom, when, by which rule."""

    on: date
    kind: str  # remind | escalate | notice | rectify | bulletin
    role: str
    level: int
    rule_id: str
    facts: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def what(self) -> tuple[str, str, int]:
        return (self.kind, self.role, self.level)

    def label(self) -> str:
        names = {"remind": "催办", "escalate": "督办", "notice": "督办通知", "rectify": "责令整改", "bulletin": "通报"}
        level = f" L{self.level}" if self.level else ""
        return f"{self.on.isoformat()} {names.get(self.kind, self.kind)}{level} → {self.role} ({self.rule_id})"

    @classmethod
    def of(cls, a: FiredAction) -> list[Outcome]:
        """The outcomes of one action: an escalation that issues a notice is two."""
        kind = ActionKind(a.kind)
        on = a.plan_time.astimezone(CST).date()
        first = cls(on=on, kind=kind.value, role=a.role.value, level=a.level, rule_id=a.rule_id, facts=a.facts)
        if kind is ActionKind.escalate and a.notice:
            return [first, cls(on=on, kind="notice", role="unit", level=a.level, rule_id=a.rule_id, facts=a.facts)]
        return [first]


def replay(
    engine: Engine,
    spec: ObligationSpec,
    happenings: Iterable[Happening],
    *,
    until: date,
    since: datetime | None = None,
    office: str = "office",
    convener: str = "convener",
) -> list[FiredAction]:
    """Every action the engine takes for one obligation, given what happened to it."""
    ob = Obligation(spec=spec)
    pending = sorted(happenings, key=lambda h: h.at)
    fired: list[FiredAction] = []

    def act(f: Firing) -> None:
        # Through the wake-up's own step, so the what-if and the workflow cannot drift apart.
        fired.extend(act_on(engine, [(ob, f)], clock=NO_CLOCK, office=office, convener=convener))

    schedule = engine.firings(ob, until=until, since=since)
    while True:
        nxt = next((f for f in schedule if f.occurrence not in ob.fired), None)
        if pending and (nxt is None or pending[0].at < nxt.at):
            h = pending.pop(0)
            apply_happening(ob, h)
            if h.extended_due is not None:  # a new deadline: its firings from now on
                schedule = [f for f in engine.firings(ob, until=until, since=since) if f.at >= h.at]
            for e in h.events:
                for f in engine.on_event(e, h.at, h.token):
                    act(f)
            continue
        if nxt is None:
            break
        if not ob.done:
            act(nxt)
        else:
            ob.fired.append(nxt.occurrence)
    return fired


def apply_happening(ob: Obligation, h: Happening) -> None:
    if h.state is not None:
        if ob.acknowledged_at is None and h.state is not ObligationState.assigned:
            ob.acknowledged_at = h.at
        ob.state = h.state
        if h.state is ObligationState.completed:
            ob.completed_at = h.at
            ob.progress = 100
    if h.progress is not None:
        ob.progress = h.progress
    if h.extended_due is not None:
        ob.extended_due = h.extended_due
        ob.extensions += 1


@dataclass(frozen=True, slots=True)
class Difference:
    """How one obligation's actions differ between what happened and what would have."""

    obligation_id: str
    only_before: tuple[Outcome, ...]
    only_after: tuple[Outcome, ...]
    moved: tuple[tuple[Outcome, Outcome], ...]

    def lines(self) -> list[str]:
        out = [f"  - {o.label()}   would not happen" for o in self.only_before]
        out += [f"  + {o.label()}   would happen" for o in self.only_after]
        out += [f"  ~ {a.label()}   would move to {b.on.isoformat()} ({b.rule_id})" for a, b in self.moved]
        return out


def compare(obligation_id: str, before: list[Outcome], after: list[Outcome]) -> Difference | None:
    """Match the two lists by what was done to whom at which level: the same action on another
    day has moved; anything left over happens in one list only."""
    left = sorted(before, key=lambda o: (o.on, o.what))
    right = sorted(after, key=lambda o: (o.on, o.what))
    same = [o for o in left if o in right]
    for o in same:
        left.remove(o)
        right.remove(o)
    moved: list[tuple[Outcome, Outcome]] = []
    for o in list(left):
        twin = next((p for p in right if p.what == o.what), None)
        if twin is not None:
            moved.append((o, twin))
            left.remove(o)
            right.remove(twin)
    if not (left or right or moved):
        return None
    return Difference(obligation_id, tuple(left), tuple(right), tuple(moved))


def tally(outcomes: Iterable[Outcome]) -> dict[str, int]:
    out = {"remind": 0, "escalate": 0, "notice": 0, "rectify": 0, "bulletin": 0}
    for o in outcomes:
        out[o.kind] += 1
    return out
