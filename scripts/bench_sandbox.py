"""Benchmark: what building one workflow run's sandbox costs, per workflow type.

    .venv/bin/python scripts/bench_sandbox.py [--runs N] [--histories DIR]

The worker builds a fresh sandbox for every workflow run (the SDK imports the workflow's module
into it again); this times exactly that (`SandboxedWorkflowRunner.prepare_workflow`, which
builds an instance with placeholder info) and prints a Markdown table of medians. With
`--histories` (a rehearsal's `DIR/histories`), also the total for that rehearsal's runs: the
median per type times how many runs of the type its histories hold.

Run from any checkout: it imports `workflows` from the current directory, so
`cd OTHER && .venv/bin/python /path/to/scripts/bench_sandbox.py` measures OTHER's code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

import temporalio.workflow

import workflows


def runs_by_type(histories: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for f in histories.glob("*.json"):
        for e in json.loads(f.read_text(encoding="utf-8")).get("events", []):
            started = e.get("workflowExecutionStartedEventAttributes")
            if started:
                counts[started["workflowType"]["name"]] += 1
                break
    return counts


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--histories", type=Path)
    args = ap.parse_args()
    runner = workflows.sandbox()
    per: dict[str, float] = {}
    print("| workflow | median ms per sandbox |\n|---|---:|")
    for cls in [*workflows.WORKFLOWS, *workflows.REHEARSAL_WORKFLOWS]:
        defn = temporalio.workflow._Definition.must_from_class(cls)
        runner.prepare_workflow(defn)  # the first build also compiles what a cache would keep
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            runner.prepare_workflow(defn)
            times.append(time.perf_counter() - began)
        name = defn.name or cls.__name__
        per[name] = 1000 * statistics.median(times)
        print(f"| {name} | {per[name]:.1f} |")
    if args.histories:
        counts = runs_by_type(args.histories)
        total = sum(per.get(name, 0.0) * n for name, n in counts.items())
        print(f"\n{sum(counts.values())} runs in {args.histories}: {total / 1000:.2f} s of sandbox building")


if __name__ == "__main__":
    asyncio.run(main())
