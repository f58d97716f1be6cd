"""Benchmark: rule evaluation, obligation checks per second, for the default rule set.

    .venv/bin/python scripts/bench_rules.py [--towns N] [--runs N]

A province-sized set of obligations (N towns × the 随县 plan's 15 tasks × 2 milestones) is
checked on one day: for each obligation, the facts are built and every rule's compiled CEL
condition is evaluated, as a unit workflow does when it wakes. Side by side: the whole check
(`Engine.facts` + `Engine.holds` for every rule), and the CEL evaluations alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.obligation import Obligation, ObligationSpec, UnitRole  # noqa: E402
from models.plan import PhaseKind  # noqa: E402
from rules import calendar as cal  # noqa: E402
from rules.engine import Engine  # noqa: E402
from rules.loading import parse_ruleset  # noqa: E402

SWEEP = (date(2021, 12, 1), date(2022, 2, 28))
"""The busiest stretch: reminders, escalations and monthly listings for the 基础型 deadline."""
RULES = ROOT / "rules" / "rulesets" / "suixian-default.yaml"  # the shipped default: 9 rules


def obligations(towns: int) -> list[Obligation]:
    out = []
    for t in range(towns):
        for task in range(1, 16):
            for milestone, due in (("basic", date(2021, 12, 31)), ("model", date(2022, 6, 30))):
                spec = ObligationSpec(
                    id=f"p/rollout/town-{t:04d}/T{task:02d}-{milestone}",
                    phase=PhaseKind.rollout,
                    unit_id=f"town-{t:04d}",
                    unit_name=f"镇{t}",
                    unit_kind="town",
                    role=UnitRole.responsible,
                    task_no=task,
                    category=1 + task % 7,
                    milestone=milestone,
                    title=f"任务{task}",
                    lead="housing",
                    assigned=date(2021, 5, 1),
                    due=due,
                )
                out.append(Obligation(spec=spec, progress=(t * task) % 100))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--towns", type=int, default=500)  # 500 × 15 × 2 = 15,000 obligations
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    ruleset = parse_ruleset(RULES.read_text(encoding="utf-8"), path=str(RULES))
    engine = Engine(ruleset, cal.WorkCalendar(cal.build(range(2021, 2024))))
    obs = obligations(a.towns)
    on = date(2022, 1, 4)
    days = [d for d in (SWEEP[0] + timedelta(days=i) for i in range((SWEEP[1] - SWEEP[0]).days + 1))]
    days = [d for d in days if engine.calendar.is_working_day(d)]
    schedules = [engine.schedule(o, until=date(2022, 12, 31)) for o in obs]
    full, checks, sweeps, cel_only = [], [], [], []
    facts_all = [engine.facts(o, on) for o in obs]
    for _ in range(a.runs):
        t = time.perf_counter()
        fired = 0
        for o in obs:
            facts = engine.facts(o, on)
            for rule in ruleset.rules:
                fired += engine.holds(rule, facts)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        checked = 0
        for o in obs:
            checked += len(engine.check(o, on))
        checks.append(time.perf_counter() - t)
        assert checked == fired, (checked, fired)  # the fast path decides exactly as the full one
        t = time.perf_counter()
        due = 0
        for d in days:
            for o, sched in zip(obs, schedules, strict=True):
                due += len(engine.check(o, d, sched.get(d, ())))
        sweeps.append(time.perf_counter() - t)
        t = time.perf_counter()
        for facts in facts_all:
            for rule in ruleset.rules:
                engine.holds(rule, facts)
        cel_only.append(time.perf_counter() - t)
    n = len(obs)
    print(f"{len(obs):,} obligations, {len(ruleset.rules)} rules ({ruleset.id} v{ruleset.version}); the sweep:")
    print(f"{len(days)} working days {SWEEP[0]} … {SWEEP[1]}, {len(obs) * len(days):,} checks, {due:,} rules held")
    print()
    print(f"| what | checks | median of {a.runs} | all runs | obligation checks/s |")
    print("|---|---:|---:|---|---:|")
    rows = (
        ("wake-up sweep: each obligation each working day, today's rules only", sweeps, n * len(days)),
        ("`Engine.check` on 2022-01-04: every rule, only the facts read", checks, n),
        ("every fact + every rule's condition, on 2022-01-04", full, n),
        ("conditions alone (facts prebuilt)", cel_only, n),
    )
    for label, times, count in rows:
        m = statistics.median(times)
        print(f"| {label} | {count:,} | {m:.3f} s | {', '.join(f'{x:.3f}' for x in times)} | {count / m:,.0f} |")


if __name__ == "__main__":
    main()
