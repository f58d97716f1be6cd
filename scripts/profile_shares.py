"""Shares of a py-spy raw profile of a rehearsal (BENCHMARKS.md, "Where a 随县 rehearsal's time goes").

    .venv/bin/py-spy record -r 50 -s -f raw -o demo.raw -- .venv/bin/duban demo --out out/x
    .venv/bin/python scripts/profile_shares.py demo.raw [--rate 50]

Each stack goes to the first group below that matches it; idle waits (the thread pool's, the
event loop's `select`, the progress bar's refresh thread) are left out of the shares.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

IDLE = re.compile(
    r"(_worker \(concurrent/futures/thread.py:\d+\)|EpollSelector.select \(selectors.py:\d+\)"
    r"|Condition.wait \(threading.py:\d+\))$|rich/live.py"
)
GROUPS = (
    ("workflow tasks: the sandbox (re-imports, restrictions)", r"workflow_sandbox"),
    ("workflow tasks: workflow code and the SDK's workflow side", r"temporalio/worker/_workflow|;\w+ \(workflows/"),
    ("rendering papers", r"activities/documents/|render_"),
    ("startup: imports, database, servers", r"_find_and_load|start_time_skipping|pgserver|upgrade \(|alembic"),
    ("collecting, counting and saving the histories", r"collect \(activities/history|write_outputs|engine_cost"),
    ("SQLAlchemy / asyncpg", r"sqlalchemy/|asyncpg"),
    ("activities' own Python", r"\(activities/|\(rules/"),
    ("Temporal SDK: activity worker, converters, client", r"temporalio/"),
    ("pydantic elsewhere", r"pydantic"),
    ("native threads with no Python frame", r'^process \d+:"[^;]*$'),
    ("asyncio loop overhead and the rest", r"."),
)


def shares(path: Path) -> tuple[Counter[str], int, int]:
    groups: Counter[str] = Counter()
    busy = idle = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        if IDLE.search(stack):
            idle += n
            continue
        busy += n
        groups[next(name for name, rx in GROUPS if re.search(rx, stack))] += n
    return groups, busy, idle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw", type=Path, help="py-spy's raw output (-f raw)")
    ap.add_argument("--rate", type=float, default=50.0, help="the sampling rate py-spy ran at (-r)")
    args = ap.parse_args()
    groups, busy, idle = shares(args.raw)
    print("| where | CPU s sampled | share |\n|---|---:|---:|")
    for name, n in groups.most_common():
        print(f"| {name} | {n / args.rate:.1f} | {100 * n / busy:.0f} % |")
    print(f"busy {busy / args.rate:.1f} s sampled; idle waits left out {idle / args.rate:.1f} s")


if __name__ == "__main__":
    main()
