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
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.obligation import Obligation, ObligationSpec, UnitRole  # noqa: E402
from models.plan import PhaseKind  # noqa: E402
from rules import calendar as cal  # noqa: E402
from rules.engine import Engine  # noqa: E402
from rules.loading import parse_ruleset  # noqa: E402

RULES = ROOT / "rules" / "rulesets" / "suixian-default.yaml"


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
    full, cel_only = [], []
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
        for facts in facts_all:
            for rule in ruleset.rules:
                engine.holds(rule, facts)
        cel_only.append(time.perf_counter() - t)
    n, r = len(obs), len(ruleset.rules)
    print(f"| what | obligations × rules | median of {a.runs} | all runs | obligation checks/s |")
    print("|---|---:|---:|---|---:|")
    for label, times in (("facts + every rule's condition", full), ("conditions alone (facts prebuilt)", cel_only)):
        m = statistics.median(times)
        print(f"| {label} | {n:,} × {r} | {m:.3f} s | {', '.join(f'{x:.3f}' for x in times)} | {n / m:,.0f} |")


if __name__ == "__main__":
    main()
